"""The DuckDB store: schema, batch upserts, rollback, foreign/corrupt files, runs, lock.

Every test works on a real DuckDB file in ``tmp_path``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from store_articles import make_article, write

from pkharvest.errors import StoreError, StoreLockedError
from pkharvest.records import (
    ArticleResult,
    ScoredSentence,
)
from pkharvest.store import (
    _MIGRATIONS,
    APPLICATION_ID,
    SCHEMA_VERSION,
    Store,
    measurement_id,
)

TABLES = {
    "meta",
    "articles",
    "sentences",
    "mentions",
    "measurements",
    "searches",
    "runs",
    "article_tables",
    "bulk_files",
    "review_decisions",
}


def snapshot(path: Path) -> dict[str, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall()))
            for t in ("articles", "sentences", "mentions", "measurements")
        }
    finally:
        con.close()


# -- schema -----------------------------------------------------------------------------------


def test_new_store_has_schema_meta_and_views(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    with Store(db) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.counts() == dict.fromkeys(
            (
                "articles",
                "sentences",
                "mentions",
                "measurements",
                "searches",
                "runs",
                "article_tables",
                "bulk_files",
            ),
            0,
        )
    con = duckdb.connect(str(db), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    sql = "SELECT view_name FROM duckdb_views() WHERE NOT internal"
    views = {r[0] for r in con.execute(sql).fetchall()}
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    con.close()
    assert tables == TABLES
    assert {"parameter_summary", "evidence"} <= views
    assert meta["application_id"] == APPLICATION_ID
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    # reopening (read-write and read-only) keeps the store as it is
    with Store(db) as store:
        assert store.schema_version == SCHEMA_VERSION
    with Store(db, read_only=True) as store:
        assert store.counts()["articles"] == 0


def test_round_trip_of_records(tmp_path: Path) -> None:
    art = make_article("111", n_sentences=3)
    with Store(tmp_path / "pk.duckdb") as store:
        counts = write(store, art)
        assert counts.as_dict() == {
            "articles": 1, "sentences": 3, "mentions": 9, "measurements": 3, "tables": 0,
            "removed": 0,
        }  # fmt: skip
        assert store.get_article("111") == art[0]
        assert store.get_article("999") is None
        assert store.measurements("111") == art[3]
        view = store.article_view("111")
    assert view is not None
    assert view.url == "https://pubmed.ncbi.nlm.nih.gov/111/"
    assert [s.text for s in view.sentences] == [s.sentence.text for s in art[1]]
    for stored in view.sentences:
        for e in stored.mentions:
            assert stored.text[e.start : e.end] == e.text
        assert [m.sentence_index for m in stored.measurements] == [stored.index]


# -- idempotence and replacement --------------------------------------------------------------


def test_rewriting_a_batch_adds_no_duplicates_and_keeps_ids(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    arts = [make_article("1"), make_article("2", 3)]
    with Store(db) as store:
        write(store, *arts)
        first = snapshot_rows(store)
        counts = write(store, *arts)
        assert counts.removed == 0
        second = snapshot_rows(store)
        assert store.counts()["measurements"] == 5
        assert store.counts()["mentions"] == 15
        assert store.counts()["sentences"] == 5
        assert store.counts()["articles"] == 2
    # same ids and created_at; updated_at moves on
    assert {k: v[0] for k, v in first.items()} == {k: v[0] for k, v in second.items()}
    assert all(second[k][1] >= first[k][1] for k in first)


def snapshot_rows(store: Store) -> dict[str, tuple]:
    rows = store.con.execute("SELECT id, created_at, updated_at FROM measurements").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_new_model_version_replaces_the_article_rows(tmp_path: Path) -> None:
    a1, a2 = make_article("1", 3), make_article("2", 2)
    with Store(tmp_path / "pk.duckdb") as store:
        write(store, a1, a2, mv="v1")
        assert store.processed_pmids("v1") == {"1", "2"}
        # v2 finds only the first sentence of article 1 and a different value span
        art, sents, ments, meas = a1
        m0 = replace(meas[0], value_text="1", value_end=meas[0].value_start + 1, value=1.0)
        counts = write(store, (art, sents[:1], ments[:1], [m0]), mv="v2")
        assert counts.removed == 3 + 8 + 2  # measurements, mentions, sentences of v1
        assert store.processed_pmids("v2") == {"1"}
        assert store.processed_pmids("v1") == {"2"}
        assert store.processed_pmids() == {"1", "2"}
        assert store.measurements("1") == [m0]
        assert [measurement_id(m) for m in store.measurements("2")] == [
            measurement_id(m) for m in a2[3]
        ]
        versions = store.con.execute(
            "SELECT DISTINCT model_version FROM mentions WHERE pmid = '1'"
        ).fetchall()
        assert versions == [("v2",)]


# -- transactions -----------------------------------------------------------------------------


def test_failing_batch_is_rolled_back_and_earlier_batches_remain(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    with Store(db) as store:
        write(store, make_article("1"))
    before = snapshot(db)
    # The batch rewrites article 1 (its stale rows would be deleted) and adds article 2, whose
    # measurement carries a value that is not a number: the write fails after the deletes and
    # the article upserts have run.
    a1 = make_article("1", 1)
    a2 = make_article("2")
    bad = replace(a2[3][1], value="twelve")
    with Store(db) as store, pytest.raises(StoreError) as err:
        write(store, a1, (a2[0], a2[1], a2[2], [a2[3][0], bad]))
    assert "nothing of it stored" in str(err.value)
    assert "PMID 1, 2" in str(err.value)
    assert snapshot(db) == before
    with Store(db) as store:
        assert store.processed_pmids() == {"1"}
        # the store still takes good batches afterwards
        write(store, a2)
        assert store.processed_pmids() == {"1", "2"}


def test_constraint_violation_rolls_back(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    with Store(db) as store:
        write(store, make_article("1"))
        before = store.counts()
        art, sents, ments, meas = make_article("2")
        broken = ScoredSentence(replace(sents[1].sentence, text=None))  # NOT NULL column
        with pytest.raises(StoreError, match="PMID 2"):
            write(store, (art, [sents[0], broken], ments, meas))
        assert store.counts() == before
        assert store.get_article("2") is None


def test_batch_with_orphan_records_is_refused(tmp_path: Path) -> None:
    art, sents, ments, meas = make_article("1")
    orphan = replace(meas[0], sentence_index=7)
    with Store(tmp_path / "pk.duckdb") as store:
        with pytest.raises(StoreError, match="PMID 1 sentence 7"):
            write(store, (art, sents, ments, [*meas, orphan]))
        with pytest.raises(StoreError, match="PMID 5"):
            write(store, (art, sents, ments, [*meas, replace(meas[0], pmid="5")]))
        with pytest.raises(StoreError, match="sentence 0 of PMID 5 is in the result of"):
            write(
                store,
                (art, [replace(sents[0], sentence=replace(sents[0].sentence, pmid="5"))], [], []),
            )
        with pytest.raises(StoreError, match="given twice"):
            store.write_batch([ArticleResult(art), ArticleResult(art)], None, "v1")
        assert store.counts()["articles"] == 0


def test_read_only_store_refuses_writes(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    Store(db).close()
    with Store(db, read_only=True) as store, pytest.raises(StoreError, match="read-only"):
        write(store, make_article("1"))


# -- foreign, corrupt, newer ------------------------------------------------------------------


def test_foreign_duckdb_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE measurements (x INTEGER)")
    con.execute("INSERT INTO measurements VALUES (42)")
    con.close()
    for read_only in (False, True):
        with pytest.raises(StoreError, match="not a pkharvest store") as err:
            Store(db, read_only=read_only)
        assert str(db) in str(err.value)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT * FROM measurements").fetchall() == [(42,)]
    assert {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()} == {
        "measurements"
    }
    con.close()


def test_store_of_another_application_id_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('application_id', 'someone-else')")
    con.close()
    with pytest.raises(StoreError, match="not a pkharvest store"):
        Store(db)


@pytest.mark.parametrize(
    "content", [os.urandom(4096), b"pmid,value\n1,2\n", b"SQLite format 3\x00" + b"\x00" * 200]
)
def test_corrupt_file_gives_store_error_naming_it(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "broken.duckdb"
    db.write_bytes(content)
    for read_only in (False, True):
        with pytest.raises(StoreError) as err:
            Store(db, read_only=read_only)
        assert str(db) in str(err.value)
    assert db.read_bytes() == content


def test_missing_store_read_only_and_newer_schema(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "missing.duckdb", read_only=True)
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "no" / "dir.duckdb")
    db = tmp_path / "pk.duckdb"
    Store(db).close()
    con = duckdb.connect(str(db))
    con.execute("UPDATE meta SET value = $v WHERE key = 'schema_version'",
                {"v": str(SCHEMA_VERSION + 1)})  # fmt: skip
    con.close()
    with pytest.raises(StoreError, match="newer"):
        Store(db)


def test_older_store_is_migrated_in_a_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "pk.duckdb"
    with Store(db) as store:
        write(store, make_article("1"))
    older = SCHEMA_VERSION - 1
    con = duckdb.connect(str(db))
    con.execute("UPDATE meta SET value = $v WHERE key = 'schema_version'", {"v": str(older)})
    con.close()
    with pytest.raises(StoreError, match="needs an upgrade"):
        Store(db, read_only=True)

    def broken(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("ALTER TABLE measurements ADD COLUMN reviewed BOOLEAN")
        raise RuntimeError("migration bug")

    monkeypatch.setitem(_MIGRATIONS, older, broken)
    with pytest.raises(StoreError, match=r"migration from schema version .* failed.*bug"):
        Store(db)
    con = duckdb.connect(str(db), read_only=True)
    cols = [r[0] for r in con.execute("DESCRIBE measurements").fetchall()]
    version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    con.close()
    assert "reviewed" not in cols and version == (str(older),)  # rolled back

    def add_reviewed(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("ALTER TABLE measurements ADD COLUMN reviewed BOOLEAN")

    monkeypatch.setitem(_MIGRATIONS, older, add_reviewed)
    with Store(db) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.counts()["measurements"] == 2
        cols = [r[0] for r in store.con.execute("DESCRIBE measurements").fetchall()]
        assert "reviewed" in cols


# -- saved searches and runs ------------------------------------------------------------------


def test_saved_searches_upsert_and_runs(tmp_path: Path) -> None:
    with Store(tmp_path / "pk.duckdb") as store:
        s1 = store.start_search("midazolam[tiab]", {"max": 100, "mindate": None})
        assert store.start_search("midazolam[tiab]", {"mindate": None, "max": 100}) == s1
        s2 = store.start_search("midazolam[tiab]", {"max": 50})
        assert s2 != s1
        searches = store.saved_searches()
        assert [(s.id, s.query, s.options) for s in searches] == [
            (s1, "midazolam[tiab]", {"max": 100, "mindate": None}),
            (s2, "midazolam[tiab]", {"max": 50}),
        ]
        assert searches[0].last_run is None
        when = datetime(2024, 3, 5, 10, 30)
        store.mark_search_ran(s1, when)
        got = store.saved_searches()[0]
        assert (got.last_run, got.last_edat) == (when, "2024/03/05")
        with pytest.raises(StoreError, match="no saved search"):
            store.mark_search_ran(999, when)

        run = store.start_run(s1, model_version="v1", eutils_url="http://127.0.0.1:1/")
        write(store, make_article("1"), run_id=run)
        store.finish_run(run, "ok", {"articles": 1, "measurements": 2})
        (info,) = store.runs()
        assert (info.id, info.search_id, info.status, info.model_version) == (run, s1, "ok", "v1")
        assert info.counts == {"articles": 1, "measurements": 2}
        assert info.finished is not None and info.finished >= info.started
        assert store.con.execute("SELECT DISTINCT run_id FROM measurements").fetchall() == [(run,)]
        with pytest.raises(StoreError, match="status"):
            store.finish_run(run, "great")


# -- lock -------------------------------------------------------------------------------------


def test_lock_refuses_a_second_writer_in_process(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    first = Store(db, lock=True)
    try:
        assert first.lock_path == tmp_path / "pk.duckdb.lock"
        with pytest.raises(StoreLockedError, match="locked by another run") as err:
            Store(db, lock=True)
        assert err.value.exit_code == 3
        assert "pk.duckdb.lock" in str(err.value)
    finally:
        first.close()
    with Store(db, lock=True) as again:
        assert again.counts()["articles"] == 0


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    Store(db).close()
    holder = textwrap.dedent(
        f"""
        import sys
        from pkharvest.store import Store
        with Store({str(db)!r}, lock=True):
            print("held", flush=True)
            sys.stdin.readline()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(StoreLockedError, match="locked by another run"):
            Store(db, lock=True, lock_timeout=0.2)
        # a reader does not take the lock, but DuckDB itself refuses while a writer is open
        with pytest.raises(StoreLockedError, match="in use by another process"):
            Store(db, read_only=True)
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
    with Store(db, lock=True) as store:
        assert store.counts()["articles"] == 0
