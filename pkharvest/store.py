"""The DuckDB parameter store: schema, migrations, transactional batch upserts, runs and saved
searches, views, and the ready-made queries of ``queries/``.

This is the only module with SQL besides ``queries/*.sql`` (see ``docs/store.md``).

Write model
-----------
* A batch (:meth:`Store.write_batch`) carries *complete* articles: each article with all its
  sentences, mentions and measurements. It is written in one transaction: either all of it is
  stored or, on any error, nothing of it (earlier batches stay).
* Rows are upserted on natural keys: articles ``pmid``; sentences ``(pmid, idx)``; mentions
  ``(pmid, sentence_idx, start, end, label)``; measurements ``id`` =
  ``pmid:sentence:parameter offsets:value offsets`` (see :func:`measurement_id`). Re-writing the
  same batch therefore adds nothing and keeps ids and ``created_at``.
* The store holds one extraction per article, the latest written: rows of an article in the batch
  that the batch does not contain (e.g. from an earlier model version) are removed. The model
  version that produced an article's rows is ``articles.model_version``;
  :meth:`Store.processed_pmids` answers "which articles are done with model version X".
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import filelock
import pyarrow as pa

from pkharvest.errors import (
    PkHarvestError,
    StoreError,
    StoreLockedError,
    UsageError,
    first_line,
)
from pkharvest.paths import PROJECT_ROOT
from pkharvest.records import AbstractSection, Article, Entity, Measurement, Sentence
from pkharvest.review.storage import (
    REVIEW_TABLES,
    ReviewMixin,
    create_review_views,
    migrate_add_review,
)

logger = logging.getLogger(__name__)

APPLICATION_ID = "pkharvest"
SCHEMA_VERSION = 2
LOCK_SUFFIX = ".lock"
QUERIES_DIR = PROJECT_ROOT / "queries"
QUERY_SUFFIX = ".sql"
PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/"
EXPORT_FORMATS = ("parquet", "csv")
RUN_STATUSES = ("running", "ok", "failed", "interrupted")
_DUCKDB_MAGIC = b"DUCK"
# Never download extensions: a store needs none beyond the bundled parquet/json. Shared with
# the experiment run store (pkharvest.experiment.runstore).
DUCKDB_CONFIG = {"autoinstall_known_extensions": False}


def check_duckdb_header(path: Path) -> None:
    """Refuse an existing file that is not a DuckDB database (raises :class:`StoreError` naming
    it): a SQLite database, an empty file, anything else. Checking the header first gives a
    clear one-line error and keeps DuckDB from trying to fetch a scanner extension for e.g. a
    SQLite file. A missing path or a folder passes (the caller decides about those)."""
    if not path.is_file():
        return
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read store: {exc.strerror}") from None
    # A DuckDB file has the magic bytes "DUCK" after an 8-byte checksum.
    if head[8:12] != _DUCKDB_MAGIC:
        if head.startswith(b"SQLite format 3"):
            kind = "a SQLite database"
        elif not head:
            kind = "an empty file"
        else:
            kind = "corrupt or another format"
        raise StoreError(f"{path}: not a DuckDB store file ({kind})")


# --------------------------------------------------------------------------------------------
# records of the store


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence with the sentence classifier's verdict (``kept`` = passed to the tagger)."""

    sentence: Sentence
    pk_score: float | None = None
    kept: bool = True


@dataclass(frozen=True)
class Mention:
    """A tagged entity placed in its sentence (``Entity`` offsets are sentence-relative)."""

    pmid: str
    sentence_index: int
    entity: Entity


@dataclass(frozen=True)
class SavedSearch:
    id: int
    query: str
    options: dict[str, Any]
    created: datetime
    last_run: datetime | None
    last_edat: str | None


@dataclass(frozen=True)
class RunInfo:
    id: int
    search_id: int | None
    started: datetime
    finished: datetime | None
    status: str
    counts: dict[str, Any]
    model_version: str | None
    eutils_url: str | None


@dataclass(frozen=True)
class WriteCounts:
    """What one :meth:`Store.write_batch` wrote (rows upserted) and removed (stale rows)."""

    articles: int = 0
    sentences: int = 0
    mentions: int = 0
    measurements: int = 0
    removed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "articles": self.articles,
            "sentences": self.sentences,
            "mentions": self.mentions,
            "measurements": self.measurements,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class StoredSentence:
    """A stored sentence with its mentions and the measurements linked in it."""

    index: int
    section: str
    start: int
    end: int
    text: str
    pk_score: float | None
    kept: bool
    mentions: tuple[Entity, ...] = ()
    measurements: tuple[Measurement, ...] = ()


@dataclass(frozen=True)
class ArticleView:
    """Everything the store holds about one article (for ``pkharvest show``)."""

    article: Article
    model_version: str
    run_id: int | None
    sentences: tuple[StoredSentence, ...] = ()

    @property
    def url(self) -> str:
        return pubmed_url(self.article.pmid)


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str = ""
    default: str | None = None  # None = required

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class QuerySpec:
    """A SQL file of ``queries/`` (or any file) with the parameters its header declares."""

    name: str
    path: Path
    sql: str
    description: str
    params: tuple[QueryParam, ...] = field(default_factory=tuple)


