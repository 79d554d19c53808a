"""A loopback stand-in for NCBI E-utilities (ESearch + EFetch on PubMed) for tests.

Real HTTP on 127.0.0.1 (port 0) from a background thread, serving an in-memory set of articles
that the test builds::

    from pkharvest.testing.eutils_server import EutilsServer, make_article

    arts = [make_article("101", title="Midazolam PK in neonates", sentences=["CL was 1 L/h."],
                         date="2021/03/04", chemicals=["Midazolam"])]
    with EutilsServer(arts) as server:
        client = EutilsClient(base_url=server.url, ...)
        ...
        assert server.count("efetch") == 1

or the tests' ``eutils_server`` fixture (tests/conftest.py), which yields a started, empty
server (``server.add(*articles)``).

What it implements: ESearch (``term`` matched as AND of words against title, abstract, chemicals
and MeSH, results newest PMID first; ``usehistory=y`` with ``WebEnv``/``QueryKey``; ``retstart``/
``retmax``; ``mindate``/``maxdate`` filtering on each article's ``date`` for any ``datetype``) and
EFetch (GET or POST; by ``id`` list or by ``WebEnv``/``query_key`` + ``retstart``/``retmax``;
``retmode=xml`` only). EFetch ``db=pmc`` by ``id`` list serves each article's ``jats`` (a JATS
``<article>`` element as text) for its ``pmcid``; an article with a ``pmcid`` and no ``jats`` is
answered as PMC answers outside the open-access subset (front matter and the comment "The
publisher of this article does not allow downloading of the full text in XML form."). Every
request is recorded in ``server.requests``.

Fault modes (``fail_next`` for scripted faults, ``random_faults`` for a seeded fault rate):
``"429"`` (with ``Retry-After``), ``"500"``, ``"503"``, ``"slow"`` (sleeps ``slow_seconds`` before
answering: set it beyond the client's timeout), ``"cut"`` (``Content-Length`` promises more than is
sent, then the connection closes), ``"truncated"`` (a complete HTTP response whose XML is cut in
half), ``"empty"`` (200 with an empty body) and ``"reset"`` (connection closed without a response).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import re
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

FAULT_KINDS = ("429", "500", "503", "slow", "cut", "truncated", "empty", "reset")
PUBMED_DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)
ESEARCH_DOCTYPE = (
    '<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">'
)
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


# ------------------------------------------------------------------------------ articles


@dataclass
class FakeArticle:
    """An article the stand-in serves. ``sections`` (label, text) pairs win over ``sentences``
    (an unlabelled abstract, joined with spaces); with neither there is no ``<Abstract>``.
    Text is XML-escaped unless ``raw_xml`` is true, in which case title and abstract text are
    inserted verbatim (to test inline markup like ``<i>``/``<sup>`` and entities)."""

    pmid: str
    title: str = "A pharmacokinetic study."
    sentences: Sequence[str] = ()
    sections: Sequence[tuple[str | None, str]] = ()
    date: dt.date = dt.date(2020, 1, 15)
    journal: str = "Journal of Loopback Pharmacokinetics"
    chemicals: Sequence[str] = ()
    mesh: Sequence[str] = ()
    doi: str | None = None
    pmcid: str | None = None
    publication_types: Sequence[str] = ("Journal Article",)
    language: str = "eng"
    medline_date: str | None = None  # e.g. "1998 Dec-1999 Jan": replaces PubDate Year/Month
    raw_xml: bool = False
    book: bool = False  # serve as a PubmedBookArticle
    jats: str | None = None  # the <article> served by EFetch db=pmc for ``pmcid``

    def _t(self, text: str) -> str:
        return text if self.raw_xml else escape(text)

    def abstract_xml(self) -> str:
        if self.sections:
            parts = []
            for label, text in self.sections:
                attr = f' Label="{escape(label)}"' if label else ""
                parts.append(f"<AbstractText{attr}>{self._t(text)}</AbstractText>")
            return "<Abstract>" + "".join(parts) + "</Abstract>"
        if self.sentences:
            text = self._t(" ".join(self.sentences))
            return f"<Abstract><AbstractText>{text}</AbstractText></Abstract>"
        return ""

    def plain_text(self) -> str:
        body = " ".join(t for _, t in self.sections) if self.sections else " ".join(self.sentences)
        return re.sub(r"<[^>]+>", "", f"{self.title} {body}")

    def to_xml(self) -> str:
        if self.book:
            return self._book_xml()
        d = self.date
        if self.medline_date:
            pub_date = f"<MedlineDate>{escape(self.medline_date)}</MedlineDate>"
        else:
            pub_date = f"<Year>{d.year}</Year><Month>{_MONTHS[d.month - 1]}</Month>"
        eloc = (
            f'<ELocationID EIdType="doi" ValidYN="Y">{escape(self.doi)}</ELocationID>'
            if self.doi
            else ""
        )
        ptypes = "".join(
            f'<PublicationType UI="D016428">{escape(p)}</PublicationType>'
            for p in self.publication_types
        )
        chems = ""
        if self.chemicals:
            chems = (
                "<ChemicalList>"
                + "".join(
                    "<Chemical><RegistryNumber>0</RegistryNumber>"
                    f'<NameOfSubstance UI="D000000">{escape(c)}</NameOfSubstance></Chemical>'
                    for c in self.chemicals
                )
                + "</ChemicalList>"
            )
        mesh = ""
        if self.mesh:
            mesh = (
                "<MeshHeadingList>"
                + "".join(
                    '<MeshHeading><DescriptorName UI="D000000" MajorTopicYN="N">'
                    f"{escape(m)}</DescriptorName></MeshHeading>"
                    for m in self.mesh
                )
                + "</MeshHeadingList>"
            )
        ids = f'<ArticleId IdType="pubmed">{self.pmid}</ArticleId>'
        if self.doi:
            ids += f'<ArticleId IdType="doi">{escape(self.doi)}</ArticleId>'
        if self.pmcid:
            ids += f'<ArticleId IdType="pmc">{escape(self.pmcid)}</ArticleId>'
        return (
            '<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
            f'<PMID Version="1">{self.pmid}</PMID>'
            f"<DateRevised><Year>{d.year}</Year><Month>{d.month:02d}</Month>"
            f"<Day>{d.day:02d}</Day></DateRevised>"
            '<Article PubModel="Print">'
            '<Journal><ISSN IssnType="Print">0000-0000</ISSN>'
            f'<JournalIssue CitedMedium="Print"><Volume>1</Volume><PubDate>{pub_date}</PubDate>'
            f"</JournalIssue><Title>{escape(self.journal)}</Title></Journal>"
            f"<ArticleTitle>{self._t(self.title)}</ArticleTitle>"
            f"{eloc}{self.abstract_xml()}"
            f"<Language>{escape(self.language)}</Language>"
            f"<PublicationTypeList>{ptypes}</PublicationTypeList>"
            "</Article>"
            "<MedlineJournalInfo><Country>England</Country><MedlineTA>J Loopback PK</MedlineTA>"
            "<NlmUniqueID>0</NlmUniqueID></MedlineJournalInfo>"
            f"{chems}{mesh}"
            "</MedlineCitation>"
            "<PubmedData><History>"
            f'<PubMedPubDate PubStatus="entrez"><Year>{d.year}</Year><Month>{d.month}</Month>'
            f"<Day>{d.day}</Day></PubMedPubDate></History>"
            f"<PublicationStatus>ppublish</PublicationStatus><ArticleIdList>{ids}</ArticleIdList>"
            "</PubmedData></PubmedArticle>"
        )

    def _book_xml(self) -> str:
        return (
            "<PubmedBookArticle><BookDocument>"
            f'<PMID Version="1">{self.pmid}</PMID>'
            f'<ArticleIdList><ArticleId IdType="bookaccession">NBK{self.pmid}</ArticleId>'
            "</ArticleIdList>"
            f"<Book><Publisher><PublisherName>Loopback Press</PublisherName></Publisher>"
            f"<BookTitle>{escape(self.title)}</BookTitle>"
            f"<PubDate><Year>{self.date.year}</Year></PubDate></Book>"
            f"{self.abstract_xml()}"
            "</BookDocument><PubmedBookData><History>"
            f'<PubMedPubDate PubStatus="entrez"><Year>{self.date.year}</Year>'
            f"<Month>{self.date.month}</Month><Day>{self.date.day}</Day></PubMedPubDate>"
            "</History><PublicationStatus>ppublish</PublicationStatus>"
            f'<ArticleIdList><ArticleId IdType="pubmed">{self.pmid}</ArticleId></ArticleIdList>'
            "</PubmedBookData></PubmedBookArticle>"
        )


def _to_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value
    y, m, d = [*map(int, re.split(r"[/-]", value)), 1, 1][:3]
    return dt.date(y, m, d)


def make_article(
    pmid: str | int,
    title: str = "A pharmacokinetic study.",
    sentences: Sequence[str] = (),
    date: str | dt.date = "2020/01/15",
    chemicals: Sequence[str] = (),
    **kwargs: object,
) -> FakeArticle:
    """Build a :class:`FakeArticle`; ``date`` as ``YYYY/MM/DD`` (or a ``date``); any other
    :class:`FakeArticle` field as a keyword (``sections``, ``mesh``, ``doi``, ``pmcid``...)."""
    return FakeArticle(
        pmid=str(pmid),
        title=title,
        sentences=tuple(sentences),
        date=_to_date(date),
        chemicals=tuple(chemicals),
        **kwargs,  # type: ignore[arg-type]
    )


def pubmed_xml(articles: Iterable[FakeArticle]) -> bytes:
    """A complete EFetch ``PubmedArticleSet`` document for ``articles``."""
    body = "\n".join(a.to_xml() for a in articles)
    return (
        f'<?xml version="1.0" ?>\n{PUBMED_DOCTYPE}\n<PubmedArticleSet>\n{body}\n'
        "</PubmedArticleSet>\n"
    ).encode()


PMC_DOCTYPE = (
    '<!DOCTYPE pmc-articleset PUBLIC "-//NLM//DTD ARTICLE SET 2.0//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pmc/articleset/nlm-articleset-2.0.dtd">'
)
WITHHELD_COMMENT = (
    "<!--The publisher of this article does not allow downloading of the full text in XML form.-->"
)


def _pmc_digits(value: str) -> str:
    text = value.strip()
    return text[3:] if text.upper().startswith("PMC") else text


def pmc_article_xml(article: FakeArticle) -> str:
    """The JATS ``<article>`` EFetch db=pmc answers for ``article`` (its ``jats``, or front
    matter with the not-open-access comment)."""
    if article.jats is not None:
        return article.jats
    return (
        '<article article-type="research-article"><front><article-meta>'
        f'<article-id pub-id-type="pmid">{article.pmid}</article-id>'
        f'<article-id pub-id-type="pmc">{_pmc_digits(article.pmcid or "")}</article-id>'
        f"<title-group><article-title>{escape(article.title)}</article-title></title-group>"
        f"</article-meta></front>{WITHHELD_COMMENT}</article>"
    )


def pmc_xml(articles: Iterable[FakeArticle]) -> bytes:
    """A complete EFetch db=pmc ``pmc-articleset`` document for ``articles``."""
    body = "\n".join(pmc_article_xml(a) for a in articles)
    return (
        f'<?xml version="1.0" ?>\n{PMC_DOCTYPE}\n<pmc-articleset>{body}</pmc-articleset>\n'
    ).encode()


def esearch_xml(
    count: int,
    ids: Sequence[str],
    retstart: int,
    webenv: str | None = None,
    query_key: int | None = None,
) -> bytes:
    hist = f"<QueryKey>{query_key}</QueryKey><WebEnv>{webenv}</WebEnv>" if webenv else ""
    id_list = "".join(f"<Id>{i}</Id>" for i in ids)
    return (
        f'<?xml version="1.0" encoding="UTF-8" ?>\n{ESEARCH_DOCTYPE}\n'
        f"<eSearchResult><Count>{count}</Count><RetMax>{len(ids)}</RetMax>"
        f"<RetStart>{retstart}</RetStart>{hist}<IdList>{id_list}</IdList>"
        "<TranslationSet/><QueryTranslation>loopback</QueryTranslation></eSearchResult>\n"
    ).encode()


# --------------------------------------------------------------------------------- server


@dataclass(frozen=True)
class SeenRequest:
    method: str
    endpoint: str  # "esearch" or "efetch" (or the raw path for anything else)
    params: dict[str, str]
    fault: str | None = None


@dataclass
class _Fault:
    kind: str
    endpoint: str | None = None
    retry_after: float | None = None


@dataclass
class _State:
    articles: dict[str, FakeArticle] = field(default_factory=dict)
    histories: dict[str, list[list[str]]] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    faults: deque[_Fault] = field(default_factory=deque)
    random_rate: float = 0.0
    random_kinds: tuple[str, ...] = ()
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    slow_seconds: float = 2.0
    retry_after: float = 1.0
    lock: threading.Lock = field(default_factory=threading.Lock)


_STOP = {"and", "or", "not"}


def _query_words(term: str) -> list[str]:
    term = re.sub(r"\[[^\]]*\]", " ", term.lower())
    words = re.findall(r"[\w\-]+", term)
    return [w for w in words if w not in _STOP and w != "all"]


def _bound(value: str, upper: bool) -> dt.date:
    parts = [int(p) for p in re.split(r"[/-]", value.strip()) if p]
    if not parts:
        raise ValueError(value)
    y = parts[0]
    if y >= 3000:
        return dt.date.max
    m = parts[1] if len(parts) > 1 else (12 if upper else 1)
    if len(parts) > 2:
        return dt.date(y, m, parts[2])
    if not upper:
        return dt.date(y, m, 1)
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean; requests are recorded in server.requests

    def handle(self) -> None:
        # the client may give up first (slow/cut fault modes): nothing left to answer then
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def do_GET(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        self._dispatch(parsed.path, urllib.parse.parse_qs(parsed.query, keep_blank_values=True))

    def do_POST(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        params = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items():
            params.setdefault(k, []).extend(v)
        self._dispatch(parsed.path, params)

    # ------------------------------------------------------------------ plumbing
    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        ctype = "text/xml; charset=UTF-8" if status == 200 else "text/plain; charset=UTF-8"
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _pick_fault(self, endpoint: str) -> _Fault | None:
        st = self.server.state
        with st.lock:
            for f in list(st.faults):
                if f.endpoint in (None, endpoint):
                    st.faults.remove(f)
                    return f
            if st.random_rate and st.rng.random() < st.random_rate:
                return _Fault(st.rng.choice(st.random_kinds))
        return None

    def _dispatch(self, path: str, multi: dict[str, list[str]]) -> None:
        st = self.server.state
        params = {k: v[-1] for k, v in multi.items()}
        name = path.rsplit("/", 1)[-1]
        endpoint = {"esearch.fcgi": "esearch", "efetch.fcgi": "efetch"}.get(name, path)
        fault = self._pick_fault(endpoint) if endpoint in ("esearch", "efetch") else None
        with st.lock:
            st.requests.append(SeenRequest(self.command, endpoint, params, fault and fault.kind))
        if fault is not None:
            if fault.kind == "429":
                ra = fault.retry_after if fault.retry_after is not None else st.retry_after
                self._send(429, b"Too Many Requests", {"Retry-After": f"{ra:g}"})
                return
            if fault.kind in ("500", "503"):
                self._send(int(fault.kind), b"Internal server error")
                return
            if fault.kind == "reset":
                self.close_connection = True
                return
            if fault.kind == "empty":
                self._send(200, b"")
                return
            if fault.kind == "slow":
                time.sleep(st.slow_seconds)
        try:
            status, body = self._answer(endpoint, params)
        except (ValueError, KeyError) as exc:
            status, body = 400, f"bad request: {exc}".encode()
        if fault is not None and status == 200 and fault.kind == "cut":
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault is not None and status == 200 and fault.kind == "truncated":
            body = body[: len(body) // 2]
        self._send(status, body)

    # ------------------------------------------------------------------ endpoints
    def _answer(self, endpoint: str, p: dict[str, str]) -> tuple[int, bytes]:
        if endpoint not in ("esearch", "efetch"):
            return 404, b"unknown endpoint"
        if endpoint == "efetch" and p.get("db") == "pmc":
            return self._efetch_pmc(p)
        if p.get("db", "pubmed") != "pubmed":
            return 400, b"only db=pubmed (and EFetch db=pmc) is served"
        return self._esearch(p) if endpoint == "esearch" else self._efetch(p)

    def _esearch(self, p: dict[str, str]) -> tuple[int, bytes]:
        st = self.server.state
        if "term" not in p:
            return 400, b"term is required"
        words = _query_words(p["term"])
        lo = _bound(p["mindate"], upper=False) if p.get("mindate") else dt.date.min
        hi = _bound(p["maxdate"], upper=True) if p.get("maxdate") else dt.date.max
        with st.lock:
            arts = list(st.articles.values())
        hits = [
            a
            for a in arts
            if lo <= a.date <= hi
            and all(
                w in f"{a.plain_text()} {' '.join(a.chemicals)} {' '.join(a.mesh)}".lower()
                for w in words
            )
        ]
        ids = [a.pmid for a in sorted(hits, key=lambda a: int(a.pmid), reverse=True)]
        retstart = int(p.get("retstart", 0))
        retmax = int(p.get("retmax", 20))
        webenv = query_key = None
        if p.get("usehistory") == "y":
            with st.lock:
                webenv = p.get("WebEnv")
                if webenv not in st.histories:
                    webenv = f"MCID_loopback_{len(st.histories) + 1}"
                    st.histories[webenv] = []
                st.histories[webenv].append(ids)
                query_key = len(st.histories[webenv])
        page = ids[retstart : retstart + retmax]
        return 200, esearch_xml(len(ids), page, retstart, webenv, query_key)

    def _efetch(self, p: dict[str, str]) -> tuple[int, bytes]:
        st = self.server.state
        if p.get("retmode") != "xml":
            return 400, b"the stand-in serves retmode=xml only"
        if p.get("id"):
            ids = [i.strip() for i in p["id"].split(",") if i.strip()]
        elif p.get("WebEnv") and p.get("query_key"):
            with st.lock:
                env = st.histories.get(p["WebEnv"])
            qk = int(p["query_key"])
            if env is None or not 1 <= qk <= len(env):
                return 400, b"unknown WebEnv/query_key"
            retstart = int(p.get("retstart", 0))
            ids = env[qk - 1][retstart : retstart + int(p.get("retmax", 20))]
        else:
            return 400, b"id or WebEnv+query_key required"
        with st.lock:
            arts = [st.articles[i] for i in ids if i in st.articles]
        return 200, pubmed_xml(arts)


    def _efetch_pmc(self, p: dict[str, str]) -> tuple[int, bytes]:
        st = self.server.state
        if p.get("retmode") != "xml" or not p.get("id"):
            return 400, b"db=pmc is served by id with retmode=xml only"
        wanted = [_pmc_digits(i) for i in p["id"].split(",") if i.strip()]
        with st.lock:
            by_pmc = {_pmc_digits(a.pmcid): a for a in st.articles.values() if a.pmcid}
        return 200, pmc_xml(by_pmc[i] for i in wanted if i in by_pmc)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    state: _State


class EutilsServer:
    """The loopback E-utilities stand-in; a context manager (``with EutilsServer(arts) as s``)."""

    def __init__(self, articles: Iterable[FakeArticle] = ()) -> None:
        self.state = _State()
        self.add(*articles)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> EutilsServer:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.state = self.state
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="eutils-stand-in",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EutilsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL to give ``EutilsClient(base_url=...)`` (endpoints are appended)."""
        return f"http://127.0.0.1:{self.port}/entrez/eutils/"

    # content
    def add(self, *articles: FakeArticle) -> None:
        with self.state.lock:
            for a in articles:
                self.state.articles[a.pmid] = a

    # faults
    def fail_next(
        self,
        kind: str,
        times: int = 1,
        *,
        endpoint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` requests (to ``endpoint`` if given: "esearch"/"efetch")
        with fault ``kind`` (one of :data:`FAULT_KINDS`)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        with self.state.lock:
            for _ in range(times):
                self.state.faults.append(_Fault(kind, endpoint, retry_after))

    def random_faults(
        self, rate: float, seed: int = 0, kinds: Sequence[str] = ("429", "500", "cut", "truncated")
    ) -> None:
        """Answer each request with a random fault of ``kinds`` with probability ``rate``
        (reproducible for a given ``seed``); ``rate=0`` turns it off."""
        bad = [k for k in kinds if k not in FAULT_KINDS]
        if bad or not 0 <= rate <= 1:
            raise ValueError(f"bad random fault setting: rate={rate}, kinds={bad}")
        with self.state.lock:
            self.state.random_rate = rate
            self.state.random_kinds = tuple(kinds)
            self.state.rng = random.Random(seed)

    @property
    def slow_seconds(self) -> float:
        return self.state.slow_seconds

    @slow_seconds.setter
    def slow_seconds(self, value: float) -> None:
        self.state.slow_seconds = value

    @property
    def retry_after(self) -> float:
        """Default ``Retry-After`` seconds sent with a 429."""
        return self.state.retry_after

    @retry_after.setter
    def retry_after(self, value: float) -> None:
        self.state.retry_after = value

    # inspection
    @property
    def requests(self) -> list[SeenRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def count(self, endpoint: str | None = None) -> int:
        return sum(1 for r in self.requests if endpoint in (None, r.endpoint))

    def clear_requests(self) -> None:
        with self.state.lock:
            self.state.requests.clear()

