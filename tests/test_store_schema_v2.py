"""Schema version 2 of the store: the migration from version 1, full-text and table columns,
``article_tables``, ``bulk_files``, measurement ids, the evidence view and export.

Every test works on a real DuckDB file in ``tmp_path``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from store_articles import ABSTRACT_TEXT, abstract_result, full_text_result

from pkharvest.errors import StoreError
from pkharvest.records import (
    Measurement,
)
from pkharvest.store import SCHEMA_V1, SCHEMA_VERSION, Store, measurement_id

# The evidence view as schema version 1 created it: a v1 store has it, and the migration must
# alter the tables it reads.
V1_EVIDENCE_VIEW = """
CREATE OR REPLACE VIEW evidence AS
SELECT
    m.id AS measurement_id, m.pmid, m.drug, m.parameter, m.measurement_type,
    m.comparator, m.value, m.value_low, m.value_high, m.value_text,
    m.unit_text, m.unit, m.value_canonical, m.value_low_canonical, m.value_high_canonical,
    m.deviation, m.deviation_text, m.deviation_type, m.parameter_text,
    m.sentence_idx, s.section, s.text AS sentence, s.start AS sentence_start,
    s."end" AS sentence_end, m.parameter_start, m.parameter_end, m.value_start, m.value_end,
    'https://pubmed.ncbi.nlm.nih.gov/' || m.pmid || '/' AS pubmed_url,
    m.flags, m.drug_source, m.model_version, m.run_id
FROM measurements m
LEFT JOIN sentences s ON s.pmid = m.pmid AND s.idx = m.sentence_idx;
"""

def make_v1_store(path: Path) -> None:
    """A store exactly as schema version 1 laid it out: its DDL, meta, the v1 evidence view and
    one article with a sentence, mentions and a measurement keyed as version 1 keyed them."""
    res = abstract_result()
    m = res.measurements[0]
    con = duckdb.connect(str(path))
    con.execute(SCHEMA_V1)
    con.execute(V1_EVIDENCE_VIEW)
    con.execute(
        "INSERT INTO meta VALUES ('application_id', 'pkharvest'), ('schema_version', '1'),"
        " ('created', '2026-01-01T00:00:00')"
    )
    con.execute(
        "INSERT INTO articles (pmid, title, abstract, sections, journal, year, doi, pmcid, mesh,"
        " chemicals, publication_types, language, fetched_at, model_version, run_id,"
        " processed_at) VALUES ('100', 'Midazolam in adults', $abs,"
        " [{'label': 'RESULTS', 'text': $abs_text}], NULL, NULL, NULL, 'PMC9', [], [], [],"
        " NULL, TIMESTAMP '2026-01-02 03:04:05', 'v1', NULL, TIMESTAMP '2026-01-02 03:04:05')",
        {"abs": res.article.abstract, "abs_text": ABSTRACT_TEXT},
    )
    con.execute(
        "INSERT INTO sentences VALUES ('100', 0, 'RESULTS', 0, $n, $t, 0.97, true)",
        {"n": len(ABSTRACT_TEXT), "t": ABSTRACT_TEXT},
    )
    for mention in res.mentions:
        e = mention.entity
        con.execute(
            "INSERT INTO mentions VALUES ('100', 0, $s, $e, $l, $t, $sc, 'v1', NULL)",
            {"s": e.start, "e": e.end, "l": e.label, "t": e.text, "sc": e.score},
        )
    # the v1 key: pmid:sentence:parameter offsets:value offsets
    v1_id = f"100:0:{m.parameter_start}-{m.parameter_end}:{m.value_start}-{m.value_end}"
    con.execute(
        "INSERT INTO measurements (id, pmid, sentence_idx, parameter_text, parameter_start,"
        " parameter_end, parameter, value_text, value_start, value_end, value, unit_text, unit,"
        " value_canonical, drug, drug_source, measurement_type, flags, model_version,"
        " created_at, updated_at) VALUES ($id, '100', 0, 'clearance', $ps, $pe, 'clearance',"
        " '25.5', $vs, $ve, 25.5, 'L/h', 'L/h', 25.5, 'midazolam', 'sentence', 'mean', [],"
        " 'v1', TIMESTAMP '2026-01-02 03:04:05', TIMESTAMP '2026-01-02 03:04:05')",
        {"id": v1_id, "ps": m.parameter_start, "pe": m.parameter_end, "vs": m.value_start,
         "ve": m.value_end},
    )  # fmt: skip
    con.close()


def columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every table's columns: name, type, nullability, default."""
    out = {}
    for (table,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT internal ORDER BY table_name"
    ).fetchall():
        out[table] = con.execute(
            "SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns()"
            " WHERE table_name = $t ORDER BY column_index",
            {"t": table},
        ).fetchall()
    return out


