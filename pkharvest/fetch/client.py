"""HTTP client for NCBI E-utilities: ESearch (history server) and EFetch (batched, POST for long
ID lists), with a shared rate limiter, tenacity retries and record/replay.

HTTP is done with the standard library's ``urllib`` rather than ``Bio.Entrez.esearch/efetch``:
Biopython keeps the base URL, e-mail, tool and API key in module globals (``Entrez.email``,
``Entrez.base`` ...), which cannot differ per client and would leak between threads and tests, and
it does its own sleeping/retrying that we could neither configure nor record. Doing the request
ourselves keeps the rate limiter, the retry policy and record/replay under our control; the XML is
still parsed with ``Bio.Entrez`` (see :mod:`pkharvest.fetch.parse`).
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import http.client
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import tenacity

from pkharvest import __version__
from pkharvest.errors import FetchError, UsageError
from pkharvest.fetch.parse import (
    SearchResult,
    parse_esearch_xml,
    parse_pubmed_xml,
    pmid_summary,
)
from pkharvest.fetch.ratelimit import RateLimiter, shared_rate_limiter
from pkharvest.fetch.recording import Recorder, Replayer
from pkharvest.fulltext.jats import ParsedSet, normalise_pmcid, parse_pmc_xml
from pkharvest.records import Article

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_BASE_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
ENV_EUTILS_URL = "PKHARVEST_EUTILS_URL"
ENV_EMAIL = "NCBI_EMAIL"
ENV_API_KEY = "NCBI_API_KEY"
DEFAULT_TOOL = "pkharvest"
ESEARCH = "esearch.fcgi"
EFETCH = "efetch.fcgi"
DB = "pubmed"
DB_PMC = "pmc"
#: PMC full-text articles are large (100 kB to several MB of JATS each): fewer per request.
PMC_BATCH = 20
ENV_RETRY_ATTEMPTS = "PKHARVEST_RETRY_ATTEMPTS"
ENV_RETRY_MAX_WAIT = "PKHARVEST_RETRY_MAX_WAIT"
#: ESearch returns at most this many IDs per call (PubMed limit).
ESEARCH_PAGE_MAX = 10_000
#: NCBI asks for POST when a request carries more than about 200 UIDs.
POST_THRESHOLD = 200
#: An ESearch term longer than this once URL-encoded goes by POST: URLs of several kilobytes
#: are refused by servers and proxies on the way, and NCBI asks for POST for long requests.
ESEARCH_POST_CHARS = 2000
DATETYPES = ("edat", "pdat", "mdat", "crdt")
_DATE = re.compile(r"^\d{4}(/\d{1,2}(/\d{1,2})?)?$")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry a request that failed transiently (429, 5xx, timeout, connection reset,
    truncated/unparsable body). Waits grow exponentially from ``initial_wait`` up to ``max_wait``
    (the longest wait) with up to ``jitter`` seconds of random jitter; a server's
    ``Retry-After`` is honoured (capped at ``max_retry_after``).

    The default (10 attempts, waits 1, 2, 4, 8, 16 s then 30 s) keeps trying for about two and a
    half minutes, so a one-minute E-utilities outage does not end a search or a nightly refresh.
    :meth:`from_env` reads ``PKHARVEST_RETRY_ATTEMPTS`` and ``PKHARVEST_RETRY_MAX_WAIT`` (for
    cron jobs)."""

    max_attempts: int = 10
    initial_wait: float = 1.0
    max_wait: float = 30.0
    jitter: float = 1.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if min(self.initial_wait, self.max_wait, self.jitter, self.max_retry_after) < 0:
            raise ValueError("retry waits must be >= 0")

    @property
    def budget(self) -> float:
        """Seconds of back-off before giving up, jitter and Retry-After left out."""
        return sum(
            min(self.initial_wait * 2**i, self.max_wait) for i in range(self.max_attempts - 1)
        )

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, **overrides: float | int | None
    ) -> RetryPolicy:
        """The default policy with ``PKHARVEST_RETRY_ATTEMPTS`` (whole number >= 1) and
        ``PKHARVEST_RETRY_MAX_WAIT`` (seconds >= 0, the longest back-off; a server's
        ``Retry-After`` is still honoured up to ``max_retry_after``) applied; ``overrides``
        that are not None win (command-line options). A bad value raises :class:`UsageError`
        naming the variable."""
        env = os.environ if environ is None else environ
        values: dict[str, float | int] = {}
        raw = env.get(ENV_RETRY_ATTEMPTS, "").strip()
        if raw:
            try:
                values["max_attempts"] = int(raw)
            except ValueError:
                raise UsageError(
                    f"expected a whole number of attempts, got {raw!r}", field=ENV_RETRY_ATTEMPTS
                ) from None
            if values["max_attempts"] < 1:
                raise UsageError(f"must be >= 1, got {raw}", field=ENV_RETRY_ATTEMPTS)
        raw = env.get(ENV_RETRY_MAX_WAIT, "").strip()
        if raw:
            try:
                wait = float(raw)
            except ValueError:
                raise UsageError(
                    f"expected seconds, got {raw!r}", field=ENV_RETRY_MAX_WAIT
                ) from None
            if not wait >= 0 or wait == float("inf"):
                raise UsageError(f"must be >= 0 seconds, got {raw}", field=ENV_RETRY_MAX_WAIT)
            values["max_wait"] = wait
        values.update({k: v for k, v in overrides.items() if v is not None})
        base = cls()
        if "max_wait" in values:
            values.setdefault("initial_wait", min(base.initial_wait, float(values["max_wait"])))
            values.setdefault("jitter", min(base.jitter, float(values["max_wait"])))
        return replace(base, **values)  # type: ignore[arg-type]


