"""EFetch db=pmc through EutilsClient against the loopback stand-in: batches, faults and
retries, Retry-After, record/replay, the not-open-access answer, a malformed article, and the
retry budget setting."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import pytest

from pkharvest.errors import FetchError, UsageError
from pkharvest.fetch import EutilsClient, RateLimiter, RetryPolicy
from pkharvest.fetch.client import ENV_RETRY_ATTEMPTS, ENV_RETRY_MAX_WAIT
from pkharvest.testing.eutils_server import EutilsServer, FakeArticle, make_article

DATA = Path(__file__).parent / "data" / "jats"
FAST = RetryPolicy(max_attempts=6, initial_wait=0.01, max_wait=0.05, jitter=0.01, max_retry_after=5)


def jats_article(name: str) -> str:
    """The ``<article>`` element of a fixture file, as text."""
    text = (DATA / name).read_text(encoding="utf-8")
    return re.search(r"<article\b.*</article>", text, re.S).group(0)  # type: ignore[union-attr]


def fixture_articles() -> list[FakeArticle]:
    out = []
    for i, name in enumerate(
        ["pmc_rows.xml", "pmc_columns.xml", "pmc_multihead.xml", "pmc_headings.xml"]
    ):
        pmid = f"3900000{i + 1}"
        out.append(make_article(pmid, pmcid=f"PMC900000{i + 1}", jats=jats_article(name)))
    out.append(make_article("39000005", title="Tamsolidine dosing in obesity", pmcid="PMC9000005"))
    return out


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


IDS = ["PMC9000001", "9000002", "PMC9000003", "pmc9000004", "PMC9000005"]


def fetch_all(c: EutilsClient, ids=IDS, batch_size: int = 2):  # type: ignore[no-untyped-def]
    arts, errors = [], []
    for parsed in c.fetch_fulltext(ids, batch_size=batch_size):
        arts.extend(parsed.articles)
        errors.extend(parsed.errors)
    return arts, errors


def test_batches_by_id_and_statuses() -> None:
    with EutilsServer(fixture_articles()) as server:
        arts, errors = fetch_all(client(server))
        reqs = [r for r in server.requests if r.endpoint == "efetch"]
    assert errors == []
    assert [a.pmcid for a in arts] == [f"PMC900000{i}" for i in range(1, 6)]
    assert [a.status for a in arts] == ["open"] * 4 + ["unavailable"]
    assert [r.params["id"] for r in reqs] == ["9000001,9000002", "9000003,9000004", "9000005"]
    assert {r.params["db"] for r in reqs} == {"pmc"}
    assert sum(len(a.tables) for a in arts) == 9


def test_faults_are_retried_and_give_the_same_articles() -> None:
    with EutilsServer(fixture_articles()) as server:
        clean, _ = fetch_all(client(server))
        server.clear_requests()
        for kind in ("500", "truncated", "cut", "empty", "reset", "429"):
            server.fail_next(kind, endpoint="efetch")
        server.retry_after = 0.01
        faulty, _ = fetch_all(client(server, retry=dataclasses.replace(FAST, max_attempts=8)))
        assert server.count("efetch") == 3 + 6
    assert faulty == clean


def test_retry_after_is_honoured() -> None:
    with EutilsServer(fixture_articles()) as server:
        server.fail_next("429", endpoint="efetch", retry_after=0.4)
        t0 = time.perf_counter()
        fetch_all(client(server), ids=["PMC9000001"])
        assert time.perf_counter() - t0 >= 0.4  # FAST alone would wait at most 0.05 s


def test_a_batch_that_keeps_failing_names_its_pmc_ids() -> None:
    with EutilsServer(fixture_articles()) as server:
        server.fail_next("503", times=20, endpoint="efetch")
        with pytest.raises(FetchError) as err:
            fetch_all(client(server), ids=["PMC9000001", "PMC9000002"])
    msg = str(err.value)
    assert "pmc PMC9000001, PMC9000002" in msg and "6 attempt(s)" in msg and "\n" not in msg


def test_record_then_replay_gives_the_same_articles(tmp_path: Path) -> None:
    with EutilsServer(fixture_articles()) as server:
        recorded, _ = fetch_all(client(server, record_dir=tmp_path / "rec"))
    replayed, _ = fetch_all(EutilsClient(replay_dir=tmp_path / "rec"))
    assert replayed == recorded


def test_malformed_article_is_an_error_not_a_retry() -> None:
    bad = make_article(
        "39000006",
        pmcid="PMC9000006",
        jats=re.findall(r"<article\b.*?</article>", (DATA / "pmc_malformed.xml").read_text(), re.S)[
            0
        ],
    )
    with EutilsServer([*fixture_articles(), bad]) as server:
        arts, errors = fetch_all(client(server), ids=["PMC9000006", "PMC9000001"])
        assert server.count("efetch") == 1
    assert [a.pmcid for a in arts] == ["PMC9000001"]
    assert errors[0][0] == "PMC9000006"


def test_ids_pmc_does_not_return_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with EutilsServer(fixture_articles()) as server:
        arts, _ = fetch_all(client(server), ids=["PMC9000001", "PMC123"])
    assert [a.pmcid for a in arts] == ["PMC9000001"]
    assert "PMC123" in caplog.text


@pytest.mark.parametrize("ids", [["PMCX"], ["12a"], "PMC1"])
def test_bad_pmc_ids_are_usage_errors(ids) -> None:  # type: ignore[no-untyped-def]
    with EutilsServer() as server, pytest.raises(UsageError):
        fetch_all(client(server), ids=ids)


# ------------------------------------------------------------------------------ retry budget


def test_default_retry_budget_outlasts_a_one_minute_outage() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts >= 10
    assert policy.budget > 60


def test_retry_budget_from_the_environment() -> None:
    p = RetryPolicy.from_env({ENV_RETRY_ATTEMPTS: "3", ENV_RETRY_MAX_WAIT: "0.5"})
    assert (p.max_attempts, p.max_wait) == (3, 0.5)
    assert p.initial_wait <= 0.5 and p.jitter <= 0.5
    assert RetryPolicy.from_env({}) == RetryPolicy()
    assert RetryPolicy.from_env({ENV_RETRY_ATTEMPTS: "3"}, max_attempts=7).max_attempts == 7


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({ENV_RETRY_ATTEMPTS: "many"}, ENV_RETRY_ATTEMPTS),
        ({ENV_RETRY_ATTEMPTS: "0"}, ENV_RETRY_ATTEMPTS),
        ({ENV_RETRY_MAX_WAIT: "-1"}, ENV_RETRY_MAX_WAIT),
        ({ENV_RETRY_MAX_WAIT: "nan"}, ENV_RETRY_MAX_WAIT),
        ({ENV_RETRY_MAX_WAIT: "soon"}, ENV_RETRY_MAX_WAIT),
    ],
)
def test_bad_retry_settings_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(UsageError) as err:
        RetryPolicy.from_env(env)
    assert str(err.value).startswith(name)


def test_client_reads_the_budget_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nine faults in a row are survived with the default number of attempts (waits cut to
    0.01 s through the environment); two attempts give up."""
    monkeypatch.setenv(ENV_RETRY_MAX_WAIT, "0.01")
    with EutilsServer(fixture_articles()) as server:
        server.fail_next("500", times=9, endpoint="efetch")
        c = client(server, retry=None)
        assert c.retry.max_attempts == RetryPolicy().max_attempts
        arts, _ = fetch_all(c, ids=["PMC9000001"])
        assert [a.pmcid for a in arts] == ["PMC9000001"]
        monkeypatch.setenv(ENV_RETRY_ATTEMPTS, "2")
        server.fail_next("500", times=2, endpoint="efetch")
        with pytest.raises(FetchError, match="2 attempt"):
            fetch_all(client(server, retry=None), ids=["PMC9000001"])
