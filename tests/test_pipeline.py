"""The search pipeline over real loopback HTTP and a real DuckDB file.

These tests use a model with freshly initialised heads (no training): its predictions are
arbitrary but deterministic, which is all the wiring, idempotence and fault-tolerance checks
need. Quality against gold relations is checked in ``test_search_e2e.py`` with a trained model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.errors import FetchError
from pkharvest.fetch import EutilsClient, RateLimiter, RetryPolicy
from pkharvest.model.tagger import PKTagger, SentencePrediction
from pkharvest.pipeline import (
    Extractor,
    predictions_to_measurements,
    refresh_searches,
    run_search,
)
from pkharvest.progress import ProgressEvent
from pkharvest.records import Entity, Measurement, Sentence
from pkharvest.store import Store
from pkharvest.testing.eutils_server import EutilsServer, make_article

SENTENCES = [
    "Vancomycin clearance was 4.2 L/h and the volume of distribution was 52 L.",
    "The elimination half-life was 6.1 ± 1.3 h in adults.",
    "Patients were enrolled between 2015 and 2018.",
    "Cmax ranged from 20 to 35 mg/L after a 1 g dose.",
]


def _articles(n: int = 6, start: int = 1000) -> list:
    return [
        make_article(
            start + i,
            title=f"Vancomycin pharmacokinetics in cohort {i}",
            sentences=[*SENTENCES[i % 2 :], f"Cohort {i} had {10 + i} patients."],
            date=f"2021/0{1 + i % 9}/1{i % 9}",
            chemicals=["Vancomycin"],
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def tagger_dir(untrained_model: Path) -> Path:
    """An untrained (fresh heads) model folder: deterministic predictions, fast to build."""
    return untrained_model


@pytest.fixture(scope="module")
def extractor(tagger_dir: Path) -> Extractor:
    return Extractor(PKTagger.load(tagger_dir), threshold=0.0)


def _client(server: EutilsServer, **kw) -> EutilsClient:
    return EutilsClient(
        base_url=server.url,
        retry=RetryPolicy(max_attempts=8, initial_wait=0.01, max_wait=0.05, jitter=0.01),
        rate_limiter=RateLimiter(1000.0),
        timeout=5.0,
        **kw,
    )


def _content(db: Path) -> dict:
    """Everything a user sees in the store, minus run ids and timestamps."""
    with Store(db, read_only=True) as store:
        meas = [
            {k: v for k, v in dataclasses.asdict(m).items() if k not in ("run_id",)}
            for m in store.measurements()
        ]
        pmids = sorted(p for p in store.processed_pmids())
        views = [store.article_view(p) for p in pmids]
        sentences = [
            (p, s.index, s.text, s.kept, len(s.mentions))
            for p, v in zip(pmids, views, strict=True)
            for s in v.sentences
        ]
        counts = store.counts()
    counts.pop("runs", None)
    counts.pop("searches", None)
    return {"measurements": meas, "sentences": sentences, "counts": counts}


def test_search_stores_articles_and_rerun_adds_nothing(
    tmp_path: Path, extractor: Extractor
) -> None:
    db = tmp_path / "s.duckdb"
    with EutilsServer(_articles()) as server:
        with Store(db) as store:
            first = run_search("vancomycin pharmacokinetics", store, _client(server), extractor)
        assert first.hits == 6 and first.articles_fetched == 6
        before = _content(db)
        assert before["counts"]["articles"] == 6
        assert (
            before["counts"]["sentences"]
            == sum(len(s) for s in [SENTENCES[i % 2 :] for i in range(6)]) + 6 + 6
        )
        with Store(db) as store:
            again = run_search("vancomycin pharmacokinetics", store, _client(server), extractor)
        assert again.articles_skipped == 6 and again.articles_fetched == 0
        assert _content(db) == before
        with Store(db, read_only=True) as store:
            runs = store.runs()
            assert [r.status for r in runs] == ["ok", "ok"]
            assert len(store.saved_searches()) == 1


def test_faults_give_the_same_store_as_a_clean_run(tmp_path: Path, extractor: Extractor) -> None:
    clean, faulty = tmp_path / "clean.duckdb", tmp_path / "faulty.duckdb"
    with EutilsServer(_articles(12)) as server:
        with Store(clean) as store:
            run_search("vancomycin", store, _client(server), extractor, fetch_batch=4)
        server.random_faults(0.3, seed=7)
        with Store(faulty) as store:
            run_search("vancomycin", store, _client(server), extractor, fetch_batch=4)
        faults = sum(1 for r in server.requests if r.fault)
    assert faults > 0
    assert _content(faulty) == _content(clean)


def test_failing_fetch_keeps_what_was_stored_and_resume_completes(
    tmp_path: Path, extractor: Extractor
) -> None:
    db, ref = tmp_path / "s.duckdb", tmp_path / "ref.duckdb"
    arts = _articles(8)
    with EutilsServer(arts) as server:
        with Store(ref) as store:
            run_search("vancomycin", store, _client(server), extractor, fetch_batch=3)

        # After the first batch of 3 articles, E-utilities fails for good.
        def break_after_first_batch(event: ProgressEvent) -> None:
            done["n"] += event.advance
            if done["n"] == 3:
                server.fail_next("500", times=100, endpoint="efetch")

        done = {"n": 0}
        client = EutilsClient(
            base_url=server.url,
            retry=RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.01, jitter=0.0),
            rate_limiter=RateLimiter(1000.0),
            timeout=5.0,
        )
        with Store(db) as store, pytest.raises(FetchError):
            run_search(
                "vancomycin",
                store,
                client,
                extractor,
                fetch_batch=3,
                progress=break_after_first_batch,
            )
    with Store(db, read_only=True) as store:
        assert [r.status for r in store.runs()] == ["failed"]
        assert len(store.processed_pmids()) == 3  # the first batch stayed
    # resume with a healthy server: same final content as the uninterrupted run
    with EutilsServer(arts) as server, Store(db) as store:
        summary = run_search("vancomycin", store, _client(server), extractor, fetch_batch=3)
    assert summary.articles_skipped == 3
    assert _content(db) == _content(ref)


def test_refresh_queries_only_since_last_run(tmp_path: Path, extractor: Extractor) -> None:
    db = tmp_path / "s.duckdb"
    import datetime as dt

    old = _articles(3)
    with EutilsServer(old) as server:
        with Store(db) as store:
            run_search(
                "vancomycin",
                store,
                _client(server),
                extractor,
                now=lambda: dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc),
            )
        server.add(
            make_article(
                2000, title="Vancomycin in neonates", sentences=SENTENCES[:2], date="2022/02/02"
            )
        )
        server.clear_requests()
        with Store(db) as store:
            summaries = refresh_searches(store, _client(server), extractor, overlap_days=3)
        esearch = [r for r in server.requests if r.endpoint == "esearch"]
        assert esearch and esearch[0].params.get("mindate") == "2021/05/29"
        assert summaries[0].articles_fetched == 1
        with Store(db, read_only=True) as store:
            assert "2000" in store.processed_pmids()


def test_search_cli_json_and_replay(tmp_path: Path, tagger_dir: Path) -> None:
    runner = CliRunner()
    db, rec = tmp_path / "cli.duckdb", tmp_path / "rec"
    with EutilsServer(_articles(3)) as server:
        result = runner.invoke(
            app,
            [
                "search",
                "vancomycin",
                "--db",
                str(db),
                "--model",
                str(tagger_dir),
                "--eutils-url",
                server.url,
                "--record",
                str(rec),
                "--threshold",
                "0",
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["counts"]["articles_fetched"] == 3
    # the server is gone: replay the recording into a new store
    db2 = tmp_path / "replayed.duckdb"
    result = runner.invoke(
        app,
        [
            "search",
            "vancomycin",
            "--db",
            str(db2),
            "--model",
            str(tagger_dir),
            "--replay",
            str(rec),
            "--threshold",
            "0",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert _content(db2) == _content(db)


def test_search_cli_errors_name_the_option(tmp_path: Path, tagger_dir: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["search", "x", "--model", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "--model" in r.output and "pkharvest train" in r.output
    r = runner.invoke(app, ["search", "x", "--model", str(tagger_dir), "--threshold", "1.5"])
    assert r.exit_code == 2 and "--threshold" in r.output
    r = runner.invoke(
        app, ["search", "x", "--model", str(tagger_dir), "--replay", str(tmp_path / "none")]
    )
    assert r.exit_code == 2 and "--replay" in r.output
    r = runner.invoke(
        app, ["refresh", "--db", str(tmp_path / "none.duckdb"), "--model", str(tagger_dir)]
    )
    assert r.exit_code == 2 and "--db" in r.output


def test_search_cli_record_replay_and_url_errors_name_the_option(
    tmp_path: Path, tagger_dir: Path
) -> None:
    runner = CliRunner()
    afile, adir = tmp_path / "afile", tmp_path / "adir"
    afile.write_text("keep me")
    adir.mkdir()
    base = ["search", "x", "--db", str(tmp_path / "s.duckdb"), "--model", str(tagger_dir)]
    cases = [
        (["--record", str(afile)], 2, f"--record: {afile} is a file, not a folder"),
        (["--replay", str(adir)], 1,
         f"--replay: {adir} is not a recording (no index.json); record one first with --record"),
        (["--eutils-url", "notaurl"], 2, "--eutils-url: not an http(s) URL: 'notaurl'"),
    ]  # fmt: skip
    for extra, code, message in cases:
        r = runner.invoke(app, [*base, *extra])
        assert r.exit_code == code, r.output
        assert message in r.output
        assert "Traceback" not in r.output and r.output.strip().count("\n") == 0
    assert afile.read_text() == "keep me"


def test_refresh_overlap_days_has_an_upper_bound(tmp_path: Path, tagger_dir: Path,
                                                 extractor: Extractor) -> None:  # fmt: skip
    import datetime as dt

    from pkharvest.errors import UsageError
    from pkharvest.pipeline import MAX_REFRESH_OVERLAP_DAYS

    db = tmp_path / "s.duckdb"
    with Store(db) as store:  # a saved search that has run: its mindate is computed
        search_id = store.start_search("vancomycin", {"max_results": 5})
        store.mark_search_ran(search_id, dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc))
    runner = CliRunner()
    for days in ("99999999", str(MAX_REFRESH_OVERLAP_DAYS + 1), "-1"):
        r = runner.invoke(app, ["refresh", "--db", str(db), "--model", str(tagger_dir),
                                "--eutils-url", "http://127.0.0.1:9/",
                                "--overlap-days", days])  # fmt: skip
        assert r.exit_code == 2, r.output
        assert f"--overlap-days: must be in 0..{MAX_REFRESH_OVERLAP_DAYS} (days), got {days}" in (
            r.output
        )
        assert "Traceback" not in r.output and r.output.strip().count("\n") == 0
    # the bound itself is allowed: a refresh a hundred years back
    with EutilsServer(_articles(2)) as server, Store(db) as store:
        summaries = refresh_searches(
            store, _client(server), extractor, overlap_days=MAX_REFRESH_OVERLAP_DAYS
        )
        esearch = [q for q in server.requests if q.endpoint == "esearch"]
        with pytest.raises(UsageError, match="overlap_days"):
            refresh_searches(store, _client(server), extractor, overlap_days=10**8)
    assert len(summaries) == 1 and esearch[0].params.get("mindate") == "1924/01/27"


def _predicted(text: str, *spans: tuple[str, str]) -> SentencePrediction:
    ents = [Entity(label, text.index(s), text.index(s) + len(s), s) for label, s in spans]
    return SentencePrediction(text, ents, 1.0, 0)


def test_drug_from_the_query_only_is_a_flagged_last_resort() -> None:
    texts = ["Lumefantrine AUC was 580 mg·h/L.", "The AUC was 610 mg·h/L."]
    sentences = [Sentence("7", i, t, 0, len(t)) for i, t in enumerate(texts)]
    preds = [_predicted(t, ("PK", "AUC"), ("VALUE", v), ("UNITS", "mg·h/L"))
             for t, v in zip(texts, ("580", "610"), strict=True)]
    _, _, ms = predictions_to_measurements(sentences, preds, 0.5, title="A report",
                                           query="vancomycin")
    got = [(m.drug, m.drug_source, "drug_from_query" in m.flags) for m in ms]
    assert got == [("lumefantrine", "sentence", False), ("vancomycin", "query", True)]
    # the abstract names the drug: the query is not used
    _, _, ms = predictions_to_measurements(sentences[1:], preds[1:], 0.5, title="A report",
                                           query="vancomycin",
                                           abstract="Artemether-lumefantrine in pregnancy.")
    assert [(m.drug, m.drug_source, m.flags) for m in ms] == [("artemether", "abstract", [])]


def test_search_table_at_80_columns_keeps_pmids_and_drugs_whole() -> None:
    from pkharvest.cli import console
    from pkharvest.cli.commands_pipeline import _print_measurements

    ms = [Measurement("38012345", 0, "total body clearance", 0, 20, "4.2", 24, 27, 4.2,
                      unit_text="L/h", parameter="CL", unit="L/h", value_canonical=4.2,
                      drug="artemether-lumefantrine", drug_source="sentence",
                      flags=["drug_from_query", "cited"])]
    old = console.width
    try:
        console.width = 80
        with console.capture() as cap:
            _print_measurements(ms, "PK measurements for 'vancomycin'")
    finally:
        console.width = old
    lines = cap.get().splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert any(line.split()[:2] == ["PMID", "38012345"] for line in lines)
    assert any(line.split()[:2] == ["drug", "artemether-lumefantrine"] for line in lines)