def pubmed_url(pmid: str) -> str:
    return f"{PUBMED_URL}{pmid}/"


def measurement_id(m: Measurement) -> str:
    """Natural key of a measurement: PMID, sentence, parameter and value offsets."""
    vs = "" if m.value_start is None else str(m.value_start)
    ve = "" if m.value_end is None else str(m.value_end)
    return f"{m.pmid}:{m.sentence_index}:{m.parameter_start}-{m.parameter_end}:{vs}-{ve}"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------------------------
# schema

_SCHEMA = """
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

# Views are (re)created on every writable open, so changing one needs no migration.
# Only point estimates enter the summary: inequalities ("< 0.5") are not estimates.
_INEQUALITIES = "('<', '>', '<=', '>=', '≤', '≥', '=<', '=>')"
_VIEWS = f"""
CREATE OR REPLACE VIEW evidence AS
SELECT
    m.id AS measurement_id, m.pmid, m.drug, m.parameter, m.measurement_type,
    m.comparator, m.value, m.value_low, m.value_high, m.value_text,
    m.unit_text, m.unit, m.value_canonical, m.value_low_canonical, m.value_high_canonical,
    m.deviation, m.deviation_text, m.deviation_type, m.parameter_text,
    m.sentence_idx, s.section, s.text AS sentence, s.start AS sentence_start,
    s."end" AS sentence_end, m.parameter_start, m.parameter_end, m.value_start, m.value_end,
    '{PUBMED_URL}' || m.pmid || '/' AS pubmed_url,
    m.flags, m.drug_source, m.model_version, m.run_id
FROM measurements m
LEFT JOIN sentences s ON s.pmid = m.pmid AND s.idx = m.sentence_idx;

CREATE OR REPLACE VIEW parameter_summary AS
WITH v AS (
    SELECT lower(drug) AS drug, parameter, measurement_type, unit, pmid, flags,
           value_canonical AS x,
           CASE WHEN value_canonical > 0 THEN ln(value_canonical) END AS lx
    FROM measurements
    WHERE parameter IS NOT NULL
      AND value_canonical IS NOT NULL AND isfinite(value_canonical)
      AND (comparator IS NULL OR comparator NOT IN {_INEQUALITIES})
)
SELECT
    drug, parameter, measurement_type, unit,
    count(DISTINCT pmid) AS n_articles,
    count(*) AS n_values,
    quantile_cont(x, 0.5) AS median,
    quantile_cont(x, 0.25) AS q1,
    quantile_cont(x, 0.75) AS q3,
    count(lx) AS n_positive,
    exp(avg(lx)) AS geo_mean,
    sqrt(exp(var_samp(lx)) - 1) AS geo_cv,
    min(x) AS min,
    max(x) AS max,
    count(*) FILTER (WHERE len(flags) > 0) AS n_flagged
