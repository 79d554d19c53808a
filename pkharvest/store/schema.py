"""The store's schema: the DDL of a new store, the column layout of the written tables, the
migrations of older stores, and the checks made when a file is opened."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from pkharvest.errors import PkHarvestError, StoreError
from pkharvest.store.connection import now, q
from pkharvest.store.review import REVIEW_TABLES, migrate_add_review

logger = logging.getLogger(__name__)

APPLICATION_ID = "pkharvest"
SCHEMA_VERSION = 3

# The DDL of schema version 1, as stores of that version were created; kept so that the
# migration to version 2 can be checked against a store built exactly as version 1 built it.
SCHEMA_V1 = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE SEQUENCE searches_id_seq START 1;
CREATE SEQUENCE runs_id_seq START 1;
CREATE TABLE searches (
    id BIGINT PRIMARY KEY DEFAULT nextval('searches_id_seq'),
    query VARCHAR NOT NULL,
    options VARCHAR NOT NULL,          -- canonical JSON (sorted keys)
    created TIMESTAMP NOT NULL,
    last_run TIMESTAMP,
    last_edat VARCHAR,
    UNIQUE (query, options)
);
CREATE TABLE runs (
    id BIGINT PRIMARY KEY DEFAULT nextval('runs_id_seq'),
    search_id BIGINT,
    started TIMESTAMP NOT NULL,
    finished TIMESTAMP,
    status VARCHAR NOT NULL,
    counts VARCHAR,                    -- JSON
    model_version VARCHAR,
    eutils_url VARCHAR
);
CREATE TABLE articles (
    pmid VARCHAR PRIMARY KEY,
    title VARCHAR NOT NULL,
    abstract VARCHAR,
    sections STRUCT(label VARCHAR, text VARCHAR)[],
    journal VARCHAR,
    year INTEGER,
    doi VARCHAR,
    pmcid VARCHAR,
    mesh VARCHAR[],
    chemicals VARCHAR[],
    publication_types VARCHAR[],
    language VARCHAR,
    fetched_at TIMESTAMP NOT NULL,
    model_version VARCHAR NOT NULL,
    run_id BIGINT,
    processed_at TIMESTAMP NOT NULL
);
CREATE TABLE sentences (
    pmid VARCHAR NOT NULL,
    idx INTEGER NOT NULL,
    section VARCHAR NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text VARCHAR NOT NULL,
    pk_score DOUBLE,
    kept BOOLEAN NOT NULL,
    PRIMARY KEY (pmid, idx)
);
CREATE TABLE mentions (
    pmid VARCHAR NOT NULL,
    sentence_idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    label VARCHAR NOT NULL,
    text VARCHAR NOT NULL,
    score DOUBLE,
    model_version VARCHAR NOT NULL,
    run_id BIGINT,
    PRIMARY KEY (pmid, sentence_idx, start, "end", label)
);
CREATE TABLE measurements (
    id VARCHAR PRIMARY KEY,
    pmid VARCHAR NOT NULL,
    sentence_idx INTEGER NOT NULL,
    parameter_text VARCHAR NOT NULL,
    parameter_start INTEGER NOT NULL,
    parameter_end INTEGER NOT NULL,
    parameter VARCHAR,
    value_text VARCHAR,
    value_start INTEGER,
    value_end INTEGER,
    value DOUBLE,
    value_low DOUBLE,
    value_high DOUBLE,
    comparator VARCHAR,
    deviation_text VARCHAR,
    deviation DOUBLE,
    deviation_type VARCHAR,
    measurement_type VARCHAR,
    unit_text VARCHAR,
    unit VARCHAR,
    value_canonical DOUBLE,
    value_low_canonical DOUBLE,
    value_high_canonical DOUBLE,
    drug VARCHAR,
    drug_source VARCHAR,
    flags VARCHAR[],
    run_id BIGINT,
    model_version VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX measurements_pmid ON measurements (pmid);
CREATE INDEX measurements_drug_parameter ON measurements (drug, parameter);
"""


