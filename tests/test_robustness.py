"""Hostile and broken input on the search/refresh path, met where a user meets it: through the
CLI (CliRunner) against the loopback E-utilities stand-in and a real DuckDB file.

Every bad input must end with a one-line error naming what was wrong and where (exit code 1 for
a fetch/model/store error, 2 for a usage error) and leave the store as it was. The model is an
untrained (fresh heads) folder: its predictions are arbitrary but deterministic, which is all
these checks need.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import pytest
from store_articles import make_article as store_article
from store_articles import write
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.corpus.labels import words
from pkharvest.errors import FetchError
from pkharvest.fetch import EutilsClient, RateLimiter, RetryPolicy
from pkharvest.model.tagger import (
    CONFIG_FILE,
    LABELS_FILE,
    METRICS_FILE,
    REQUIRED_FILES,
    WEIGHTS_FILE,
    PKTagger,
)
from pkharvest.pipeline import Extractor, run_search
from pkharvest.store import Store
from pkharvest.testing.eutils_server import EutilsServer, FakeArticle, make_article

LABELS = ("PK", "VALUE", "UNITS", "RANGE", "COMPARE")
PK_SENTENCES = [
    "Vancomycin clearance was 4.2 L/h and the volume of distribution was 52 L.",
    "The elimination half-life was 6.1 ± 1.3 h in adults.",
]

# Odd Unicode a PubMed abstract really contains: micro sign and Greek mu, middle dot, minus
# sign, no-break and narrow no-break spaces, zero-width space/joiner, BOM, a combining accent,
# right-to-left and left-to-right marks, an Arabic word, a soft hyphen, an en dash.
ODD_TITLE = (
    "Vancomycin\u00a0pharmacokinetics\u200b in ne\u0301onates "
    "\u200f(\u0627\u0644\u062f\u0648\u0627\u0621)\u200e"
)
ODD_SENTENCES = [
    "Vancomycin clearance was 4.2\u00a0L·h\u207b\u00b9 and AUC was 410 µg·h/mL"
    " (range 300\u2013520 μg·h/mL).",
    "The concentration fell by \u22120.5\u202fmg/L per day\u200d; Cmax was 35\u00a0μg/mL\ufeff.",
    "Half-life was 6.1 h\u00ad in ba\u0301bies \u202eesrever\u202c and the ratio was 1\u00b72.",
]


# --------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def model_dir(untrained_model: Path) -> Path:
    """An untrained (fresh heads) model folder: deterministic predictions, fast to build."""
    return untrained_model


@pytest.fixture(scope="module")
def tagger(model_dir: Path) -> PKTagger:
    return PKTagger.load(model_dir)


def _articles(n: int = 3, start: int = 1000, drug: str = "Vancomycin") -> list[FakeArticle]:
    return [
        make_article(
            start + i,
            title=f"{drug} pharmacokinetics in cohort {i}",
            sentences=[s.replace("Vancomycin", drug) for s in PK_SENTENCES],
            date=f"2021/0{1 + i % 9}/1{i % 9}",
            chemicals=[drug],
        )
        for i in range(n)
    ]


def _fast_client(server: EutilsServer, attempts: int = 3) -> EutilsClient:
    return EutilsClient(
        base_url=server.url,
        retry=RetryPolicy(max_attempts=attempts, initial_wait=0.01, max_wait=0.02, jitter=0.0),
        rate_limiter=RateLimiter(1000.0),
        timeout=5.0,
    )


def _search(
    query: str, db: Path, model: Path, server: EutilsServer, *extra: str
) -> Any:  # click.testing.Result
    return CliRunner().invoke(
        app,
        [
            "search",
            query,
            "--db",
            str(db),
            "--model",
            str(model),
            "--eutils-url",
            server.url,
            "--threshold",
            "0",
            "--json",
            *extra,
        ],
    )


def _one_line_error(result: Any, exit_code: int, *must_name: str) -> str:
    """The result is a clean CLI error: expected exit code, no traceback, one line naming
    each of ``must_name``."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}: {result.output}"
    )
    assert result.exit_code == exit_code, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    line = lines[0]
    assert line.startswith("Error:"), line
    assert "Traceback" not in line
    for what in must_name:
        assert what in line, f"{what!r} not named in {line!r}"
    return line


