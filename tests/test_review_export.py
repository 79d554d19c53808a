"""Reviewed sentences as corpus lines (``review export``) read back by the corpus reader; several
corpora joined by ``read_corpora`` / ``train --corpus A --corpus B``; the curated view through
``query`` / ``export --curated``; a changed extraction re-opens its item; the review CLI."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from review_data import SENTENCES, build
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.corpus.reader import read_corpora, read_corpus
from pkharvest.review.export import export_corrections
from pkharvest.review.fields import SpanFix, check_decision, check_spans
from pkharvest.store import Store
from pkharvest.store.review import QueueFilter

runner = CliRunner()
OUTLIER = "1002:1:18-27:31-35"
CMAX = "1004:0:9-13:18-21"
CMAX_TEXT = "Caffeine Cmax was 8.2 mg/L after a 200 mg oral dose."


def decide(store: Store, mid: str, **payload: object) -> None:
    item = store.review_item(mid)
    store.record_decision(mid, check_decision({"reviewer": "ann", **payload},
                                              item.measurement))


@pytest.fixture()
def reviewed(tmp_path: Path) -> Path:
    db = build(tmp_path / "store.duckdb")
    with Store(db) as store:
        decide(store, OUTLIER, decision="reject", reason="wrong_value")
        decide(store, "1001:0:10-19:24-28", decision="correct", fields={"value": "26"})
        dose = CMAX_TEXT.index("200")
        spans = [{"start": 9, "end": 13, "label": "PK"}, {"start": 18, "end": 21, "label": "VALUE"},
                 {"start": dose, "end": dose + 2, "label": "VALUE"}]  # "20" snaps to "200"
        store.record_spans(CMAX, check_spans(spans, CMAX_TEXT), "ann")
    return db


def test_export_round_trips_through_the_corpus_reader(reviewed: Path, tmp_path: Path) -> None:
    out = tmp_path / "corrections.jsonl"
    with Store(reviewed, read_only=True, lock=False) as store:
        assert export_corrections(store, out) == 3
    examples = read_corpus(out)
    by_text = {ex.text: ex for ex in examples}
    assert set(by_text) == {SENTENCES[0][2], SENTENCES[3][2], CMAX_TEXT}
    outlier = by_text[SENTENCES[3][2]]
    assert [s.label for s in outlier.spans] == ["PK", "UNITS"]  # the rejected value is gone
    assert outlier.relations == []
    cmax = by_text[CMAX_TEXT]
    assert [(s.label, CMAX_TEXT[s.start:s.end]) for s in cmax.spans] == [
        ("PK", "Cmax"), ("VALUE", "8.2"), ("VALUE", "200")]
    assert {r.label for r in cmax.relations} == {"C_VAL"}
    assert cmax.pmid == "1004" and cmax.metadata["source"] == "review"
    # the lines are what the reader's own checks accept, token indices included
    line = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert {"text", "tokens", "spans", "relations", "meta"} <= set(line)


def test_read_corpora_joins_and_later_lines_replace_earlier_ones(
        reviewed: Path, tmp_path: Path) -> None:
    out = tmp_path / "corrections.jsonl"
    with Store(reviewed, read_only=True, lock=False) as store:
        export_corrections(store, out)
    base = tmp_path / "base.jsonl"
    base.write_text(
        json.dumps({"text": CMAX_TEXT, "spans": [], "meta": {"pmid": "1004"}}) + "\n"
        + json.dumps({"text": "Another sentence.", "spans": [], "meta": {"pmid": "9"}}) + "\n",
        encoding="utf-8")
    joined = read_corpora([base, out])
    assert len(joined) == 4  # 2 + 3, the Cmax sentence of base replaced by the correction
    (cmax,) = [ex for ex in joined if ex.text == CMAX_TEXT]
    assert len(cmax.spans) == 3 and cmax.source.startswith(str(out))


def test_spans_snap_to_tokens_and_overlaps_are_refused() -> None:
    assert check_spans([{"start": 36, "end": 37, "label": "VALUE"}], CMAX_TEXT) == [
        SpanFix(35, 38, "VALUE")]
    with pytest.raises(Exception, match="overlap"):
        check_spans([{"start": 9, "end": 13, "label": "PK"},
                     {"start": 11, "end": 16, "label": "VALUE"}], CMAX_TEXT)
    with pytest.raises(Exception, match="label"):
        check_spans([{"start": 9, "end": 13, "label": "DRUG"}], CMAX_TEXT)


def test_a_changed_extraction_puts_the_item_back_in_the_queue(reviewed: Path) -> None:
    with Store(reviewed) as store:
        assert OUTLIER not in store.review_queue_ids()
        assert len(store.curated_measurements()) == 1
    # a later run extracts the same sentence (same stable id) with another value
    changed = [list(r) for r in SENTENCES]
    changed[3][3] = [("PK", "clearance", 0.95), ("VALUE", "2530", 0.94)]  # unit not tagged
    build(reviewed, [tuple(r) for r in changed], model_version="test-v2")
    with Store(reviewed) as store:
        ids = store.review_queue_ids()
        assert ids[0] == OUTLIER and store.review_item(OUTLIER).status == "changed"
        # the unchanged corrected item keeps its decision and stays curated
        assert store.review_item("1001:0:10-19:24-28").status == "done"
        assert [m.value for m in store.curated_measurements()] == [26.0]
        assert len(store.review_decisions()) == 3  # nothing lost


def test_query_and_export_take_curated(reviewed: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["query", "evidence", "--db", str(reviewed), "--param",
                              "drug=midazolam", "--param", "parameter=CL", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)) == 4
    res = runner.invoke(app, ["query", "evidence", "--db", str(reviewed), "--curated",
                              "--param", "drug=midazolam", "--param", "parameter=CL",
                              "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [(r["pmid"], r["value"]) for r in rows] == [("1001", 26.0)]
    out = tmp_path / "curated.csv"
    res = runner.invoke(app, ["export", "--db", str(reviewed), "--out", str(out), "--format",
                              "csv", "--curated"])
    assert res.exit_code == 0, res.output
    with out.open(encoding="utf-8") as fh:
        assert [(r["pmid"], r["value"]) for r in csv.DictReader(fh)] == [("1001", "26.0")]
    # the store itself is unchanged by --curated
    with Store(reviewed, read_only=True, lock=False) as store:
        assert len(store.measurements()) == 8


def test_review_export_cli(reviewed: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    res = runner.invoke(app, ["review", "export", "--db", str(reviewed), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 reviewed sentence(s)" in res.output and len(read_corpus(out)) == 3
    res = runner.invoke(app, ["review", "export", "--db", str(tmp_path / "nope.duckdb"),
                              "--out", str(out)])
    assert res.exit_code == 2 and "--db" in res.output
    res = runner.invoke(app, ["review", "export", "--db", str(reviewed), "--out",
                              str(tmp_path / "no" / "c.jsonl")])
    assert res.exit_code == 2 and "--out" in res.output


def test_review_cli_help_and_bad_options(tmp_path: Path) -> None:
    res = runner.invoke(app, ["review", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "--host" in res.output and "export" in res.output
    res = runner.invoke(app, ["review", "export", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "--out" in res.output
    res = runner.invoke(app, ["review"])
    assert res.exit_code == 2 and "--db" in res.output
    db = build(tmp_path / "s.duckdb")
    res = runner.invoke(app, ["review", "--db", str(db), "--port", "70000"])
    assert res.exit_code == 2 and "--port" in res.output


def test_queue_filters_and_unknown_status(reviewed: Path) -> None:
    with Store(reviewed, read_only=True, lock=False) as store:
        assert {i.id for i in store.review_queue(QueueFilter(status="done"))} == {
            OUTLIER, "1001:0:10-19:24-28"}
        assert len(store.review_queue(QueueFilter(status="all"))) == 8
        with pytest.raises(Exception, match="status"):
            store.review_queue(QueueFilter(status="maybe"))


@pytest.mark.slow
def test_train_learns_from_several_corpora(reviewed: Path, corpus_path: Path,
                                           tmp_path: Path) -> None:
    shared = tmp_path / "tiny.jsonl"
    shared.write_text("\n".join(corpus_path.read_text(encoding="utf-8").splitlines()[:30])
                      + "\n", encoding="utf-8")
    corrections = tmp_path / "corrections.jsonl"
    with Store(reviewed, read_only=True, lock=False) as store:
        export_corrections(store, corrections)
    res = runner.invoke(app, ["train", "--corpus", str(shared), "--corpus", str(corrections),
                              "--out", str(tmp_path / "model"), "--epochs", "1",
                              "--max-length", "64", "--quiet"])
    assert res.exit_code == 0, res.output
    m = re.search(r"train (\d+) .*test (\d+) sentences", res.output)
    assert m and int(m.group(1)) + int(m.group(2)) == len(read_corpora([shared, corrections]))
    assert len(read_corpora([shared, corrections])) == len(read_corpus(shared)) + 3


def test_uncertainty_ranks_doubtful_sentences_first() -> None:
    from pkharvest.model.tagger import SentencePrediction
    from pkharvest.records import Entity
    from pkharvest.review.sampling import uncertainty

    sure = SentencePrediction("a", [Entity("PK", 0, 1, "a", 0.99)], 0.99, 1)
    doubtful_entity = SentencePrediction("b", [Entity("PK", 0, 1, "b", 0.55)], 0.99, 1)
    doubtful_sentence = SentencePrediction("c", [], 0.5, 0)
    assert uncertainty(sure) == pytest.approx(0.02)
    assert uncertainty(doubtful_entity) == pytest.approx(0.45)
    assert uncertainty(doubtful_sentence) == pytest.approx(1.0)


def test_a_store_without_the_review_table_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    import duckdb

    from pkharvest.store import SCHEMA_VERSION

    db = build(tmp_path / "old.duckdb")
    con = duckdb.connect(str(db))
    con.execute("DROP VIEW curated_measurements; DROP VIEW review_status;"
                " DROP TABLE review_decisions; DROP SEQUENCE review_decisions_id_seq")
    con.execute("UPDATE meta SET value = $v WHERE key = 'schema_version'",
                {"v": str(SCHEMA_VERSION - 1)})
    con.close()
    with Store(db) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.review_counts() == {"todo": 8, "changed": 0, "done": 0}
        decide(store, OUTLIER, decision="accept")
        assert len(store.curated_measurements()) == 1