class _Transient(Exception):
    """A failure worth retrying; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, what: str, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds())


def _format_date(value: str | _dt.date | None, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, _dt.date):
        return value.strftime("%Y/%m/%d")
    text = str(value).strip().replace("-", "/")
    if not _DATE.match(text):
        raise UsageError(
            f"expected a date as YYYY/MM/DD (or YYYY/MM, YYYY), got {value!r}", field=name
        )
    return text


class EutilsClient:
    """A client for PubMed via E-utilities.

    ``email``/``api_key`` default to the ``NCBI_EMAIL``/``NCBI_API_KEY`` environment variables and
    ``base_url`` to ``PKHARVEST_EUTILS_URL`` or NCBI's. ``record_dir`` keeps every raw response;
    ``replay_dir`` serves requests from such a recording only (no network, no rate limiting).
    ``rate_limiter`` defaults to the process-wide limiter (3 requests/s, 10 with an API key).
    """

    def __init__(
        self,
        base_url: str | None = None,
        email: str | None = None,
        api_key: str | None = None,
        tool: str = DEFAULT_TOOL,
        record_dir: str | os.PathLike[str] | None = None,
        replay_dir: str | os.PathLike[str] | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        rate_limiter: RateLimiter | None = None,
        post_threshold: int = POST_THRESHOLD,
    ) -> None:
        if record_dir is not None and replay_dir is not None:
            raise UsageError("use either --record or --replay, not both", field="replay")
        # Errors name the field (or environment variable) the value came from.
        url_field = "eutils_url" if base_url else ENV_EUTILS_URL
        url = base_url or os.environ.get(ENV_EUTILS_URL) or DEFAULT_BASE_URL
        try:
            parsed = urllib.parse.urlparse(url)
        except ValueError:  # e.g. "http://[bad" (an unclosed IPv6 bracket)
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"not an http(s) URL: {url!r}", field=url_field)
        self.base_url = url if url.endswith("/") else url + "/"
        self.email = email if email is not None else os.environ.get(ENV_EMAIL) or None
        self.api_key = api_key if api_key is not None else os.environ.get(ENV_API_KEY) or None
        self.tool = tool
        self.retry = retry or RetryPolicy.from_env()
        self.timeout = timeout
        self.rate_limiter = rate_limiter or shared_rate_limiter(self.api_key)
        self.post_threshold = post_threshold
        self.recorder = Recorder(record_dir) if record_dir is not None else None
        self.replayer = Replayer(replay_dir) if replay_dir is not None else None
        self.requests_made = 0  # HTTP attempts, retries included (for logs and tests)

    def __repr__(self) -> str:
        mode = "replay" if self.replayer else "record" if self.recorder else "live"
        return f"EutilsClient({self.base_url!r}, {mode}, {self.rate_limiter!r})"

    # ----------------------------------------------------------------------- transport

    def _credentials(self) -> dict[str, str]:
        creds = {"tool": self.tool}
        if self.email:
            creds["email"] = self.email
        if self.api_key:
            creds["api_key"] = self.api_key
        return creds

    def _http(self, endpoint: str, params: dict[str, str], post: bool) -> bytes:
        """One HTTP attempt. Raises :class:`_Transient` for retryable failures and
        :class:`FetchError` for permanent ones."""
        query = urllib.parse.urlencode({**params, **self._credentials()})
        url = self.base_url + endpoint
        headers = {"User-Agent": f"pkharvest/{__version__}"}
        if post:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            req = urllib.request.Request(
                url, data=query.encode("ascii"), headers=headers, method="POST"
            )
        else:
            req = urllib.request.Request(f"{url}?{query}", headers=headers, method="GET")
        self.rate_limiter.acquire()
        self.requests_made += 1
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            if status == 429 or 500 <= status < 600:
                hint = _retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
                raise _Transient(f"HTTP {status} {exc.reason}", hint) from exc
            try:
                detail = exc.read()[:300].decode("utf-8", "replace").strip()
            except Exception:  # the body of an error response is a courtesy only
                detail = ""
            raise FetchError(
                f"{endpoint}: HTTP {status} {exc.reason} from {url}"
                + (f": {detail}" if detail else "")
            ) from exc
        except TimeoutError as exc:
            raise _Transient(f"timed out after {self.timeout:g} s") from exc
        except http.client.IncompleteRead as exc:
            raise _Transient(
                f"truncated body ({len(exc.partial)} bytes read, {exc.expected} more expected)"
            ) from exc
        except (ConnectionError, http.client.HTTPException) as exc:
            raise _Transient(f"connection failed ({type(exc).__name__}: {exc})") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _Transient(f"timed out after {self.timeout:g} s") from exc
            raise _Transient(f"cannot connect to {url} ({exc.reason})") from exc
        except OSError as exc:
            raise _Transient(f"network error ({type(exc).__name__}: {exc})") from exc

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Exponential back-off with jitter (tenacity's ``wait_exponential`` + ``wait_random``,
        capped at ``max_wait``), or the server's ``Retry-After`` when that is longer."""
        p = self.retry
        backoff = tenacity.wait_exponential(multiplier=p.initial_wait, max=p.max_wait)(state)
        backoff = min(backoff + tenacity.wait_random(0, p.jitter)(state), p.max_wait)
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            return max(backoff, min(hint, p.max_retry_after))
        return backoff

    def _request(
        self,
        endpoint: str,
        params: dict[str, str],
        parse: Callable[[bytes], T],
        *,
        post: bool = False,
        pmids: Sequence[str] | None = None,
        what: str | None = None,
    ) -> T:
        """Send (or replay) one request and parse it, retrying transient failures."""
        if self.replayer is not None:
            return parse(self.replayer.load(endpoint, params))

        def attempt() -> T:
            body = self._http(endpoint, params, post)
            try:
                value = parse(body)
            except FetchError as exc:
                raise _Transient(f"bad response body: {exc}") from exc
            if self.recorder is not None:
                self.recorder.save(endpoint, params, body)
            return value

        def log_retry(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            logger.warning(
                "%s attempt %d failed: %s; retrying in %.2f s",
                endpoint,
                state.attempt_number,
                exc,
                wait,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Transient),
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Transient as exc:
            which = f" for {pmid_summary(pmids)}" if pmids is not None else ""
            if what is not None:
                which = f" for {what}"
            raise FetchError(
                f"{endpoint}{which} failed after {self.retry.max_attempts} attempt(s) "
                f"at {self.base_url}: {exc.what}"
            ) from exc

    # ------------------------------------------------------------------------ ESearch

    def search(
        self,
        query: str,
        max_results: int,
        mindate: str | _dt.date | None = None,
        maxdate: str | _dt.date | None = None,
        datetype: str = "edat",
        *,
        page_size: int = ESEARCH_PAGE_MAX,
    ) -> SearchResult:
        """Run an ESearch on PubMed with the history server and collect up to ``max_results``
        PMIDs. ``mindate``/``maxdate`` (``YYYY/MM/DD``, ``YYYY/MM``, ``YYYY`` or a ``date``)
        filter on ``datetype`` (``edat`` = Entrez date, ``pdat`` = publication date, ``mdat``,
        ``crdt``); a missing ``maxdate`` means "up to now" (NCBI needs both, so ``3000`` is
        sent)."""
        if not query or not query.strip():
            raise UsageError("the PubMed query is empty", field="query")
        if max_results < 1:
            raise UsageError(f"must be >= 1, got {max_results}", field="max_results")
        if datetype not in DATETYPES:
            raise UsageError(
                f"must be one of {', '.join(DATETYPES)}, got {datetype!r}", field="datetype"
            )
        if not 1 <= page_size <= ESEARCH_PAGE_MAX:
            raise UsageError(f"must be in 1..{ESEARCH_PAGE_MAX}", field="page_size")
        lo = _format_date(mindate, "mindate")
        hi = _format_date(maxdate, "maxdate")
        base: dict[str, str] = {"db": DB, "term": query.strip(), "usehistory": "y"}
        post = len(urllib.parse.quote_plus(base["term"])) > ESEARCH_POST_CHARS
        if lo or hi:
            base.update(datetype=datetype, mindate=lo or "1800", maxdate=hi or "3000")

        pmids: list[str] = []
        first: SearchResult | None = None
        retstart = 0
        while True:
            params = {
                **base,
                "retstart": str(retstart),
                "retmax": str(min(page_size, max_results - len(pmids))),
            }
            if first is not None and first.webenv:
                params["WebEnv"] = first.webenv
            page = self._request(ESEARCH, params, parse_esearch_xml, post=post)
            if first is None:
                first = page
            pmids.extend(page.pmids)
            retstart += len(page.pmids)
            if not page.pmids or len(pmids) >= min(max_results, page.count):
                break
        pmids = list(dict.fromkeys(pmids))[:max_results]
        logger.info("esearch %r: %d hits, %d PMIDs collected", query, first.count, len(pmids))
        return replace(first, pmids=tuple(pmids), params=base)

    # ------------------------------------------------------------------------- EFetch

    def fetch_articles(
        self, source: Sequence[str] | SearchResult, batch_size: int = 200
    ) -> Iterator[list[Article]]:
        """Yield parsed articles batch by batch. ``source`` is a list of PMIDs (sent with POST
        when a batch has more than ``post_threshold`` IDs) or a :class:`SearchResult` with a
        history handle (EFetch by ``WebEnv``/``query_key`` + ``retstart``/``retmax`` over the
        PMIDs the search collected). PMIDs that PubMed no longer returns are logged and
        skipped; a batch that keeps failing raises :class:`FetchError` naming its PMIDs."""
        if not 1 <= batch_size <= ESEARCH_PAGE_MAX:
            raise UsageError(
                f"must be in 1..{ESEARCH_PAGE_MAX}, got {batch_size}", field="batch_size"
            )
        if isinstance(source, SearchResult) and source.webenv and source.query_key:
            yield from self._fetch_history(source, batch_size)
            return
        ids = source.pmids if isinstance(source, SearchResult) else source
        if isinstance(ids, str):
            raise UsageError("expected a list of PMIDs, got a single string", field="pmids")
        clean = list(dict.fromkeys(str(p).strip() for p in ids if str(p).strip()))
        bad = [p for p in clean if not p.isdigit()]
        if bad:
            raise UsageError(f"not PubMed IDs: {', '.join(bad[:5])}", field="pmids")
        for i in range(0, len(clean), batch_size):
            batch = clean[i : i + batch_size]
            params = {"db": DB, "retmode": "xml", "id": ",".join(batch)}
            yield self._efetch(params, batch, post=len(batch) > self.post_threshold)

    def _fetch_history(self, result: SearchResult, batch_size: int) -> Iterator[list[Article]]:
        total = len(result.pmids) if result.pmids else result.count
        for start in range(0, total, batch_size):
            n = min(batch_size, total - start)
            expected = list(result.pmids[start : start + n])
            params = {
                "db": DB,
                "retmode": "xml",
                "WebEnv": str(result.webenv),
                "query_key": str(result.query_key),
                "retstart": str(start),
                "retmax": str(n),
            }
            yield self._efetch(params, expected or [f"#{start + 1}-{start + n} of history"])

    def _efetch(
        self, params: dict[str, str], pmids: list[str], post: bool = False
    ) -> list[Article]:
        t0 = time.perf_counter()
        articles = self._request(
            EFETCH, params, lambda body: parse_pubmed_xml(body, pmids), post=post, pmids=pmids
        )
        got = {a.pmid for a in articles}
        missing = [p for p in pmids if p.isdigit() and p not in got]
        if missing:
            logger.warning(
                "efetch: %d PMID(s) not returned (deleted or books): %s",
                len(missing),
                ", ".join(missing[:10]),
            )
        logger.info("efetch: %d articles in %.2f s", len(articles), time.perf_counter() - t0)
        return articles

    # --------------------------------------------------------------- EFetch db=pmc

    def fetch_fulltext(
        self, pmcids: Sequence[str], batch_size: int = PMC_BATCH
    ) -> Iterator[ParsedSet]:
        """Yield the JATS full text of ``pmcids`` ("PMC123" or "123") batch by batch (EFetch
        ``db=pmc``), with the same rate limiter, retries and record/replay as PubMed. A
        response that is not XML is retried like any bad body; an article that cannot be read
        comes back in ``ParsedSet.errors``; ids PMC does not return are logged."""
        if not 1 <= batch_size <= ESEARCH_PAGE_MAX:
            raise UsageError(
                f"must be in 1..{ESEARCH_PAGE_MAX}, got {batch_size}", field="batch_size"
            )
        if isinstance(pmcids, str):
            raise UsageError("expected a list of PMC ids, got a single string", field="pmcids")
        clean: list[str] = []
        for raw in pmcids:
            try:
                clean.append(normalise_pmcid(raw))
            except ValueError as exc:
                raise UsageError(str(exc), field="pmcids") from None
        clean = list(dict.fromkeys(clean))
        for i in range(0, len(clean), batch_size):
            batch = clean[i : i + batch_size]
            params = {"db": DB_PMC, "retmode": "xml", "id": ",".join(p[3:] for p in batch)}
            shown = ", ".join(batch[:10]) + (
                f" and {len(batch) - 10} more" if len(batch) > 10 else ""
            )
            t0 = time.perf_counter()
            parsed = self._request(
                EFETCH,
                params,
                parse_pmc_xml,
                post=len(batch) > self.post_threshold,
                what=f"{DB_PMC} {shown}",
            )
            got = {a.pmcid for a in parsed.articles} | {e[0] for e in parsed.errors}
            missing = [p for p in batch if p not in got]
            if missing:
                logger.warning(
                    "efetch db=pmc: %d id(s) not returned: %s", len(missing), ", ".join(missing)
                )
            logger.info(
                "efetch db=pmc: %d articles in %.2f s",
                len(parsed.articles),
                time.perf_counter() - t0,
            )
            yield parsed