def _content(db: Path) -> dict[str, Any]:
    """Everything a user sees in the store (articles, sentences, mentions, measurements),
    minus run ids and timestamps."""
    with Store(db, read_only=True) as store:
        pmids = sorted(store.processed_pmids())
        articles = [store.get_article(p) for p in pmids]
        sentences = []
        for p in pmids:
            view = store.article_view(p)
            assert view is not None
            for s in view.sentences:
                score = None if s.pk_score is None else round(s.pk_score, 6)
                sentences.append(
                    (p, s.index, s.section, s.start, s.end, s.text, score, s.kept, s.mentions)
                )
        measurements = [dataclasses.asdict(m) for m in store.measurements()]
        counts = store.counts()
    counts.pop("runs")
    counts.pop("searches")
    return {
        "articles": articles,
        "sentences": sentences,
        "measurements": measurements,
        "counts": counts,
    }


# ---------------------------------------------------------------- malformed E-utilities XML


@pytest.mark.parametrize("kind", ["truncated", "empty"])
def test_persistent_bad_xml_is_a_fetch_error_and_keeps_the_store(
    tmp_path: Path, tagger: PKTagger, kind: str
) -> None:
    db = tmp_path / "s.duckdb"
    extractor = Extractor(tagger, threshold=0.0)
    arts = _articles(3) + _articles(2, start=2000, drug="Midazolam")
    with EutilsServer(arts) as server:
        with Store(db) as store:
            run_search("vancomycin", store, _fast_client(server), extractor)
        before = _content(db)
        assert before["counts"]["articles"] == 3

        # EFetch answers bad XML past every retry: FetchError naming the endpoint and PMIDs
        server.fail_next(kind, times=50, endpoint="efetch")
        with Store(db) as store, pytest.raises(FetchError) as err:
            run_search("midazolam", store, _fast_client(server), extractor)
        msg = str(err.value)
        assert "efetch" in msg and "2000" in msg and "failed after 3 attempt(s)" in msg
        assert "\n" not in msg
        assert _content(db) == before
        assert server.count("efetch") >= 1 + 3

        # the same on ESearch: nothing fetched, nothing stored
        server.state.faults.clear()
        server.fail_next(kind, times=50, endpoint="esearch")
        with Store(db) as store, pytest.raises(FetchError) as err:
            run_search("midazolam", store, _fast_client(server), extractor)
        assert "esearch" in str(err.value)
        assert _content(db) == before
    with Store(db, read_only=True) as store:
        assert [r.status for r in store.runs()] == ["ok", "failed", "failed"]
        assert "efetch" in store.runs()[1].counts["error"]