# Columns that schema version 2 adds, in this order (new stores and migrated ones alike).
MEASUREMENT_COLUMNS_V2 = (
    ("source", "VARCHAR NOT NULL DEFAULT 'abstract'"),  # 'abstract' | 'body' | 'table'
    ("pmcid", "VARCHAR"),
    ("section", "VARCHAR"),  # body: section title path
    ("table_id", "VARCHAR"),
    ("table_label", "VARCHAR"),
    ("row", "INTEGER"),  # table cell, 0-based in the expanded body grid
    ("col", "INTEGER"),
    ("group_label", "VARCHAR"),
    ("n", "INTEGER"),
    ("statistic", "VARCHAR"),
    ("deviation_canonical", "DOUBLE"),
    ("age_group", "VARCHAR"),
    ("population", "VARCHAR"),
    ("conditions", "VARCHAR[]"),
    ("species", "VARCHAR"),
    ("route", "VARCHAR"),
    ("dose_text", "VARCHAR"),
    ("evidence", "VARCHAR"),
)
# Measurement columns that version 2 makes nullable (a table measurement has no sentence).
MEASUREMENT_NULLABLE_V2 = ("sentence_idx", "parameter_start", "parameter_end")
ARTICLE_COLUMNS_V2 = (("fulltext_status", "VARCHAR"),)  # 'open' | 'unavailable' | 'none'
SENTENCE_COLUMNS_V2 = (("source", "VARCHAR NOT NULL DEFAULT 'abstract'"),)
TABLES_V2 = """
CREATE TABLE article_tables (
    pmid VARCHAR NOT NULL,
    table_id VARCHAR NOT NULL,
    label VARCHAR,
    caption VARCHAR,
    kind VARCHAR,                      -- 'pk' | 'demographic' | 'other'
    header_rows INTEGER,
    grid VARCHAR[][],                  -- the expanded cells, row by row
    footnotes VARCHAR[],
    PRIMARY KEY (pmid, table_id)
);
CREATE TABLE bulk_files (
    name VARCHAR PRIMARY KEY,
    size BIGINT,
    sha256 VARCHAR,
    counts JSON,
    model_version VARCHAR,
    finished_at TIMESTAMP
);
"""
MEASUREMENT_INDEXES = """
CREATE INDEX measurements_pmid ON measurements (pmid);
CREATE INDEX measurements_drug_parameter ON measurements (drug, parameter);
"""


def _columns_ddl(columns: tuple[tuple[str, str], ...]) -> str:
    return "".join(f",\n    {q(name)} {kind}" for name, kind in columns)


def _schema_v2() -> str:
    """The DDL of a new store: version 1's with version 2's columns and tables."""
    ddl = SCHEMA_V1
    for table, last, columns in (
        ("measurements", "    updated_at TIMESTAMP NOT NULL", MEASUREMENT_COLUMNS_V2),
        ("articles", "    processed_at TIMESTAMP NOT NULL", ARTICLE_COLUMNS_V2),
        ("sentences", "    kept BOOLEAN NOT NULL", SENTENCE_COLUMNS_V2),
    ):
        anchor = f"CREATE TABLE {table} ("
        head, tail = ddl.split(anchor, 1)
        tail = tail.replace(last, last + _columns_ddl(columns), 1)
        if table == "measurements":
            for col in MEASUREMENT_NULLABLE_V2:
                tail = tail.replace(f"    {col} INTEGER NOT NULL,\n", f"    {col} INTEGER,\n", 1)
        ddl = head + anchor + tail
    return ddl + TABLES_V2 + REVIEW_TABLES


_SCHEMA = _schema_v2()


