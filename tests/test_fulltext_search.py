"""``search --full-text`` end to end over the loopback E-utilities stand-in and a real DuckDB
file: body sentences, tables and statuses stored, idempotent re-runs, the saved search's
refresh, a malformed article, 30 % injected faults, the CLI and ``show``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from pathlib import Path

import pytest
from fulltext_corpus import DATA, OPEN, QUERY, content, corpus
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.fetch import EutilsClient, RateLimiter, RetryPolicy
from pkharvest.model.tagger import PKTagger
from pkharvest.pipeline import Extractor, refresh_searches, run_search
from pkharvest.store import Store
from pkharvest.tables.evaluate import load_gold
from pkharvest.testing.eutils_server import EutilsServer


@pytest.fixture(scope="module")
def tagger_dir(untrained_model: Path) -> Path:
    """An untrained (fresh heads) model folder: deterministic predictions, fast to build."""
    return untrained_model


@pytest.fixture(scope="module")
def extractor(tagger_dir: Path) -> Extractor:
    return Extractor(PKTagger.load(tagger_dir), threshold=0.0)


def _client(server: EutilsServer, attempts: int = 8) -> EutilsClient:
    return EutilsClient(
        base_url=server.url,
        retry=RetryPolicy(max_attempts=attempts, initial_wait=0.01, max_wait=0.05, jitter=0.01),
        rate_limiter=RateLimiter(1000.0),
        timeout=5.0,
        email="",
        api_key="",
    )


def test_full_text_search_stores_bodies_tables_and_statuses(
    tmp_path: Path, extractor: Extractor, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "s.duckdb"
    with EutilsServer(corpus()) as server:
        with Store(db) as store, caplog.at_level(logging.WARNING):
            summary = run_search(QUERY, store, _client(server), extractor, full_text=True)
        pmc_requests = [r for r in server.requests if r.params.get("db") == "pmc"]
    assert summary.articles_fetched == 8
    # one line names the malformed article's PMC id; nothing of its full text is stored
    bad = [r.getMessage() for r in caplog.records if "PMC9000006" in r.getMessage()]
    assert len(bad) == 1 and "\n" not in bad[0]
    # only articles with a PMC id were asked for
    asked = {i for r in pmc_requests for i in r.params["id"].split(",")}
    assert asked == {f"900000{i}" for i in (1, 2, 3, 4, 5, 6, 8)}
    got = content(db)["articles"]
    status = {p: a[0].fulltext_status for p, a in got.items()}
    assert status == {
        "39000001": "open",
        "39000002": "open",
        "39000003": "open",
        "39000004": "open",
        "39000008": "open",
        "39000005": "unavailable",
        "39000009": "none",
        "39000006": None,
    }
    for pmid in ("39000005", "39000009", "39000006"):
        _article, sentences, _meas, tables = got[pmid]
        assert tables == () and {s[1] for s in sentences} == {"abstract"}
    # body sentences carry their section path; table cells their provenance
    _a, sentences, measurements, tables = got["39000001"]
    body = [s for s in sentences if s[1] == "body"]
    assert {s[2] for s in body} >= {"Methods > Study design", "Introduction"}
    assert min(s[0] for s in body) > max(s[0] for s in sentences if s[1] == "abstract")
    assert [t.table_id for t in tables] == ["T1", "T2"]
    assert [t.kind for t in tables] == ["demographic", "pk"]
    cells = [m for m in measurements if m["source"] == "table"]
    assert len(cells) == len(load_gold(DATA / "pmc_rows.gold.json").records)
    tmax = next(m for m in cells if m["parameter"] == "Tmax" and m["col"] == 1)
    assert (tmax["statistic"], tmax["n"], tmax["pmcid"], tmax["table_label"]) == (
        "median",
        12,
        "PMC9000001",
        "Table 2",
    )
    assert tmax["evidence"] == "Table 2: Tmax (h) | Healthy (n = 12) | 1.5 (0.5–4.0)"
    assert all(m["section"] for m in measurements if m["source"] == "body")
    total_gold = sum(len(load_gold(DATA / f"{s}.gold.json").records) for s in OPEN)
    assert sum(1 for a in got.values() for m in a[2] if m["source"] == "table") == total_gold


def test_rerun_and_refresh_add_nothing_and_refresh_reads_full_text(
    tmp_path: Path, extractor: Extractor
) -> None:
    db = tmp_path / "s.duckdb"
    arts = corpus()
    late = dataclasses.replace(
        arts[0],
        pmid="39000010",
        pmcid="PMC9000010",
        date=dt.date.today(),
        jats=arts[0]
        .jats.replace(">9000001<", ">9000010<")
        .replace(  # type: ignore[union-attr]
            ">39000001<", ">39000010<"
        ),
    )
    with EutilsServer(arts) as server:
        with Store(db) as store:
            run_search(QUERY, store, _client(server), extractor, full_text=True)
        first = content(db)
        with Store(db) as store:
            again = run_search(QUERY, store, _client(server), extractor, full_text=True)
        assert again.articles_fetched == 1  # only the malformed one is asked for again
        assert content(db) == first
        server.add(late)
        with Store(db) as store:
            refresh_searches(store, _client(server), extractor)
        after = content(db)
    assert after["articles"]["39000010"][0].fulltext_status == "open"
    assert len(after["articles"]["39000010"][3]) == 2
    assert {p: a for p, a in after["articles"].items() if p != "39000010"} == first["articles"]


def test_abstract_only_store_gains_full_text_when_asked(
    tmp_path: Path, extractor: Extractor
) -> None:
    db = tmp_path / "s.duckdb"
    with EutilsServer(corpus()) as server:
        with Store(db) as store:
            run_search(QUERY, store, _client(server), extractor)
        plain = content(db)
        assert {a[0].fulltext_status for a in plain["articles"].values()} == {None}
        with Store(db) as store:
            run_search(QUERY, store, _client(server), extractor, full_text=True)
    fresh = tmp_path / "fresh.duckdb"
    with EutilsServer(corpus()) as server, Store(fresh) as store:
        run_search(QUERY, store, _client(server), extractor, full_text=True)
    assert content(db)["articles"] == content(fresh)["articles"]


def test_thirty_percent_faults_give_the_identical_store(
    tmp_path: Path, extractor: Extractor
) -> None:
    clean, faulty = tmp_path / "clean.duckdb", tmp_path / "faulty.duckdb"
    with EutilsServer(corpus()) as server:
        with Store(clean) as store:
            run_search(QUERY, store, _client(server), extractor, full_text=True, fetch_batch=2)
        server.random_faults(
            0.3, seed=7, kinds=("429", "500", "503", "cut", "truncated", "empty", "reset")
        )
        server.retry_after = 0.01
        server.clear_requests()
        with Store(faulty) as store:
            run_search(
                QUERY,
                store,
                _client(server, attempts=30),
                extractor,
                full_text=True,
                fetch_batch=2,
            )
        faults = [r for r in server.requests if r.fault]
    assert any(r.params.get("db") == "pmc" for r in faults)
    assert content(faulty) == content(clean)


def test_cli_search_full_text_and_show_renders_table_cells(
    tmp_path: Path, tagger_dir: Path
) -> None:
    db = tmp_path / "s.duckdb"
    runner = CliRunner()
    with EutilsServer(corpus()) as server:
        result = runner.invoke(
            app,
            [
                "search",
                QUERY,
                "--full-text",
                "--db",
                str(db),
                "--model",
                str(tagger_dir),
                "--eutils-url",
                server.url,
                "--threshold",
                "0",
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        assert any(r.params.get("db") == "pmc" for r in server.requests)
    counts = json.loads(result.stdout)["counts"]
    total_gold = sum(len(load_gold(DATA / f"{s}.gold.json").records) for s in OPEN)
    tables = sum(len(a[3]) for a in content(db)["articles"].values())
    assert counts.items() >= {
        "fulltext_open": 5,
        "fulltext_unavailable": 1,
        "fulltext_none": 1,
        "fulltext_malformed": 1,
        "fulltext_tables": tables,
        "fulltext_table_measurements": total_gold,
    }.items()
    assert counts["fulltext_body_sentences"] > 0
    with Store(db, read_only=True) as store:
        [saved] = store.saved_searches()
        assert saved.options.get("full_text") is True
    shown = runner.invoke(app, ["show", "39000001", "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    assert "Table 2" in shown.output and "3.42 (28.1)" in shown.output
    assert "open" in shown.output


def test_cli_help_names_full_text() -> None:
    result = CliRunner().invoke(app, ["search", "--help"])
    assert result.exit_code == 0 and "--full-text" in result.output


def test_cli_summary_line_and_refresh_remember_full_text(tmp_path: Path, tagger_dir: Path) -> None:
    db = tmp_path / "s.duckdb"
    runner = CliRunner()
    arts = corpus()
    late = dataclasses.replace(
        arts[1],
        pmid="39000011",
        pmcid="PMC9000011",
        date=dt.date.today(),
        jats=re.sub(r">(PMC)?9000002<", r">\g<1>9000011<", arts[1].jats or "").replace(
            ">39000002<", ">39000011<"
        ),
    )
    common = ["--db", str(db), "--model", str(tagger_dir), "--threshold", "0"]
    with EutilsServer(arts) as server:
        url = ["--eutils-url", server.url]
        result = runner.invoke(app, ["search", QUERY, "--full-text", *common, *url])
        assert result.exit_code == 0, result.output
        assert "full text: 5 open, 1 unavailable, 1 without a PMC id, 1 malformed" in (
            " ".join(result.stdout.split())
        )
        server.add(late)
        server.clear_requests()
        refreshed = runner.invoke(app, ["refresh", *common, *url, "--json"])
        assert refreshed.exit_code == 0, refreshed.output
        pmc = [r for r in server.requests if r.params.get("db") == "pmc"]
        asked = {i for r in pmc for i in r.params["id"].split(",")}
    [summary] = json.loads(refreshed.stdout)
    # only the record added since the last run is searched for, and read with its full text
    assert summary["counts"]["articles_fetched"] == 1
    assert summary["counts"]["fulltext_open"] == 1
    assert summary["counts"]["fulltext_table_measurements"] == len(
        load_gold(DATA / "pmc_columns.gold.json").records
    )
    assert asked == {"9000011"}
    with Store(db, read_only=True) as store:
        article = store.get_article("39000011")
        assert article is not None and article.fulltext_status == "open"
        assert {m.source for m in store.measurements("39000011")} >= {"table"}


def test_without_full_text_nothing_is_asked_of_pmc(tmp_path: Path, extractor: Extractor) -> None:
    db = tmp_path / "s.duckdb"
    with EutilsServer(corpus()) as server, Store(db) as store:
        summary = run_search(QUERY, store, _client(server), extractor)
        assert not [r for r in server.requests if r.params.get("db") == "pmc"]
        [saved] = store.saved_searches()
    assert saved.options == {"max_results": 200}
    assert not [k for k in summary.counts() if k.startswith("fulltext_")]
    got = content(db)["articles"]
    assert {a[0].fulltext_status for a in got.values()} == {None}
    assert {m["source"] for a in got.values() for m in a[2]} <= {"abstract"}
    assert all(a[3] == () for a in got.values())
