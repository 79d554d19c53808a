"""EutilsClient against the loopback E-utilities stand-in: search with history, batched fetch,
credentials, retries and faults, record/replay."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pkharvest.cli.fields import cli_message
from pkharvest.errors import FetchError, UsageError
from pkharvest.fetch import (
    DEFAULT_BASE_URL,
    EutilsClient,
    RateLimiter,
    RetryPolicy,
    SearchResult,
    request_key,
)
from pkharvest.records import Article
from pkharvest.testing.eutils_server import EutilsServer, FakeArticle, make_article

FAST = RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05, jitter=0.01, max_retry_after=5)


def corpus(n: int = 30) -> list[FakeArticle]:
    arts = []
    for i in range(n):
        arts.append(
            make_article(
                1000 + i,
                title=f"Pharmacokinetics of midazolam in cohort {i}",
                sentences=[f"Clearance was {i + 1}.5 L/h.", "Volume of distribution was 80 L."],
                date=f"2019/{1 + i % 12:02d}/{1 + i % 28:02d}"
                if i < 12
                else f"2021/{1 + i % 12:02d}/10",
                chemicals=["Midazolam"],
            )
        )
    arts.append(make_article(5000, title="Warfarin dosing", sentences=["INR rose."]))
    return arts


def client(server: EutilsServer, **kw: object) -> EutilsClient:
    opts: dict[str, object] = {
        "base_url": server.url,
        "retry": FAST,
        "timeout": 2.0,
        "rate_limiter": RateLimiter(1000),
        "email": "",
        "api_key": "",
    }
    opts.update(kw)
    return EutilsClient(**opts)  # type: ignore[arg-type]


def all_articles(c: EutilsClient, src: object, batch_size: int = 200) -> list[Article]:
    return [a for batch in c.fetch_articles(src, batch_size=batch_size) for a in batch]  # type: ignore[arg-type]


@pytest.fixture
def server() -> EutilsServer:
    with EutilsServer(corpus()) as s:
        yield s


# ----------------------------------------------------------------------- happy paths


def test_search_uses_history_and_fetch_pages(server: EutilsServer) -> None:
    c = client(server)
    res = c.search("midazolam pharmacokinetics", max_results=25)
    assert res.count == 30 and len(res.pmids) == 25
    assert res.webenv and res.query_key == "1"
    assert list(res.pmids) == [str(1029 - i) for i in range(25)]  # newest first
    seen = server.requests[-1]
    assert seen.endpoint == "esearch" and seen.params["usehistory"] == "y"
    assert seen.params["db"] == "pubmed" and seen.params["tool"] == "pkharvest"

    server.clear_requests()
    batches = list(c.fetch_articles(res, batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [a.pmid for b in batches for a in b] == list(res.pmids)
    fetches = server.requests
    assert [r.params["retstart"] for r in fetches] == ["0", "10", "20"]
    assert [r.params["retmax"] for r in fetches] == ["10", "10", "5"]
    assert all(r.params["WebEnv"] == res.webenv and "id" not in r.params for r in fetches)
    a = batches[0][0]
    assert a.title == "Pharmacokinetics of midazolam in cohort 29"
    assert a.abstract == "Clearance was 30.5 L/h. Volume of distribution was 80 L."
    assert a.chemicals == ("Midazolam",)


def test_search_pages_esearch_beyond_page_size(server: EutilsServer) -> None:
    c = client(server)
    res = c.search("midazolam", max_results=100, page_size=8)
    assert len(res.pmids) == 30 and len(set(res.pmids)) == 30
    pages = [r for r in server.requests if r.endpoint == "esearch"]
    assert [r.params["retstart"] for r in pages] == ["0", "8", "16", "24"]
    assert all(r.params.get("WebEnv") == res.webenv for r in pages[1:])


def test_fetch_by_ids_get_then_post(server: EutilsServer) -> None:
    c = client(server, post_threshold=5)
    ids = [str(1000 + i) for i in range(12)] + ["424242"]  # one unknown PMID
    got = all_articles(c, ids, batch_size=6)
    assert sorted(a.pmid for a in got) == sorted(ids[:-1])
    methods = [r.method for r in server.requests]
    assert methods == ["POST", "POST", "GET"]  # 6 > 5 ids -> POST; last batch has 1 id
    assert server.requests[0].params["id"] == ",".join(ids[:6])


def test_post_by_default_for_long_lists(server: EutilsServer) -> None:
    c = client(server)
    ids = [str(1000 + i) for i in range(30)] + [str(900000 + i) for i in range(300)]
    got = all_articles(c, ids, batch_size=400)
    assert len(got) == 30
    assert [r.method for r in server.requests] == ["POST"]


def test_long_query_goes_by_post(server: EutilsServer) -> None:
    c = client(server)
    short = c.search("midazolam", 100)
    long_query = "(" + " OR ".join(["midazolam[tiab]"] * 200) + ")"  # ~3.4 kB URL-encoded
    res = c.search(long_query, 100)
    assert res.pmids == short.pmids and len(res.pmids) == 30
    methods = [r.method for r in server.requests if r.endpoint == "esearch"]
    assert methods == ["GET", "POST"]  # the short query stays a GET
    assert server.requests[-1].params["term"] == long_query


def test_date_filters(server: EutilsServer) -> None:
    c = client(server)
    res = c.search("midazolam", 100, mindate="2019/03/01", maxdate="2019/05/31")
    assert sorted(res.pmids) == ["1002", "1003", "1004"]
    p = server.requests[-1].params
    assert (p["mindate"], p["maxdate"], p["datetype"]) == ("2019/03/01", "2019/05/31", "edat")
    res = c.search("midazolam", 100, mindate="2021", datetype="pdat")
    assert len(res.pmids) == 18
    p = server.requests[-1].params
    assert (p["maxdate"], p["datetype"]) == ("3000", "pdat")


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"mindate": "03/2019"}, "mindate"),
        ({"maxdate": "yesterday"}, "maxdate"),
        ({"datetype": "xdat"}, "datetype"),
        ({"max_results": 0}, "max_results"),
    ],
)
def test_search_usage_errors(server: EutilsServer, kwargs: dict, option: str) -> None:
    args = {"query": "midazolam", "max_results": 5, **kwargs}
    with pytest.raises(UsageError) as info:
        client(server).search(**args)
    assert info.value.field == option
    assert server.count() == 0


def test_credentials_from_env(server: EutilsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCBI_EMAIL", "pk@example.org")
    monkeypatch.setenv("NCBI_API_KEY", "SECRET123")
    monkeypatch.setenv("PKHARVEST_EUTILS_URL", server.url)
    c = EutilsClient(retry=FAST, rate_limiter=RateLimiter(1000))
    assert c.base_url == server.url and c.rate_limiter is not None
    c.search("warfarin", 5)
    p = server.requests[-1].params
    assert p["email"] == "pk@example.org" and p["api_key"] == "SECRET123"
    assert EutilsClient(rate_limiter=RateLimiter(1)).base_url == server.url
    monkeypatch.delenv("PKHARVEST_EUTILS_URL")
    assert EutilsClient().base_url == DEFAULT_BASE_URL


def test_bad_base_url_names_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("ftp://example.org/", "notaurl", "http://[bad"):
        with pytest.raises(UsageError) as info:
            EutilsClient(base_url=url)
        assert info.value.field == "eutils_url"
        assert cli_message(info.value) == f"--eutils-url: not an http(s) URL: {url!r}"
    # a bad URL from the environment names the variable, not the option
    monkeypatch.setenv("PKHARVEST_EUTILS_URL", "notaurl")
    with pytest.raises(UsageError, match=r"^PKHARVEST_EUTILS_URL: not an http\(s\) URL"):
        EutilsClient()


# ----------------------------------------------------------------------- faults


@pytest.mark.parametrize("kind", ["500", "503", "cut", "truncated", "empty", "reset"])
def test_retry_after_transient_fault(server: EutilsServer, kind: str) -> None:
    c = client(server)
    server.fail_next(kind, times=2, endpoint="efetch")
    got = all_articles(c, ["1000", "1001"])
    assert sorted(a.pmid for a in got) == ["1000", "1001"]
    faults = [r.fault for r in server.requests]
    assert faults == [kind, kind, None]


def test_retry_after_header_honoured(server: EutilsServer) -> None:
    c = client(server)
    server.fail_next("429", endpoint="esearch", retry_after=1)
    t0 = time.monotonic()
    res = c.search("warfarin", 5)
    assert time.monotonic() - t0 >= 0.95  # FAST backoff alone would wait ~0.02 s
    assert res.pmids == ("5000",)
    assert [r.fault for r in server.requests] == ["429", None]


def test_timeout_then_success(server: EutilsServer) -> None:
    server.slow_seconds = 1.5
    c = client(server, timeout=0.3)
    server.fail_next("slow", endpoint="efetch")
    t0 = time.monotonic()
    got = all_articles(c, ["1005"])
    assert [a.pmid for a in got] == ["1005"]
    assert 0.3 <= time.monotonic() - t0 < 1.5


def test_permanent_failure_names_endpoint_and_pmids(server: EutilsServer) -> None:
    c = client(server)
    server.fail_next("500", times=10, endpoint="efetch")
    with pytest.raises(FetchError) as info:
        all_articles(c, ["1000", "1001", "1002"])
    msg = str(info.value)
    assert "efetch.fcgi" in msg and "1000, 1001, 1002" in msg
    assert "4 attempt(s)" in msg and "HTTP 500" in msg
    assert server.count("efetch") == 4


def test_permanent_truncation_in_history_fetch_names_pmids(server: EutilsServer) -> None:
    c = client(server)
    res = c.search("midazolam", 4)
    server.fail_next("truncated", times=4, endpoint="efetch")
    with pytest.raises(FetchError) as info:
        all_articles(c, res)
    assert ", ".join(res.pmids) in str(info.value)
    assert "unparsable PubMed XML" in str(info.value)


def test_client_error_is_not_retried(server: EutilsServer) -> None:
    c = client(server)
    with pytest.raises(FetchError, match="HTTP 400") as info:
        all_articles(c, SearchResult(5, ("1", "2"), webenv="NOPE", query_key="1"))
    assert "unknown WebEnv" in str(info.value)
    assert server.count() == 1


def test_unreachable_server_is_a_fetch_error() -> None:
    with EutilsServer() as s:
        url = s.url
    c = EutilsClient(
        base_url=url, retry=RetryPolicy(2, 0.01, 0.01, 0.0), rate_limiter=RateLimiter(1000)
    )
    with pytest.raises(FetchError, match=r"esearch\.fcgi failed after 2 attempt\(s\)"):
        c.search("midazolam", 3)


def test_random_faults_30_percent_same_articles(server: EutilsServer) -> None:
    clean = client(server)
    res = clean.search("midazolam", 30)
    expected = all_articles(clean, res, batch_size=3)
    server.retry_after = 0.01  # 429s in the mix: keep Retry-After short
    server.random_faults(0.3, seed=7)
    flaky = client(server, retry=RetryPolicy(8, 0.0, 0.01, 0.0))
    server.clear_requests()
    res2 = flaky.search("midazolam", 30)
    got = all_articles(flaky, res2, batch_size=3)
    assert got == expected
    faults = [r.fault for r in server.requests if r.fault]
    assert len(faults) >= 2  # the mode really injected faults
    assert flaky.requests_made == server.count()


# ----------------------------------------------------------------------- record / replay


def test_record_then_replay_offline(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    with EutilsServer(corpus()) as s:
        c = client(s, record_dir=rec, api_key="SECRET", email="a@b.c")
        res = c.search("midazolam", 12, mindate="2019/01/01", maxdate="2021/12/31")
        live = [a for b in c.fetch_articles(res, batch_size=5) for a in b]
        by_id = all_articles(c, ["1000", "5000"])
    assert len(live) == 12
    index = json.loads((rec / "index.json").read_text())
    assert len(index) == 5  # 1 esearch + 3 efetch by history + 1 efetch by id
    blob = (rec / "index.json").read_text()
    assert "SECRET" not in blob and "a@b.c" not in blob
    for key, entry in index.items():
        assert (rec / entry["file"]).is_file()
        assert request_key(entry["endpoint"], entry["params"]) == key

    # server is gone: replay must not touch the network (and needs no key)
    r = EutilsClient(base_url="http://127.0.0.1:9/", replay_dir=rec, retry=FAST)
    res2 = r.search("midazolam", 12, mindate="2019/01/01", maxdate="2021/12/31")
    assert res2 == res
    assert [a for b in r.fetch_articles(res2, batch_size=5) for a in b] == live
    assert all_articles(r, ["1000", "5000"]) == by_id
    assert r.requests_made == 0


def test_replay_missing_request_is_clear(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    with EutilsServer(corpus()) as s:
        client(s, record_dir=rec).search("midazolam", 5)
    r = EutilsClient(replay_dir=rec)
    with pytest.raises(FetchError) as info:
        r.search("warfarin", 5)
    msg = str(info.value)
    assert "not in recording" in msg and "esearch.fcgi" in msg and '"term": "warfarin"' in msg
    with pytest.raises(FetchError, match="not in recording"):
        all_articles(r, ["1000"])


def test_replay_folder_must_be_a_recording(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="not a recording") as info:
        EutilsClient(replay_dir=tmp_path)
    # the command line names its options, not the library's parameters
    assert info.value.field == "replay"
    assert cli_message(info.value).startswith("--replay: ")
    assert "record one first with --record" in str(info.value)
    assert "replay_dir" not in str(info.value) and "record_dir" not in str(info.value)
    (tmp_path / "index.json").write_text("[1, 2]")
    with pytest.raises(FetchError, match=r"^replay: .* is not a recording index"):
        EutilsClient(replay_dir=tmp_path)
    with pytest.raises(UsageError) as both:
        EutilsClient(record_dir=tmp_path / "a", replay_dir=tmp_path / "b")
    assert both.value.field == "replay" and "--record" in str(both.value)


def test_record_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    with pytest.raises(UsageError) as info:
        EutilsClient(base_url="http://127.0.0.1:9/", record_dir=afile)
    assert info.value.field == "record"
    assert cli_message(info.value) == f"--record: {afile} is a file, not a folder"
    assert afile.read_text() == "keep me"
    with pytest.raises(UsageError, match=r"^record: cannot create the recording folder"):
        EutilsClient(base_url="http://127.0.0.1:9/", record_dir=afile / "sub")
    bad_index = tmp_path / "rec"
    bad_index.mkdir()
    (bad_index / "index.json").write_text("{not json")
    with pytest.raises(FetchError, match=r"^record: cannot read recording index"):
        EutilsClient(base_url="http://127.0.0.1:9/", record_dir=bad_index)


def test_failed_responses_are_not_recorded(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    with EutilsServer(corpus()) as s:
        s.fail_next("truncated", endpoint="efetch")
        c = client(s, record_dir=rec)
        got = all_articles(c, ["1000"])
    r = EutilsClient(replay_dir=rec)
    assert all_articles(r, ["1000"]) == got


def test_fixture_server_is_usable(eutils_server: EutilsServer) -> None:
    eutils_server.add(make_article(77, title="Caffeine clearance", sentences=["CL 5 L/h."]))
    c = client(eutils_server)
    res = c.search("caffeine", 10)
    assert res.pmids == ("77",)


def test_retry_after_formats() -> None:
    import email.utils

    from pkharvest.fetch.client import _retry_after_seconds

    assert _retry_after_seconds("3") == 3.0
    assert _retry_after_seconds(None) is None and _retry_after_seconds("soon") is None
    later = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert 15 <= _retry_after_seconds(later) <= 21