FROM v
GROUP BY drug, parameter, measurement_type, unit;
"""

# Migrations: _MIGRATIONS[v] upgrades a store of schema version v to v + 1 (in a transaction).
_MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {
    1: migrate_add_review,  # version 2: review decisions (pkharvest.review.storage)
}

_ARTICLE_COLS = (
    "pmid", "title", "abstract", "sections", "journal", "year", "doi", "pmcid", "mesh",
    "chemicals", "publication_types", "language",
)  # fmt: skip
_SENTENCE_COLS = ("pmid", "idx", "section", "start", "end", "text", "pk_score", "kept")
_MENTION_COLS = ("pmid", "sentence_idx", "start", "end", "label", "text", "score")
_MEASUREMENT_COLS = (
    "id", "pmid", "sentence_idx", "parameter_text", "parameter_start", "parameter_end",
    "parameter", "value_text", "value_start", "value_end", "value", "value_low", "value_high",
    "comparator", "deviation_text", "deviation", "deviation_type", "measurement_type",
    "unit_text", "unit", "value_canonical", "value_low_canonical", "value_high_canonical",
    "drug", "drug_source", "flags",
)  # fmt: skip

_S = pa.string()
_I = pa.int64()
_F = pa.float64()
_ARTICLE_SCHEMA = pa.schema(
    [
        ("pmid", _S), ("title", _S), ("abstract", _S),
        ("sections", pa.list_(pa.struct([("label", _S), ("text", _S)]))),
        ("journal", _S), ("year", _I), ("doi", _S), ("pmcid", _S), ("mesh", pa.list_(_S)),
        ("chemicals", pa.list_(_S)), ("publication_types", pa.list_(_S)), ("language", _S),
    ]
)  # fmt: skip
_SENTENCE_SCHEMA = pa.schema(
    [("pmid", _S), ("idx", _I), ("section", _S), ("start", _I), ("end", _I), ("text", _S),
     ("pk_score", _F), ("kept", pa.bool_())]
)  # fmt: skip
_MENTION_SCHEMA = pa.schema(
    [("pmid", _S), ("sentence_idx", _I), ("start", _I), ("end", _I), ("label", _S),
     ("text", _S), ("score", _F)]
)  # fmt: skip
_MEASUREMENT_SCHEMA = pa.schema(
    [
        ("id", _S), ("pmid", _S), ("sentence_idx", _I), ("parameter_text", _S),
        ("parameter_start", _I), ("parameter_end", _I), ("parameter", _S), ("value_text", _S),
        ("value_start", _I), ("value_end", _I), ("value", _F), ("value_low", _F),
        ("value_high", _F), ("comparator", _S), ("deviation_text", _S), ("deviation", _F),
        ("deviation_type", _S), ("measurement_type", _S), ("unit_text", _S), ("unit", _S),
        ("value_canonical", _F), ("value_low_canonical", _F), ("value_high_canonical", _F),
        ("drug", _S), ("drug_source", _S), ("flags", pa.list_(_S)),
    ]
)  # fmt: skip


def _q(col: str) -> str:
    return f'"{col}"'


def _cols(cols: Sequence[str]) -> str:
    return ", ".join(_q(c) for c in cols)


def _set(cols: Sequence[str]) -> str:
    return ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in cols)


# --------------------------------------------------------------------------------------------
# queries/ files

_PARAM_LINE = re.compile(r"^--\s*\$(\w+)\s*(.*?)\s*(?:\[default:\s*(.*?)\s*\])?\s*$")
_PLACEHOLDER = re.compile(r"\$([A-Za-z_]\w*)")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_LINE_COMMENT = re.compile(r"--[^\n]*")


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def sql_placeholders(sql: str) -> list[str]:
    """Named parameters (``$name``) used by a SQL text, ignoring comments and string literals."""
    body = _STRING_LITERAL.sub("''", _LINE_COMMENT.sub("", sql))
    seen: dict[str, None] = {}
    for name in _PLACEHOLDER.findall(body):
        seen.setdefault(name, None)
    return list(seen)


def _statement_count(sql: str) -> int:
    """How many statements DuckDB's parser finds in ``sql`` (1 when it cannot parse it: the
    syntax error is reported when the query runs, with its position)."""
    with duckdb.connect(":memory:") as con:
        try:
            return len(con.extract_statements(sql))
        except duckdb.Error:
            return 1


def parse_query(path: Path, name: str | None = None) -> QuerySpec:
    """Read a SQL file; its leading ``--`` comment is the description, and lines
    ``-- $name  description [default: value]`` declare its parameters (no default = required).
    A file that declares none takes the ``$name`` placeholders of its body, all required."""
    try:
        sql = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read query file {path}: {exc.strerror}", option="QUERY") from None
    except UnicodeDecodeError:
        raise UsageError(f"query file {path}: not UTF-8 text", option="QUERY") from None
    description: list[str] = []
    params: list[QueryParam] = []
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        match = _PARAM_LINE.match(stripped)
        if match:
            pname, desc, default = match.groups()
            params.append(QueryParam(pname, desc, None if default is None else _unquote(default)))
        elif not params:
            description.append(stripped.lstrip("-").strip())
    used = sql_placeholders(sql)
    if not params:
        params = [QueryParam(p) for p in used]
    else:
        undeclared = [p for p in used if p not in {q.name for q in params}]
        if undeclared:
            raise UsageError(
                f"query {path} uses undeclared parameter(s): {', '.join(undeclared)}",
                option="QUERY",
            )
    body = sql.strip().rstrip(";").strip()
    count = _statement_count(body)
    if count == 0:
        raise UsageError(f"query file {path}: no SQL statement", option="QUERY")
    if count > 1:
        # DuckDB would run them all and return the last result only
        raise UsageError(f"query file {path}: {count} SQL statements; a query file holds one",
                         option="QUERY")
    return QuerySpec(
        name=name or path.stem,
        path=path,
        sql=body,
        description=" ".join(d for d in description if d),
        params=tuple(params),
    )


def list_queries(folder: Path = QUERIES_DIR) -> list[QuerySpec]:
    """The ready-made queries of the project's ``queries/`` folder."""
    return [parse_query(p) for p in sorted(folder.glob(f"*{QUERY_SUFFIX}"))]


def resolve_query(name_or_path: str | Path, folder: Path = QUERIES_DIR) -> QuerySpec:
    """A query by name (``queries/<name>.sql``) or by path to a ``.sql`` file."""
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.is_file():
        return parse_query(candidate)
    if re.fullmatch(r"[A-Za-z0-9_\-]+", text):
        named = folder / f"{text}{QUERY_SUFFIX}"
        if named.is_file():
            return parse_query(named, name=text)
    known = ", ".join(p.stem for p in sorted(folder.glob(f"*{QUERY_SUFFIX}")))
    raise UsageError(
        f"no query named {text!r} and no such file (known queries: {known or 'none'})",
        option="QUERY",
    )