def _migrate_1_to_2(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 1 -> 2: full-text and table columns, ``article_tables``, ``bulk_files``. Existing
    rows keep their values and get ``source = 'abstract'``. DuckDB refuses to change a
    column's NOT NULL while an index depends on the table, so the measurement indexes are
    dropped and re-created around the change."""
    con.execute("DROP INDEX measurements_pmid; DROP INDEX measurements_drug_parameter;")
    for col in MEASUREMENT_NULLABLE_V2:
        con.execute(f"ALTER TABLE measurements ALTER COLUMN {q(col)} DROP NOT NULL")
    for table, columns in (
        ("measurements", MEASUREMENT_COLUMNS_V2),
        ("articles", ARTICLE_COLUMNS_V2),
        ("sentences", SENTENCE_COLUMNS_V2),
    ):
        for name, kind in columns:
            # ADD COLUMN takes no constraint: add with the default, then forbid NULL
            not_null = " NOT NULL" in kind
            con.execute(f"ALTER TABLE {table} ADD COLUMN {q(name)} {kind.replace(' NOT NULL', '')}")
            if not_null:
                con.execute(f"ALTER TABLE {table} ALTER COLUMN {q(name)} SET NOT NULL")
    con.execute(MEASUREMENT_INDEXES)
    con.execute(TABLES_V2)


# Migrations: _MIGRATIONS[v] upgrades a store of schema version v to v + 1 (in a transaction).
_MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {
    1: _migrate_1_to_2,
    2: migrate_add_review,  # version 3: review decisions (pkharvest.store.review)
}


_S = pa.string()
_I = pa.int64()
_F = pa.float64()
ARTICLE_ARROW = pa.schema(
    [
        ("pmid", _S), ("title", _S), ("abstract", _S),
        ("sections", pa.list_(pa.struct([("label", _S), ("text", _S)]))),
        ("journal", _S), ("year", _I), ("doi", _S), ("pmcid", _S), ("mesh", pa.list_(_S)),
        ("chemicals", pa.list_(_S)), ("publication_types", pa.list_(_S)), ("language", _S),
        ("fulltext_status", _S),
    ]
)  # fmt: skip
SENTENCE_ARROW = pa.schema(
    [("pmid", _S), ("idx", _I), ("section", _S), ("start", _I), ("end", _I), ("text", _S),
     ("pk_score", _F), ("kept", pa.bool_()), ("source", _S)]
)  # fmt: skip
MENTION_ARROW = pa.schema(
    [("pmid", _S), ("sentence_idx", _I), ("start", _I), ("end", _I), ("label", _S),
     ("text", _S), ("score", _F)]
)  # fmt: skip
MEASUREMENT_ARROW = pa.schema(
    [
        ("id", _S), ("pmid", _S), ("sentence_idx", _I), ("parameter_text", _S),
        ("parameter_start", _I), ("parameter_end", _I), ("parameter", _S), ("value_text", _S),
        ("value_start", _I), ("value_end", _I), ("value", _F), ("value_low", _F),
        ("value_high", _F), ("comparator", _S), ("deviation_text", _S), ("deviation", _F),
        ("deviation_type", _S), ("measurement_type", _S), ("unit_text", _S), ("unit", _S),
        ("value_canonical", _F), ("value_low_canonical", _F), ("value_high_canonical", _F),
        ("drug", _S), ("drug_source", _S), ("flags", pa.list_(_S)),
        ("source", _S), ("pmcid", _S), ("section", _S), ("table_id", _S), ("table_label", _S),
        ("row", _I), ("col", _I), ("group_label", _S), ("n", _I), ("statistic", _S),
        ("deviation_canonical", _F), ("age_group", _S), ("population", _S),
        ("conditions", pa.list_(_S)), ("species", _S), ("route", _S), ("dose_text", _S),
        ("evidence", _S),
    ]
)  # fmt: skip
TABLE_ARROW = pa.schema(
    [("pmid", _S), ("table_id", _S), ("label", _S), ("caption", _S), ("kind", _S),
     ("header_rows", _I), ("grid", pa.list_(pa.list_(_S))), ("footnotes", pa.list_(_S))]
)  # fmt: skip

# The written columns of each table, in the order of its Arrow schema (one definition).
ARTICLE_COLS: tuple[str, ...] = tuple(ARTICLE_ARROW.names)
SENTENCE_COLS: tuple[str, ...] = tuple(SENTENCE_ARROW.names)
MENTION_COLS: tuple[str, ...] = tuple(MENTION_ARROW.names)
MEASUREMENT_COLS: tuple[str, ...] = tuple(MEASUREMENT_ARROW.names)
TABLE_COLS: tuple[str, ...] = tuple(TABLE_ARROW.names)


def user_objects(con: duckdb.DuckDBPyConnection) -> int:
    """Tables and views of the file (0 for a new, empty DuckDB file)."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
        " AND NOT internal) + (SELECT count(*) FROM duckdb_views()"
        " WHERE database_name = current_database() AND NOT internal)"
    ).fetchone()
    return int(row[0]) if row else 0