@pytest.mark.slow
def test_cli_bad_xml_gives_one_line_error_exit_1(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI with the retry budget set through the environment (5 attempts, waits
    of at most 4 s)."""
    monkeypatch.setenv("PKHARVEST_RETRY_ATTEMPTS", "5")
    monkeypatch.setenv("PKHARVEST_RETRY_MAX_WAIT", "4")
    db = tmp_path / "s.duckdb"
    with EutilsServer(_articles(2)) as server:
        assert _search("vancomycin", db, model_dir, server).exit_code == 0
        before = _content(db)
        server.fail_next("truncated", times=50, endpoint="esearch")
        result = _search("vancomycin clearance", db, model_dir, server)
        url = server.url
    _one_line_error(result, 1, "esearch", "failed after 5 attempt(s)", url)
    assert _content(db) == before


# ---------------------------------------------------------------------- odd PubMed records


def test_articles_without_abstract_are_stored_with_the_title_only(
    tmp_path: Path, model_dir: Path
) -> None:
    db = tmp_path / "s.duckdb"
    arts = [
        make_article(3001, title="Vancomycin dosing in neonates: a letter.", chemicals=["x"]),
        make_article(3002, title="Vancomycin kinetics", sentences=PK_SENTENCES),
        make_article(
            3003,
            title="Vancomycin",
            publication_types=("Comment",),
            sections=[("BACKGROUND", "  "), ("RESULTS", "")],
        ),
    ]
    with EutilsServer(arts) as server:
        result = _search("vancomycin", db, model_dir, server)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)["counts"]
    assert counts["articles_fetched"] == 3
    assert counts["articles_without_abstract"] >= 1
    with Store(db, read_only=True) as store:
        assert store.processed_pmids() == {"3001", "3002", "3003"}
        for pmid in ("3001", "3003"):
            view = store.article_view(pmid)
            assert view is not None
            assert [(s.section, s.text) for s in view.sentences] == [("title", view.article.title)]
            assert all(not s.text.strip() for s in view.article.sections)
        view = store.article_view("3002")
        assert view is not None and len(view.sentences) == 1 + len(PK_SENTENCES)


def test_non_english_records_are_stored_with_their_language(
    tmp_path: Path, model_dir: Path
) -> None:
    db = tmp_path / "s.duckdb"
    german = [
        "Die Clearance von Vancomycin betrug 4,2 l/h.",
        "Die Halbwertszeit lag bei 6,1 h (Bereich 4,0–8,3 h).",
    ]
    arts = [
        make_article(4001, title="Pharmakokinetik von Vancomycin", sentences=german,
                     language="ger"),
        make_article(4002, title="Vancomycin 药代动力学", sentences=["万古霉素清除率为 4.2 L/h。"],
                     language="chi"),
        make_article(4003, title="Vancomycin kinetics", sentences=PK_SENTENCES),
    ]  # fmt: skip
    with EutilsServer(arts) as server:
        result = _search("vancomycin", db, model_dir, server)
    assert result.exit_code == 0, result.output
    with Store(db, read_only=True) as store:
        langs = {p: store.get_article(p).language for p in ("4001", "4002", "4003")}  # type: ignore[union-attr]
        assert langs == {"4001": "ger", "4002": "chi", "4003": "eng"}
        view = store.article_view("4001")
        assert view is not None
        assert [s.text for s in view.sentences[1:]] == german


def test_odd_unicode_survives_and_offsets_stay_consistent(tmp_path: Path, model_dir: Path) -> None:
    db = tmp_path / "s.duckdb"
    arts = [
        make_article(5001, title=ODD_TITLE, sentences=ODD_SENTENCES, chemicals=["Vancomycin"]),
        make_article(
            5002,
            title="Vancomycin\u2009and\u00a0µ",
            sections=[("RESULTS", " ".join(ODD_SENTENCES[::-1])), ("CONCLUSIONS\u200b", "ﬁne.")],
        ),
    ]
    with EutilsServer(arts) as server:
        result = _search("vancomycin", db, model_dir, server)
    assert result.exit_code == 0, result.output
    with Store(db, read_only=True) as store:
        assert store.processed_pmids() == {"5001", "5002"}
        for fake in arts:
            view = store.article_view(fake.pmid)
            assert view is not None
            stored = f"{view.article.title} {view.article.abstract}"
            # no character lost or replaced (whitespace runs may collapse)
            body = " ".join(t for _, t in fake.sections) or " ".join(fake.sentences)
            served = f"{fake.title} {body}"
            squash = lambda s: "".join(s.split())  # noqa: E731
            kept = squash(stored.replace("RESULTS: ", "").replace("CONCLUSIONS\u200b: ", ""))
            assert kept == squash(served)
            texts = {"title": view.article.title}
            texts.update({(s.label or "abstract"): s.text for s in view.article.sections})
            for s in view.sentences:
                assert texts[s.section][s.start : s.end] == s.text
                for e in s.mentions:
                    assert s.text[e.start : e.end] == e.text
                for m in s.measurements:
                    assert s.text[m.parameter_start : m.parameter_end] == m.parameter_text
                    if m.value_start is not None and m.value_end is not None:
                        assert s.text[m.value_start : m.value_end] == m.value_text
    result = CliRunner().invoke(app, ["show", "5001", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "4.2" in result.output


# ------------------------------------------------------------------------ very long sentences


@pytest.mark.slow
def test_very_long_sentence_is_windowed_not_truncated(tagger: PKTagger) -> None:
    filler = [f"word{i % 97}" for i in range(1990)]
    text = " ".join(filler) + " and vancomycin clearance was 4.2 L/h"
    n_words = len(words(text))
    assert n_words >= 2000
    [encoded] = tagger.encode([text], with_targets=False)
    max_len = tagger.config.max_length
    assert len(encoded.windows) > 1
    assert all(len(w.input_ids) <= max_len for w in encoded.windows)
    covered = {w for win in encoded.windows for w in win.piece_word if w >= 0}
    assert covered == set(range(n_words)), "words missing from every window"
    [pred] = tagger.predict_detailed([text])
    assert len(pred.word_tags) == n_words and len(pred.word_offsets) == n_words
    for e in pred.entities:
        assert text[e.start : e.end] == e.text


def test_monster_words_and_empty_text_do_not_break_the_tagger(tagger: PKTagger) -> None:
    """A 1,500-letter "word" (the WordPiece tokenizer gives up on it), a text of only
    zero-width/control characters and an empty text: every word still gets a tag."""
    rng = random.Random(3)
    monster = "".join(rng.choice("qxzjkvwpfhbgmn") for _ in range(1500))
    texts = [
        f"Clearance of {monster} was 4.2 L/h.",
        "\u200b\u200d\u2060\ufeff\x00\x07",
        "",
        "µ" * 300,
    ]
    preds = tagger.predict_detailed(texts)
    assert len(preds) == len(texts)
    for text, pred in zip(texts, preds, strict=True):
        assert len(pred.word_tags) == len(words(text))
        assert 0.0 <= pred.pk_probability <= 1.0
        for e in pred.entities:
            assert text[e.start : e.end] == e.text


@pytest.mark.slow
def test_long_sentence_through_the_cli(tmp_path: Path, model_dir: Path) -> None:
    long_sentence = (
        " ".join(f"patient{i % 50} received vancomycin" for i in range(700))
        + " and clearance was 4.2 L/h."
    )
    assert len(long_sentence.split()) >= 2000
    db = tmp_path / "s.duckdb"
    arts = [make_article(6001, title="Vancomycin in many patients", sentences=[long_sentence])]
    with EutilsServer(arts) as server:
        result = _search("vancomycin", db, model_dir, server)
    assert result.exit_code == 0, result.output
    with Store(db, read_only=True) as store:
        view = store.article_view("6001")
    assert view is not None
    assert [s.text for s in view.sentences] == [view.article.title, long_sentence]


# ------------------------------------------------------------------------- hostile queries

HOSTILE_QUERIES = {
    "quotes": '"vancomycin" AND \'clearance\' AND "unterminated',
    "sql": "vancomycin'); DROP TABLE articles; DELETE FROM measurements; --",
    "shell": "vancomycin $(touch {canary}) `touch {canary}` | rm -rf {canary}; echo & > {canary}",
    "long": "vancomycin " + " ".join(["clearance"] * 1000),
    "unicode": "vancomycin\u200b \u202eclearance\u202c\u00a0µg NOT \u0000x",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_QUERIES))
def test_hostile_query_strings_are_data(tmp_path: Path, model_dir: Path, name: str) -> None:
    canary = tmp_path / "canary"
    query = HOSTILE_QUERIES[name].format(canary=canary)
    if name == "long":
        assert len(query) >= 10_000
    db = tmp_path / "s.duckdb"
    with EutilsServer(_articles(3)) as server:
        assert _search("vancomycin", db, model_dir, server).exit_code == 0
        before = _content(db)
        server.clear_requests()
        result = _search(query, db, model_dir, server)
        terms = [r.params.get("term") for r in server.requests if r.endpoint == "esearch"]
    assert result.exit_code == 0, result.output
    assert terms and all(t == query.strip() for t in terms)
    assert not canary.exists()
    assert _content(db) == before  # the stand-in finds nothing new; every table is intact
    with Store(db, read_only=True) as store:
        assert [s.query for s in store.saved_searches()] == ["vancomycin", query]
        assert [r.status for r in store.runs()] == ["ok", "ok"]


def test_empty_query_is_a_usage_error_and_leaves_the_store_alone(
    tmp_path: Path, model_dir: Path
) -> None:
    db = tmp_path / "s.duckdb"
    with EutilsServer(_articles(2)) as server:
        assert _search("vancomycin", db, model_dir, server).exit_code == 0
        before = db.read_bytes()
        result = _search("   ", db, model_dir, server)
        _one_line_error(result, 2, "QUERY", "empty")
        fresh = tmp_path / "new.duckdb"
        _one_line_error(_search("", fresh, model_dir, server), 2, "QUERY")
        _one_line_error(_search("clearance \udcff", fresh, model_dir, server), 2, "QUERY",
                        "not UTF-8")
        assert not fresh.exists()  # a usage error creates no store
        with Store(db, read_only=True) as store:
            assert [s.query for s in store.saved_searches()] == ["vancomycin"]
            assert len(store.runs()) == 1
        refresh = CliRunner().invoke(
            app,
            ["refresh", "--db", str(db), "--model", str(model_dir), "--eutils-url", server.url,
             "--json"],
        )  # fmt: skip
        assert refresh.exit_code == 0, refresh.output
    assert len(before) > 0


# ------------------------------------------------------------------ SQL values for --param


@pytest.fixture(scope="module")
def filled_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real store with measurements, written through the store API (an untrained model
    finds parameters only by chance, so a search cannot be relied on to fill it)."""
    db = tmp_path_factory.mktemp("filled") / "s.duckdb"
    with Store(db) as store:
        write(store, store_article("101", drug="vancomycin"), store_article("102"))
    return db


SQL_VALUES = [
    "x' OR '1'='1",
    "vancomycin'; DROP TABLE measurements; --",
    "'); DELETE FROM articles; SELECT ('",
    '" OR ""="',
    "$drug",
    "\\'; --",
    "a" * 10_000,
    "vancomycin\u0000",
]


@pytest.mark.parametrize("value", SQL_VALUES, ids=range(len(SQL_VALUES)))
def test_query_param_values_are_bound_not_spliced(filled_db: Path, value: str) -> None:
    before = filled_db.read_bytes()
    counts = _content(filled_db)["counts"]
    assert counts["measurements"] > 0
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["query", "evidence", "--db", str(filled_db), "--param", f"drug={value}",
         "--param", "parameter=clearance", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    # the same value where the query compares it to every drug and parameter
    result = runner.invoke(
        app,
        ["query", "parameter_summary", "--db", str(filled_db), "--param", f"drug={value}",
         "--param", "parameter=CL", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    # as a parameter name it is no name the vocabulary knows: a one-line usage error
    result = runner.invoke(
        app,
        ["query", "parameter_summary", "--db", str(filled_db), "--param", "drug=x",
         "--param", f"parameter={value}", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 2 and "unknown parameter" in result.output
    assert filled_db.read_bytes() == before
    assert _content(filled_db)["counts"] == counts


def test_query_param_that_is_not_a_number_leaves_the_store(filled_db: Path) -> None:
    """``$k`` of needs_review is a number: a value with SQL in it is data (bound); it either
    fails as one line naming the query file or matches nothing, and the store stays."""
    before = filled_db.read_bytes()
    counts = _content(filled_db)["counts"]
    result = CliRunner().invoke(
        app,
        ["query", "needs_review", "--db", str(filled_db), "--param",
         "k=1; DROP TABLE measurements", "--param", "min_n=0); DELETE FROM articles; --",
         "--format", "json"],
    )  # fmt: skip
    if result.exit_code != 0:
        _one_line_error(result, 1, "needs_review.sql")
    else:
        assert isinstance(json.loads(result.stdout), list)
    assert filled_db.read_bytes() == before
    assert _content(filled_db)["counts"] == counts


# ------------------------------------------------------------- corrupt or foreign store file


def _make_bad_store(kind: str, path: Path, good: Path) -> None:
    if kind == "random":
        path.write_bytes(random.Random(5).randbytes(64 * 1024))
    elif kind == "text":
        path.write_text("pmid,title\n1,hello\n", encoding="utf-8")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "sqlite":
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE articles (pmid TEXT PRIMARY KEY, title TEXT)")
        con.close()
    elif kind == "foreign_duckdb":
        con = duckdb.connect(str(path))
        con.execute("CREATE TABLE articles (pmid VARCHAR, title VARCHAR)")
        con.close()
    elif kind == "truncated_head":  # headers kept, catalog gone
        path.write_bytes(good.read_bytes()[:16384])
    elif kind == "truncated_data":  # catalog kept, table data cut off (a partial copy)
        data = good.read_bytes()
        path.write_bytes(data[: len(data) * 3 // 5])
    elif kind == "flipped_header":
        data = bytearray(good.read_bytes())
        data[8:12] = b"DUCX"
        path.write_bytes(bytes(data))
    else:  # pragma: no cover
        raise ValueError(kind)


BAD_STORES = [
    "random",
    "text",
    "empty",
    "sqlite",
    "foreign_duckdb",
    "flipped_header",
    "truncated_head",
    "truncated_data",
]


@pytest.mark.parametrize("command", ["search", "refresh"])
@pytest.mark.parametrize("kind", BAD_STORES)
def test_corrupt_or_foreign_store_file_is_refused_untouched(
    tmp_path: Path, model_dir: Path, filled_db: Path, kind: str, command: str
) -> None:
    db = tmp_path / "bad.duckdb"
    _make_bad_store(kind, db, filled_db)
    before = db.read_bytes()
    with EutilsServer(_articles(2)) as server:
        if command == "search":
            result = _search("vancomycin", db, model_dir, server)
        else:
            result = CliRunner().invoke(
                app,
                ["refresh", "--db", str(db), "--model", str(model_dir), "--eutils-url",
                 server.url, "--json"],
            )  # fmt: skip
        assert server.count() == 0  # refused before any request
    _one_line_error(result, 1, str(db))
    assert db.read_bytes() == before
    assert not Path(str(db) + ".wal").exists()


# ------------------------------------------------------------ model folder with missing files


def _search_with_model(tmp_path: Path, model: Path) -> Any:
    with EutilsServer(_articles(1)) as server:
        result = _search("vancomycin", tmp_path / "s.duckdb", model, server)
        assert server.count() == 0
    assert not (tmp_path / "s.duckdb").exists()
    return result


@pytest.mark.parametrize("missing", REQUIRED_FILES)
def test_model_folder_missing_a_file_names_it(
    tmp_path: Path, model_dir: Path, missing: str
) -> None:
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    (model / missing).unlink()
    result = _search_with_model(tmp_path, model)
    _one_line_error(result, 1, missing, str(model), "--model")


@pytest.mark.parametrize(
    ("broken", "content"),
    [
        (CONFIG_FILE, b'{"labels": ['),
        (LABELS_FILE, b'{"labels": ['),
        (CONFIG_FILE, b"[]"),  # JSON, but not an object
        (LABELS_FILE, b"[]"),
        (CONFIG_FILE, b"\xff\xfe\x00garbage"),  # not UTF-8
        (LABELS_FILE, b"\xff\xfe\x00garbage"),
    ],
)
def test_model_folder_with_unreadable_json_names_it(
    tmp_path: Path, model_dir: Path, broken: str, content: bytes
) -> None:
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    (model / broken).write_bytes(content)
    result = _search_with_model(tmp_path, model)
    _one_line_error(result, 1, broken)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("config_version", "1", "config_version"), ("view", "zzz", "zzz"),
     ("max_length", "long", "max_length")],
)
def test_model_config_with_a_bad_field_value_names_it(
    tmp_path: Path, model_dir: Path, field: str, value: Any, named: str
) -> None:
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    data = json.loads((model / CONFIG_FILE).read_text(encoding="utf-8"))
    data[field] = value
    (model / CONFIG_FILE).write_text(json.dumps(data), encoding="utf-8")
    result = _search_with_model(tmp_path, model)
    _one_line_error(result, 1, CONFIG_FILE, named)


def test_unreadable_metrics_do_not_stop_a_model(tmp_path: Path, model_dir: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    (model / METRICS_FILE).write_bytes(b"\xff\xfe")
    assert PKTagger.load(model).metrics == {}
    (model / METRICS_FILE).write_text("[1, 2]", encoding="utf-8")
    assert PKTagger.load(model).metrics == {}


def test_model_folder_with_truncated_weights_names_it(tmp_path: Path, model_dir: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    weights = model / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[: os.path.getsize(weights) // 3])
    result = _search_with_model(tmp_path, model)
    _one_line_error(result, 1, str(model), "--model")


# ------------------------------------------------------------------------------ determinism

_DRUG_PROBE = """
from pkharvest.drug import attribute_drug
print(attribute_drug("Vancomycin clearance was 4.2 L/h.", 11, chemicals=["Vancomycin"],
                     query="vancomycin pharmacokinetics")[0])
"""


def test_drug_attribution_does_not_depend_on_the_hash_seed() -> None:
    """The same article must give the same stored drug in every process (a resumed run is a
    new process)."""
    import subprocess
    import sys

    seen = set()
    for seed in range(12):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        out = subprocess.run(
            [sys.executable, "-c", _DRUG_PROBE], env=env, capture_output=True, text=True,
            timeout=60, check=True,
        )  # fmt: skip
        seen.add(out.stdout.strip())
    assert len(seen) == 1, seen