# -- migration --------------------------------------------------------------------------------


def test_v1_store_is_migrated_keeping_rows_and_ids(tmp_path: Path) -> None:
    old = tmp_path / "v1.duckdb"
    make_v1_store(old)
    with pytest.raises(StoreError, match="version 1 needs an upgrade to 3"):
        Store(old, read_only=True)
    with Store(old) as store:
        assert store.schema_version == SCHEMA_VERSION == 3
        assert store.counts() == {
            "articles": 1, "sentences": 1, "mentions": 3, "measurements": 1, "searches": 0,
            "runs": 0, "article_tables": 0, "bulk_files": 0,
        }  # fmt: skip
        [stored] = store.measurements("100")
        assert stored == abstract_result().measurements[0]  # source 'abstract', new fields None
        assert stored.source == "abstract"
        view = store.article_view("100")
        assert view is not None and [s.source for s in view.sentences] == ["abstract"]
        assert view.article.fulltext_status is None
        (mid, created, source), = store.con.execute(
            "SELECT id, created_at, source FROM measurements"
        ).fetchall()  # fmt: skip
        assert source == "abstract"
        assert mid == measurement_id(stored)  # the v1 id is the id the new code computes
        # re-writing the same article upserts onto the migrated rows: nothing added, ids kept
        counts = store.write_batch([abstract_result()], None, "v1")
        assert counts.removed == 0
        assert store.counts()["measurements"] == 1 and store.counts()["mentions"] == 3
        assert store.con.execute("SELECT id, created_at FROM measurements").fetchall() == [
            (mid, created)
        ]
        # the migrated store takes full-text results
        store.write_batch([full_text_result()], None, "v2")
        assert store.counts()["article_tables"] == 2
    fresh = tmp_path / "fresh.duckdb"
    Store(fresh).close()
    a, b = duckdb.connect(str(old), read_only=True), duckdb.connect(str(fresh), read_only=True)
    try:
        assert columns(a) == columns(b)  # a migrated store has a new store's schema
    finally:
        a.close()
        b.close()


def test_failed_v1_migration_leaves_the_v1_store(tmp_path: Path) -> None:
    old = tmp_path / "v1.duckdb"
    make_v1_store(old)
    con = duckdb.connect(str(old))
    con.execute("CREATE TABLE article_tables (x INTEGER)")  # makes step 1 -> 2 fail
    before = columns(con)
    con.close()
    with pytest.raises(StoreError, match="migration from schema version 1 failed"):
        Store(old)
    con = duckdb.connect(str(old), read_only=True)
    assert columns(con) == before
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    con.close()


# -- ids --------------------------------------------------------------------------------------


def test_measurement_ids() -> None:
    m = Measurement("123", 2, "CL", 4, 6, "5", 11, 12)
    assert measurement_id(m) == "123:2:4-6:11-12"  # abstract: as in schema version 1
    assert measurement_id(replace(m, value_start=None, value_end=None)) == "123:2:4-6:-"
    assert measurement_id(replace(m, source="body")) == "123:body:2:4-6:11-12"
    cell = Measurement("123", None, "CL", None, None, "5", source="table", table_id="T2",
                       row=3, col=1)  # fmt: skip
    assert measurement_id(cell) == "123:table:T2:3:1"
    # the cell is the key: the text it holds or the group it describes does not change it
    assert measurement_id(replace(cell, value_text="6", group_label="Day 3")) == measurement_id(
        cell
    )


# -- writing and reading the new columns and tables -------------------------------------------


def test_full_text_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    res = full_text_result()
    with Store(db) as store:
        counts = store.write_batch([res], None, "v2")
        assert counts.as_dict() == {
            "articles": 1, "sentences": 2, "mentions": 3, "measurements": 3, "tables": 2,
            "removed": 0,
        }  # fmt: skip
    with Store(db, read_only=True) as store:
        assert store.get_article("100") == res.article
        stored = store.measurements("100")
        # text order: abstract, body, then table cells (no sentence)
        assert stored == res.measurements
        assert store.tables("100") == sorted(res.tables, key=lambda t: t.table_id)
        view = store.article_view("100")
    assert view is not None
    assert [(s.index, s.source, s.section) for s in view.sentences] == [
        (0, "abstract", "RESULTS"),
        (1, "body", "Results > Pharmacokinetics"),
    ]
    assert [m.source for s in view.sentences for m in s.measurements] == ["abstract", "body"]
    assert view.table_measurements == (res.measurements[2],)
    assert [t.table_id for t in view.tables] == ["T1", "T2"]
    assert view.tables[1].grid[2] == ("CL (L/h)", "12.3 ± 4.5", "10.1 ± 2.0")