def verify_data(con: duckdb.DuckDBPyConnection) -> None:
    """Read every column of every table once before the first write, so that a partly
    copied or truncated file (intact catalog, data blocks cut off) is refused with a
    StoreError instead of failing -- and being written to -- in the middle of a run.
    DuckDB checks block checksums as it reads; the scan is linear in the store's size,
    which is small next to a run's fetching and tagging."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            " AND NOT internal ORDER BY table_name"
        ).fetchall()
    ]
    for table in tables:
        con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {q(table)}").fetchall()


def read_meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    try:
        rows = con.execute("SELECT key, value FROM meta").fetchall()
    except duckdb.Error:
        return {}
    return {str(k): str(v) for k, v in rows}


def prepare(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    read_only: bool,
    locked: bool,
    views: str,
) -> None:
    """Create the schema in an empty file, or check an existing one (application, version),
    migrate it when older, and (when writable) verify its data and (re)create ``views``."""
    try:
        if user_objects(con) == 0:
            if read_only:
                raise StoreError(f"{path}: empty DuckDB file, not a pkharvest store")
            create(con, path, views)
            return
        meta = read_meta(con)
        if meta.get("application_id") != APPLICATION_ID:
            raise StoreError(
                f"{path}: not a pkharvest store (a DuckDB file of another application);"
                " refusing to touch it"
            )
        try:
            version = int(meta.get("schema_version", ""))
        except ValueError:
            raise StoreError(f"{path}: store has no valid schema version") from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path}: store schema version {version} is newer than this pkharvest"
                f" ({SCHEMA_VERSION}); upgrade pkharvest"
            )
        if version < SCHEMA_VERSION:
            if read_only:
                raise StoreError(
                    f"{path}: store schema version {version} needs an upgrade to"
                    f" {SCHEMA_VERSION}; open it once for writing"
                )
            migrate(con, path, version)
        if not read_only:
            verify_data(con)
            con.execute(views)
            if locked:
                # We hold the lock, so a run still marked running was killed.
                con.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
    except duckdb.Error as exc:
        raise StoreError(f"{path}: cannot read store: {exc}") from None


def create(con: duckdb.DuckDBPyConnection, path: Path, views: str) -> None:
    con.begin()
    try:
        con.execute(_SCHEMA)
        con.execute(views)
        con.execute(
            "INSERT INTO meta VALUES ('application_id', $a), ('schema_version', $v),"
            " ('created', $c)",
            {"a": APPLICATION_ID, "v": str(SCHEMA_VERSION), "c": now().isoformat()},
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    logger.info("created store %s (schema version %d)", path, SCHEMA_VERSION)


def migrate(con: duckdb.DuckDBPyConnection, path: Path, version: int) -> None:
    """Upgrade a store from ``version`` to :data:`SCHEMA_VERSION`, one transaction a step."""
    while version < SCHEMA_VERSION:
        step = _MIGRATIONS.get(version)
        if step is None:
            raise StoreError(f"{path}: no migration from schema version {version}")
        con.begin()
        try:
            step(con)
            version += 1
            con.execute(
                "UPDATE meta SET value = $v WHERE key = 'schema_version'", {"v": str(version)}
            )
            con.commit()
        except BaseException as exc:
            con.rollback()
            if not isinstance(exc, Exception) or isinstance(exc, PkHarvestError):
                raise
            raise StoreError(
                f"{path}: migration from schema version {version} failed; the store"
                f" is left at version {version}: {type(exc).__name__}: {exc}"
            ) from exc
        logger.info("migrated store %s to schema version %d", path, version)