def bind_params(spec: QuerySpec, params: Mapping[str, str] | None) -> dict[str, str]:
    """Check user parameters against a query's declaration; apply defaults.

    Raises UsageError (option ``--param``) naming unknown and missing parameters."""
    given = dict(params or {})
    declared = {p.name: p for p in spec.params}
    unknown = sorted(set(given) - set(declared))
    missing = [p.name for p in spec.params if p.required and p.name not in given]
    problems = []
    if unknown:
        problems.append(f"unknown parameter(s) {', '.join(unknown)}")
    if missing:
        problems.append(f"missing parameter(s) {', '.join(missing)}")
    if problems:
        expected = ", ".join(p.name if p.required else f"{p.name} (optional)" for p in spec.params)
        raise UsageError(
            f"query {spec.name}: {'; '.join(problems)} (expected: {expected or 'none'})",
            option="--param",
        )
    bound = {p.name: given.get(p.name, p.default) for p in spec.params}
    used = set(sql_placeholders(spec.sql))
    return {k: str(v) for k, v in bound.items() if k in used}


# --------------------------------------------------------------------------------------------
# the store


class Store(ReviewMixin):
    """A pkharvest DuckDB store (a context manager).

    ``read_only`` opens an existing store without writing; ``lock`` (default: when writable)
    holds ``<db>.lock`` so that two runs cannot write one store at once; a held lock raises
    :class:`StoreLockedError` (exit code 3) after ``lock_timeout`` seconds, as does a store that
    another process has open for writing without the lock (DuckDB's own file lock).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        lock: bool | None = None,
        lock_timeout: float = 0.0,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._lock: filelock.BaseFileLock | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._check_path()
        if lock if lock is not None else not read_only:
            self._acquire_lock(lock_timeout)
        try:
            self._con = self._connect()
            self._prepare()
        except BaseException:
            self.close()
            raise

    # -- opening ------------------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + LOCK_SUFFIX)

    def _acquire_lock(self, timeout: float) -> None:
        lock = filelock.FileLock(str(self.lock_path), timeout=timeout)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise StoreLockedError(
                f"{self.path}: store is locked by another run (lock file {self.lock_path}); "
                "wait for it to finish"
            ) from None
        except OSError as exc:
            raise StoreError(f"{self.lock_path}: cannot create lock file: {exc}") from None
        self._lock = lock

    def _check_path(self) -> None:
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a directory, not a store file")
        if self.read_only and not self.path.exists():
            raise StoreError(f"{self.path}: no such store")
        if not self.read_only and not self.path.parent.is_dir():
            raise StoreError(f"{self.path}: folder {self.path.parent} does not exist")
        check_duckdb_header(self.path)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(self.path), read_only=self.read_only, config=DUCKDB_CONFIG)
        except duckdb.Error as exc:
            msg = first_line(exc)
            if "lock" in msg.lower():
                raise StoreLockedError(
                    f"{self.path}: store is in use by another process ({msg})"
                ) from None
            if "not a valid duckdb" in msg.lower():
                raise StoreError(
                    f"{self.path}: not a DuckDB store file (corrupt or another format)"
                ) from None
            raise StoreError(f"{self.path}: cannot open store ({msg})") from None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError(f"{self.path}: store is closed")
        return self._con

    def _user_objects(self) -> int:
        row = self.con.execute(
            "SELECT (SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
            " AND NOT internal) + (SELECT count(*) FROM duckdb_views()"
            " WHERE database_name = current_database() AND NOT internal)"
        ).fetchone()
        return int(row[0]) if row else 0

    def _verify_data(self) -> None:
        """Read every column of every table once before the first write, so that a partly
        copied or truncated file (intact catalog, data blocks cut off) is refused with a
        StoreError instead of failing -- and being written to -- in the middle of a run.
        DuckDB checks block checksums as it reads; the scan is linear in the store's size,
        which is small next to a run's fetching and tagging."""
        tables = [
            r[0]
            for r in self.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
                " AND NOT internal ORDER BY table_name"
            ).fetchall()
        ]
        for table in tables:
            self.con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {_q(table)}").fetchall()

    def _meta(self) -> dict[str, str]:
        try:
            rows = self.con.execute("SELECT key, value FROM meta").fetchall()
        except duckdb.Error:
            return {}
        return {str(k): str(v) for k, v in rows}

    def _prepare(self) -> None:
        try:
            if self._user_objects() == 0:
                if self.read_only:
                    raise StoreError(f"{self.path}: empty DuckDB file, not a pkharvest store")
                self._create()
                return
            meta = self._meta()
            if meta.get("application_id") != APPLICATION_ID:
                raise StoreError(
                    f"{self.path}: not a pkharvest store (a DuckDB file of another application);"
                    " refusing to touch it"
                )
            try:
                version = int(meta.get("schema_version", ""))
            except ValueError:
                raise StoreError(f"{self.path}: store has no valid schema version") from None
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: store schema version {version} is newer than this pkharvest"
                    f" ({SCHEMA_VERSION}); upgrade pkharvest"
                )
            if version < SCHEMA_VERSION:
                if self.read_only:
                    raise StoreError(
                        f"{self.path}: store schema version {version} needs an upgrade to"
                        f" {SCHEMA_VERSION}; open it once for writing"
                    )
                self._migrate(version)
            if not self.read_only:
                self._verify_data()
                self.con.execute(_VIEWS)
                create_review_views(self.con)
                if self._lock is not None:
                    # We hold the lock, so a run still marked running was killed.
                    self.con.execute(
                        "UPDATE runs SET status = 'interrupted' WHERE status = 'running'"
                    )
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: cannot read store: {exc}") from None

    def _create(self) -> None:
        con = self.con
        con.begin()
        try:
            con.execute(_SCHEMA)
            con.execute(REVIEW_TABLES)
            con.execute(_VIEWS)
            create_review_views(con)
            con.execute(
                "INSERT INTO meta VALUES ('application_id', $a), ('schema_version', $v),"
                " ('created', $c)",
                {"a": APPLICATION_ID, "v": str(SCHEMA_VERSION), "c": _now().isoformat()},
            )
            con.commit()
        except BaseException:
            con.rollback()
            raise
        logger.info("created store %s (schema version %d)", self.path, SCHEMA_VERSION)

    def _migrate(self, version: int) -> None:
        con = self.con
        while version < SCHEMA_VERSION:
            step = _MIGRATIONS.get(version)
            if step is None:
                raise StoreError(f"{self.path}: no migration from schema version {version}")
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
                    f"{self.path}: migration from schema version {version} failed; the store"
                    f" is left at version {version}: {type(exc).__name__}: {exc}"
                ) from exc
            logger.info("migrated store %s to schema version %d", self.path, version)

    @property
    def schema_version(self) -> int:
        return int(self._meta().get("schema_version", "0"))

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.path}: store is open read-only")

    # -- saved searches and runs ----------------------------------------------------------

    def start_search(self, query: str, options: Mapping[str, Any] | None = None) -> int:
        """The id of the saved search ``query`` + ``options`` (created when new)."""
        self._writable()
        opts = json.dumps(dict(options or {}), sort_keys=True, default=str)
        row = self.con.execute(
            "SELECT id FROM searches WHERE query = $q AND options = $o", {"q": query, "o": opts}
        ).fetchone()
        if row:
            return int(row[0])
        row = self.con.execute(
            "INSERT INTO searches (query, options, created) VALUES ($q, $o, $c) RETURNING id",
            {"q": query, "o": opts, "c": _now()},
        ).fetchone()
        assert row is not None
        return int(row[0])

    def saved_searches(self) -> list[SavedSearch]:
        rows = self.con.execute(
            "SELECT id, query, options, created, last_run, last_edat FROM searches ORDER BY id"
        ).fetchall()
        return [SavedSearch(int(r[0]), r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    def mark_search_ran(
        self, search_id: int, when: datetime | None = None, last_edat: str | date | None = None
    ) -> None:
        """Record that a saved search ran at ``when``; ``last_edat`` (default: the date of
        ``when``, ``YYYY/MM/DD``) is the Entrez date a refresh starts from."""
        self._writable()
        when = when or _now()
        if when.tzinfo is not None:
            when = when.astimezone(timezone.utc).replace(tzinfo=None)
        if last_edat is None:
            last_edat = when.date()
        edat = last_edat.strftime("%Y/%m/%d") if isinstance(last_edat, date) else str(last_edat)
        row = self.con.execute(
            "UPDATE searches SET last_run = $w, last_edat = $e WHERE id = $i RETURNING id",
            {"w": when, "e": edat, "i": search_id},
        ).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no saved search with id {search_id}")

    def start_run(
        self,
        search_id: int | None = None,
        *,
        model_version: str | None = None,
        eutils_url: str | None = None,
    ) -> int:
        self._writable()
        row = self.con.execute(
            "INSERT INTO runs (search_id, started, status, counts, model_version, eutils_url)"
            " VALUES ($s, $t, 'running', '{}', $m, $u) RETURNING id",
            {"s": search_id, "t": _now(), "m": model_version, "u": eutils_url},
        ).fetchone()
        assert row is not None
        return int(row[0])

    def finish_run(
        self, run_id: int, status: str = "ok", counts: Mapping[str, Any] | None = None
    ) -> None:
        self._writable()
        if status not in RUN_STATUSES:
            raise StoreError(f"run status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
        row = self.con.execute(
            "UPDATE runs SET finished = $f, status = $s, counts = $c WHERE id = $i RETURNING id",
            {
                "f": _now(),
                "s": status,
                "c": json.dumps(dict(counts or {}), sort_keys=True, default=str),
                "i": run_id,
            },
        ).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no run with id {run_id}")

    def runs(self) -> list[RunInfo]:
        rows = self.con.execute(
            "SELECT id, search_id, started, finished, status, counts, model_version, eutils_url"
            " FROM runs ORDER BY id"
        ).fetchall()
        return [
            RunInfo(int(r[0]), r[1], r[2], r[3], r[4], json.loads(r[5] or "{}"), r[6], r[7])
            for r in rows
        ]

    # -- writing --------------------------------------------------------------------------

    def write_batch(
        self,
        articles: Iterable[Article],
        sentences: Iterable[Sentence | ScoredSentence],
        mentions: Iterable[Mention | tuple[str, int, Entity]],
        measurements: Iterable[Measurement],
        run_id: int | None,
        model_version: str,
    ) -> WriteCounts:
        """Upsert complete articles in ONE transaction (see the module docstring).

        Every sentence, mention and measurement must belong to an article of the batch and
        mentions/measurements to a sentence of the batch; otherwise StoreError before any
        write. Any failure rolls the whole batch back and raises StoreError."""
        self._writable()
        if not model_version:
            raise StoreError("write_batch needs a model_version")
        arts = list(articles)
        sents = [s if isinstance(s, ScoredSentence) else ScoredSentence(s) for s in sentences]
        ments = [m if isinstance(m, Mention) else Mention(*m) for m in mentions]
        meas = list(measurements)
        if not (arts or sents or ments or meas):
            return WriteCounts()
        self._check_batch(arts, sents, ments, meas)
        pmids = sorted({a.pmid for a in arts})
        con = self.con
        con.begin()
        try:
            counts = self._write(arts, sents, ments, meas, run_id, model_version)
            con.commit()
        except BaseException as exc:
            con.rollback()
            if isinstance(exc, PkHarvestError) or not isinstance(exc, Exception):
                raise
            shown = ", ".join(pmids[:5]) + (", ..." if len(pmids) > 5 else "")
            raise StoreError(
                f"{self.path}: batch of {len(pmids)} article(s) (PMID {shown}) not written,"
                f" nothing of it stored: {type(exc).__name__}: {exc}"
            ) from exc
        logger.info("stored %s", counts.as_dict())
        return counts

    @staticmethod
    def _check_batch(
        arts: list[Article],
        sents: list[ScoredSentence],
        ments: list[Mention],
        meas: list[Measurement],
    ) -> None:
        pmids = {a.pmid for a in arts}
        if len(pmids) != len(arts):
            dup = sorted({a.pmid for a in arts if sum(b.pmid == a.pmid for b in arts) > 1})
            raise StoreError(f"write_batch: article PMID {', '.join(dup)} given twice")
        keys: set[tuple[str, int]] = set()
        for s in sents:
            sent = s.sentence
            if sent.pmid not in pmids:
                raise StoreError(
                    f"write_batch: sentence {sent.index} of PMID {sent.pmid} has no article"
                    " in the batch"
                )
            keys.add((sent.pmid, sent.index))
        for m in ments:
            if (m.pmid, m.sentence_index) not in keys:
                raise StoreError(
                    f"write_batch: mention {m.entity.text!r} of PMID {m.pmid} sentence"
                    f" {m.sentence_index} has no sentence in the batch"
                )
        for x in meas:
            if (x.pmid, x.sentence_index) not in keys:
                raise StoreError(
                    f"write_batch: measurement {x.parameter_text!r} of PMID {x.pmid} sentence"
                    f" {x.sentence_index} has no sentence in the batch"
                )

    def _write(
        self,
        arts: list[Article],
        sents: list[ScoredSentence],
        ments: list[Mention],
        meas: list[Measurement],
        run_id: int | None,
        model_version: str,
    ) -> WriteCounts:
        con = self.con
        now = _now()
        bind = {"now": now, "run": run_id, "mv": model_version}

        art_rows = [
            {
                "pmid": a.pmid,
                "title": a.title,
                "abstract": a.abstract,
                "sections": [{"label": s.label, "text": s.text} for s in a.sections],
                "journal": a.journal,
                "year": a.year,
                "doi": a.doi,
                "pmcid": a.pmcid,
                "mesh": list(a.mesh),
                "chemicals": list(a.chemicals),
                "publication_types": list(a.publication_types),
                "language": a.language,
            }
            for a in arts
        ]
        sent_rows = {
            (s.sentence.pmid, s.sentence.index): {
                "pmid": s.sentence.pmid,
                "idx": s.sentence.index,
                "section": s.sentence.section,
                "start": s.sentence.start,
                "end": s.sentence.end,
                "text": s.sentence.text,
                "pk_score": s.pk_score,
                "kept": bool(s.kept),
            }
            for s in sents
        }
        ment_rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        for m in ments:
            e = m.entity
            key = (m.pmid, m.sentence_index, e.start, e.end, e.label)
            ment_rows[key] = {
                "pmid": m.pmid,
                "sentence_idx": m.sentence_index,
                "start": e.start,
                "end": e.end,
                "label": e.label,
                "text": e.text,
                "score": e.score,
            }
        meas_rows: dict[str, dict[str, Any]] = {}
        for x in meas:
            mid = measurement_id(x)
            if mid in meas_rows:
                logger.warning("measurement %s given twice in one batch; keeping the last", mid)
            row = {c: getattr(x, c) for c in _MEASUREMENT_COLS if c not in ("id", "sentence_idx")}
            row.update(id=mid, sentence_idx=x.sentence_index, flags=list(x.flags or []))
            meas_rows[mid] = row

        tables = {
            "_batch_articles": pa.Table.from_pylist(art_rows, schema=_ARTICLE_SCHEMA),
            "_batch_sentences": pa.Table.from_pylist(
                list(sent_rows.values()), schema=_SENTENCE_SCHEMA
            ),
            "_batch_mentions": pa.Table.from_pylist(
                list(ment_rows.values()), schema=_MENTION_SCHEMA
            ),
            "_batch_measurements": pa.Table.from_pylist(
                list(meas_rows.values()), schema=_MEASUREMENT_SCHEMA
            ),
        }
        for name, table in tables.items():
            con.register(name, table)
        try:
            removed = 0
            # Stale rows: rows of the batch's articles that the batch no longer contains.
            for sql in (
                "DELETE FROM measurements WHERE pmid IN (SELECT pmid FROM _batch_articles)"
                " AND id NOT IN (SELECT id FROM _batch_measurements)",
                "DELETE FROM mentions m WHERE pmid IN (SELECT pmid FROM _batch_articles)"
                " AND NOT EXISTS (SELECT 1 FROM _batch_mentions b WHERE b.pmid = m.pmid"
                " AND b.sentence_idx = m.sentence_idx AND b.start = m.start"
                ' AND b."end" = m."end" AND b.label = m.label)',
                "DELETE FROM sentences s WHERE pmid IN (SELECT pmid FROM _batch_articles)"
                " AND NOT EXISTS (SELECT 1 FROM _batch_sentences b WHERE b.pmid = s.pmid"
                " AND b.idx = s.idx)",
            ):
                res = con.execute(sql).fetchone()
                removed += int(res[0]) if res else 0

            upd = [c for c in _ARTICLE_COLS if c != "pmid"]
            con.execute(
                f"INSERT INTO articles ({_cols(_ARTICLE_COLS)}, fetched_at, model_version,"
                f" run_id, processed_at) SELECT {_cols(_ARTICLE_COLS)}, $now, $mv, $run, $now"
                f" FROM _batch_articles ON CONFLICT (pmid) DO UPDATE SET {_set(upd)},"
                " model_version = excluded.model_version, run_id = excluded.run_id,"
                " processed_at = excluded.processed_at",
                bind,
            )
            upd = [c for c in _SENTENCE_COLS if c not in ("pmid", "idx")]
            con.execute(
                f"INSERT INTO sentences ({_cols(_SENTENCE_COLS)}) SELECT {_cols(_SENTENCE_COLS)}"
                f" FROM _batch_sentences ON CONFLICT (pmid, idx) DO UPDATE SET {_set(upd)}"
            )
            con.execute(
                f"INSERT INTO mentions ({_cols(_MENTION_COLS)}, model_version, run_id)"
                f" SELECT {_cols(_MENTION_COLS)}, $mv, $run FROM _batch_mentions"
                ' ON CONFLICT (pmid, sentence_idx, start, "end", label) DO UPDATE SET'
                " text = excluded.text, score = excluded.score,"
                " model_version = excluded.model_version, run_id = excluded.run_id",
                {"mv": model_version, "run": run_id},
            )
            upd = [c for c in _MEASUREMENT_COLS if c != "id"]
            con.execute(
                f"INSERT INTO measurements ({_cols(_MEASUREMENT_COLS)}, run_id, model_version,"
                f" created_at, updated_at) SELECT {_cols(_MEASUREMENT_COLS)}, $run, $mv, $now,"
                f" $now FROM _batch_measurements ON CONFLICT (id) DO UPDATE SET {_set(upd)},"
                " run_id = excluded.run_id, model_version = excluded.model_version,"
                " updated_at = excluded.updated_at",
                bind,
            )
        finally:
            for name in tables:
                con.unregister(name)
        return WriteCounts(
            articles=len(art_rows),
            sentences=len(sent_rows),
            mentions=len(ment_rows),
            measurements=len(meas_rows),
            removed=removed,
        )

    # -- reading --------------------------------------------------------------------------

    def processed_pmids(self, model_version: str | None = None) -> set[str]:
        """PMIDs stored with ``model_version`` (any version when ``None``)."""
        if model_version is None:
            rows = self.con.execute("SELECT pmid FROM articles").fetchall()
        else:
            rows = self.con.execute(
                "SELECT pmid FROM articles WHERE model_version = $v", {"v": model_version}
            ).fetchall()
        return {str(r[0]) for r in rows}

    def counts(self) -> dict[str, int]:
        """Number of rows per table."""
        out = {}
        for table in ("articles", "sentences", "mentions", "measurements", "searches", "runs"):
            row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
            out[table] = int(row[0]) if row else 0
        return out

    def get_article(self, pmid: str) -> Article | None:
        row = self.con.execute(
            "SELECT pmid, title, sections, journal, year, doi, pmcid, mesh, chemicals,"
            " publication_types, language FROM articles WHERE pmid = $p",
            {"p": pmid},
        ).fetchone()
        if row is None:
            return None
        return Article(
            pmid=row[0],
            title=row[1],
            sections=tuple(AbstractSection(s["text"], s["label"]) for s in row[2] or []),
            journal=row[3],
            year=row[4],
            doi=row[5],
            pmcid=row[6],
            mesh=tuple(row[7] or ()),
            chemicals=tuple(row[8] or ()),
            publication_types=tuple(row[9] or ()),
            language=row[10],
        )

    def measurements(self, pmid: str | None = None) -> list[Measurement]:
        """Stored measurements (of one article, or all) as records, in text order."""
        cols = [c for c in _MEASUREMENT_COLS if c != "id"]
        sql = f"SELECT {_cols(cols)} FROM measurements"
        args: dict[str, Any] = {}
        if pmid is not None:
            sql += " WHERE pmid = $p"
            args["p"] = pmid
        sql += " ORDER BY pmid, sentence_idx, parameter_start, value_start NULLS FIRST"
        out = []
        for row in self.con.execute(sql, args).fetchall():
            d = dict(zip(cols, row, strict=True))
            d["sentence_index"] = d.pop("sentence_idx")
            d["flags"] = list(d["flags"] or [])
            out.append(Measurement(**d))
        return out

    def article_view(self, pmid: str) -> ArticleView | None:
        """The article with its sentences, mentions and measurements; ``None`` if unknown."""
        article = self.get_article(pmid)
        if article is None:
            return None
        head = self.con.execute(
            "SELECT model_version, run_id FROM articles WHERE pmid = $p", {"p": pmid}
        ).fetchone()
        assert head is not None
        ments: dict[int, list[Entity]] = {}
        for idx, label, start, end, text, score in self.con.execute(
            'SELECT sentence_idx, label, start, "end", text, score FROM mentions'
            ' WHERE pmid = $p ORDER BY sentence_idx, start, "end"',
            {"p": pmid},
        ).fetchall():
            ments.setdefault(idx, []).append(Entity(label, start, end, text, score))
        meas: dict[int, list[Measurement]] = {}
        for m in self.measurements(pmid):
            meas.setdefault(m.sentence_index, []).append(m)
        sentences = tuple(
            StoredSentence(
                index=r[0],
                section=r[1],
                start=r[2],
                end=r[3],
                text=r[4],
                pk_score=r[5],
                kept=r[6],
                mentions=tuple(ments.get(r[0], ())),
                measurements=tuple(meas.get(r[0], ())),
            )
            for r in self.con.execute(
                'SELECT idx, section, start, "end", text, pk_score, kept FROM sentences'
                " WHERE pmid = $p ORDER BY idx",
                {"p": pmid},
            ).fetchall()
        )
        return ArticleView(article, head[0], head[1], sentences)

    # -- queries and export ---------------------------------------------------------------

    def run_query(
        self, name_or_path: str | Path, params: Mapping[str, str] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query of ``queries/`` (by name) or a ``.sql`` file with bound parameters.

        Returns ``(columns, rows)``. Unknown/missing parameters raise UsageError naming them
        (option ``--param``); a failing query raises StoreError naming the file."""
        spec = resolve_query(name_or_path)
        bound = bind_params(spec, params)
        try:
            cur = self.con.execute(spec.sql, bound)
            columns = [d[0] for d in cur.description or []]
            rows = cur.fetchall() if cur.description else []
        except duckdb.Error as exc:
            msg = first_line(exc)
            raise StoreError(f"query {spec.path}: {msg}") from None
        return columns, rows

    def export(
        self,
        out: str | Path,
        fmt: str = "parquet",
        *,
        drugs: Sequence[str] = (),
        parameters: Sequence[str] = (),
    ) -> int:
        """Write measurements joined with their sentence, article and run (provenance) to
        ``out`` with DuckDB's COPY; ``drugs`` (case-insensitive) and ``parameters`` filter.
        Returns the number of rows written."""
        if fmt not in EXPORT_FORMATS:
            raise UsageError(
                f"format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}", option="--format"
            )
        out = Path(out)
        if not out.parent.exists():
            raise UsageError(f"folder {out.parent} does not exist", option="--out")
        if out.is_dir():
            raise UsageError(f"{out} is a folder; give a file name", option="--out")
        # COPY takes its target as a literal, not a parameter: quote it as a SQL string.
        target = "'" + str(out).replace("'", "''") + "'"
        options = "(FORMAT parquet)" if fmt == "parquet" else "(FORMAT csv, HEADER true)"
        sql = f"""
            COPY (
                SELECT e.*, a.title, a.journal, a.year, a.doi, a.pmcid,
                       r.started AS run_started, r.search_id, s.query AS search_query
                FROM evidence e
                JOIN articles a USING (pmid)
                LEFT JOIN runs r ON r.id = e.run_id
                LEFT JOIN searches s ON s.id = r.search_id
                WHERE (len(CAST($drugs AS VARCHAR[])) = 0
                       OR list_contains(CAST($drugs AS VARCHAR[]), lower(e.drug)))
                  AND (len(CAST($params AS VARCHAR[])) = 0
                       OR list_contains(CAST($params AS VARCHAR[]), e.parameter))
                ORDER BY e.pmid, e.sentence_idx, e.parameter_start
            ) TO {target} {options}
        """
        try:
            row = self.con.execute(
                sql, {"drugs": [d.lower() for d in drugs], "params": list(parameters)}
            ).fetchone()
        except duckdb.Error as exc:
            raise StoreError(f"{out}: export failed: {first_line(exc)}") from None
        n = int(row[0]) if row else 0
        logger.info("exported %d measurement(s) to %s", n, out)
        return n