def test_rewrite_is_idempotent_and_drops_stale_tables(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    res = full_text_result()
    with Store(db) as store:
        store.write_batch([res], None, "v2")
        before = store.con.execute("SELECT id, created_at FROM measurements ORDER BY id").fetchall()
        again = store.write_batch([res], None, "v2")
        assert again.removed == 0
        after = store.con.execute("SELECT id, created_at FROM measurements ORDER BY id").fetchall()
        assert after == before
        # the same article without its demographic table and table measurement
        smaller = replace(res, measurements=res.measurements[:2], tables=res.tables[:1])
        assert store.write_batch([smaller], None, "v3").removed == 2
        assert [t.table_id for t in store.tables("100")] == ["T2"]
        assert [m.source for m in store.measurements("100")] == ["abstract", "body"]


def test_bad_full_text_records_are_refused_before_writing(tmp_path: Path) -> None:
    res = full_text_result()
    cell = res.measurements[2]
    with Store(tmp_path / "pk.duckdb") as store:
        with pytest.raises(StoreError, match="needs the table id, row and column"):
            store.write_batch([replace(res, measurements=[replace(cell, row=None)])], None, "v")
        with pytest.raises(StoreError, match="source must be one of abstract, body, table"):
            store.write_batch([replace(res, measurements=[replace(cell, source="pdf")])], None, "v")
        other = replace(res.tables[0], pmid="999")
        with pytest.raises(StoreError, match="table 'T2' of PMID 999"):
            store.write_batch([replace(res, tables=(other,))], None, "v")
        with pytest.raises(StoreError, match="table id given twice"):
            store.write_batch([replace(res, tables=(res.tables[0], res.tables[0]))], None, "v")
        assert store.counts()["articles"] == 0


def test_evidence_query_and_export_carry_the_new_columns(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    with Store(db) as store:
        store.write_batch([full_text_result()], None, "v2")
    with Store(db, read_only=True) as store:
        names, rows = store.run_query("evidence", {"drug": "MIDAZOLAM", "parameter": "clearance"})
        got = [dict(zip(names, r, strict=True)) for r in rows]
        out = tmp_path / "all.parquet"
        assert store.export(out) == 3
    assert [r["source"] for r in got] == ["abstract", "body", "table"]
    table_row = got[2]
    assert table_row["sentence"] == "Table 2 | CL (L/h) | 1 g q8h (n = 10) / Day 1 | 12.3 ± 4.5"
    assert table_row["section"] == "Results"
    assert (table_row["table_label"], table_row["group_label"]) == (
        "Table 2",
        "1 g q8h (n = 10) / Day 1",
    )
    assert (table_row["n"], table_row["statistic"]) == (10, "mean")
    assert table_row["sentence_idx"] is None and table_row["parameter_start"] is None
    assert got[0]["sentence"] == ABSTRACT_TEXT and got[0]["section"] == "RESULTS"
    assert got[1]["section"] == "Results > Pharmacokinetics"
    exported = pq.read_table(out).to_pylist()
    assert [r["source"] for r in exported] == ["abstract", "body", "table"]
    assert exported[2]["conditions"] == ["renal_impairment", "critical_illness"]
    assert exported[2]["deviation_canonical"] == 4.5
    assert {r["fulltext_status"] for r in exported} == {"open"}


# -- bulk manifest ----------------------------------------------------------------------------


def test_bulk_manifest_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    when = datetime(2026, 3, 4, 5, 6, 7)
    with Store(db) as store:
        store.record_bulk_file("oa_comm_xml.PMC000xxxxxx.baseline.tar.gz", size=123,
                               sha256="ab" * 32, counts={"articles": 5}, model_version="m1",
                               finished_at=when)  # fmt: skip
        store.record_bulk_file("b.tar.gz", size=1, counts={"articles": 1})
        # recording a file again replaces its entry
        store.record_bulk_file("b.tar.gz", size=2, counts={"articles": 2, "tables": 3},
                               model_version="m2", finished_at=when)  # fmt: skip
    with Store(db, read_only=True) as store:
        files = store.bulk_files()
        assert store.counts()["bulk_files"] == 2
    assert [(f.name, f.size, f.counts, f.model_version, f.finished_at) for f in files] == [
        ("b.tar.gz", 2, {"articles": 2, "tables": 3}, "m2", when),
        ("oa_comm_xml.PMC000xxxxxx.baseline.tar.gz", 123, {"articles": 5}, "m1", when),
    ]
    assert files[1].sha256 == "ab" * 32
    with Store(db, read_only=True) as store, pytest.raises(StoreError, match="read-only"):
        store.record_bulk_file("c.tar.gz")
