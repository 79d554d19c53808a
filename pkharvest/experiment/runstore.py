"""The experiment run store: one DuckDB file (``runs.duckdb``) in the experiment folder holding
every finished run, its scores and its task-gradient similarities. All experiment SQL lives here.

Each run is written in one transaction, so an interrupted grid keeps every run that finished
and loses at most the one in flight. The connection is opened per operation so that
``experiment report`` can read the file between two runs of a grid still going.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pkharvest.errors import StoreError, UsageError, first_line
from pkharvest.experiment.grid import RunSpec
from pkharvest.store import DUCKDB_CONFIG, check_duckdb_header

log = logging.getLogger(__name__)

RUNS_FILE = "runs.duckdb"
STORE_KIND = "pkharvest-experiment"
SCHEMA_VERSION = "1"
#: Seconds a connection waits for another process's lock on the file before giving up.
LOCK_WAIT_S = 120.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_key TEXT PRIMARY KEY,
    view TEXT NOT NULL,
    fraction DOUBLE NOT NULL,
    weighting TEXT NOT NULL,
    heads TEXT NOT NULL,
    configuration TEXT NOT NULL,
    ablated BOOLEAN NOT NULL,
    seed INTEGER NOT NULL,
    train_hash TEXT NOT NULL,
    dev_hash TEXT NOT NULL,
    test_hash TEXT NOT NULL,
    n_train INTEGER NOT NULL,
    n_dev INTEGER NOT NULL,
    n_test INTEGER NOT NULL,
    epochs_run INTEGER,
    best_epoch INTEGER,
    wall_time_s DOUBLE,
    config_json TEXT,
    history_json TEXT,
    finished_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS scores (
    run_key TEXT NOT NULL,
    split TEXT NOT NULL,
    metric TEXT NOT NULL,
    value DOUBLE,
    PRIMARY KEY (run_key, split, metric)
);
CREATE TABLE IF NOT EXISTS similarities (
    run_key TEXT NOT NULL,
    task_a TEXT NOT NULL,
    task_b TEXT NOT NULL,
    cosine DOUBLE,
    n_batches INTEGER NOT NULL,
    PRIMARY KEY (run_key, task_a, task_b)
);
"""

_RUN_COLUMNS = (
    "run_key, view, fraction, weighting, heads, configuration, ablated, seed, train_hash, "
    "dev_hash, test_hash, n_train, n_dev, n_test, epochs_run, best_epoch, wall_time_s, "
    "config_json, history_json"
)


@dataclass
class RunRecord:
    """Everything stored about one finished run. Scores are flat ``metric -> value`` maps
    (dotted names, e.g. ``ner.strict.micro.f1``)."""

    spec: RunSpec
    train_hash: str
    dev_hash: str
    test_hash: str
    n_train: int
    n_dev: int
    n_test: int
    test_scores: dict[str, float]
    dev_scores: dict[str, float]
    epochs_run: int | None = None
    best_epoch: int | None = None
    wall_time_s: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    history: list[Any] = field(default_factory=list)
    #: ``(task_a, task_b) -> cosine`` with task_a < task_b in head order
    similarities: dict[tuple[str, str], float] = field(default_factory=dict)
    similarity_batches: int = 0


class RunStore:
    """The run store of one experiment folder (or an explicit ``.duckdb`` path)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        path = Path(path)
        self.path = path / RUNS_FILE if path.suffix != ".duckdb" else path
        if not self.path.exists():
            if not create:
                raise StoreError(f"no experiment run store at {self.path}")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the experiment folder {path}: {exc}") from exc
        with self._connect(read_only=not create) as con:
            kind = self._meta(con, "kind")
            if kind is None:
                if not create:
                    raise StoreError(f"{self.path} is not an experiment run store")
                rows = con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
                tables = {r[0] for r in rows}
                if tables - {"meta", "runs", "scores", "similarities"}:
                    raise StoreError(f"{self.path} is not an experiment run store")
                con.execute(_SCHEMA)
                con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('kind', ?), ('schema_version', ?)",
                    [STORE_KIND, SCHEMA_VERSION],
                )
            elif kind != STORE_KIND:
                raise StoreError(f"{self.path} is a {kind!r} store, not an experiment run store")
            elif self._meta(con, "schema_version") != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {self._meta(con, 'schema_version')}, "
                    f"this pkharvest reads {SCHEMA_VERSION}"
                )

    @contextlib.contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a directory, not a store file")
        # A foreign file (SQLite, empty, ...) is refused from its header, and DuckDB is never
        # allowed to download an extension to read one.
        check_duckdb_header(self.path)
        con = self._open(read_only)
        try:
            yield con
        finally:
            con.close()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """Connect, waiting up to :data:`LOCK_WAIT_S` while another process (another shard of
        the grid, a report) holds the file's lock: connections are short, so the wait is
        too."""
        deadline = time.monotonic() + LOCK_WAIT_S
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only, config=DUCKDB_CONFIG)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                    raise StoreError(f"cannot open {self.path}: {first_line(exc)}") from None
                log.debug("%s is locked by another process; retrying", self.path)
                time.sleep(delay)
                delay = min(1.0, delay * 2)
            except duckdb.Error as exc:
                raise StoreError(
                    f"{self.path} is not a readable DuckDB file: {first_line(exc)}"
                ) from None

    @staticmethod
    def _meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
        try:
            row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        except duckdb.CatalogException:
            return None
        return row[0] if row else None

    # -- settings that every run of the folder must share -------------------------------------
    def check_settings(self, settings: Mapping[str, Any], *, record: bool = True) -> None:
        """Record the study's fixed settings (corpus hash, training options) on first use; on a
        later use, refuse settings that differ, naming each difference, since mixing them would
        make the stored runs incomparable. ``record=False`` only checks (a dry run)."""
        wanted = json.loads(json.dumps(dict(settings), sort_keys=True, default=str))
        with self._connect(read_only=not record) as con:
            stored = self._meta(con, "settings")
            if stored is None:
                if not record:
                    return
                con.execute(
                    "INSERT INTO meta VALUES ('settings', ?)", [json.dumps(wanted, sort_keys=True)]
                )
                return
        old = json.loads(stored)
        diffs = [
            f"{k}: stored {old.get(k)!r}, now {wanted.get(k)!r}"
            for k in sorted(set(old) | set(wanted))
            if old.get(k) != wanted.get(k)
        ]
        if diffs:
            raise UsageError(
                f"{self.path} holds runs made with other settings ({'; '.join(diffs)}); "
                "use another --out folder",
                field="out",
            )

    def settings(self) -> dict[str, Any]:
        with self._connect(read_only=True) as con:
            stored = self._meta(con, "settings")
        return json.loads(stored) if stored else {}

    # -- runs ----------------------------------------------------------------------------------
    def done(self) -> dict[str, str]:
        """``run_key -> train_hash`` of every finished run."""
        with self._connect(read_only=True) as con:
            return dict(con.execute("SELECT run_key, train_hash FROM runs").fetchall())

    def add(self, record: RunRecord) -> None:
        """Store one finished run, its scores and similarities, in one transaction. A run key
        already stored is refused (nothing is overwritten)."""
        spec = record.spec
        row = [
            spec.key, spec.view, spec.fraction, spec.weighting, "+".join(spec.heads),
            spec.configuration, spec.ablated, spec.seed, record.train_hash, record.dev_hash,
            record.test_hash, record.n_train, record.n_dev, record.n_test, record.epochs_run,
            record.best_epoch, record.wall_time_s,
            json.dumps(record.config, sort_keys=True, default=str),
            json.dumps(record.history, default=str),
        ]  # fmt: skip
        scores = [
            (spec.key, split, metric, _float(value))
            for split, values in (("test", record.test_scores), ("dev", record.dev_scores))
            for metric, value in values.items()
        ]
        sims = [
            (spec.key, a, b, _float(c), record.similarity_batches)
            for (a, b), c in record.similarities.items()
        ]
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                exists = con.execute(
                    "SELECT count(*) FROM runs WHERE run_key = ?", [spec.key]
                ).fetchone()
                if exists and exists[0]:
                    raise StoreError(f"run {spec.key} is already stored in {self.path}")
                con.execute(
                    f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES "
                    f"({', '.join('?' * len(row))})",
                    row,
                )
                if scores:
                    con.executemany("INSERT INTO scores VALUES (?, ?, ?, ?)", scores)
                if sims:
                    con.executemany("INSERT INTO similarities VALUES (?, ?, ?, ?, ?)", sims)
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise StoreError(f"storing run {spec.key} in {self.path} failed: {exc}") from exc
            except BaseException:
                con.execute("ROLLBACK")
                raise
        log.info("stored run %s", spec.key)

    def runs(self) -> pd.DataFrame:
        """One row per run (all columns of ``runs``)."""
        with self._connect(read_only=True) as con:
            return con.execute("SELECT * FROM runs ORDER BY run_key").df()

    def scores(self, metric: str | None = None, split: str = "test") -> pd.DataFrame:
        """Scores joined with their run's design columns: one row per run and metric."""
        sql = (
            "SELECT r.run_key, r.view, r.fraction, r.weighting, r.heads, r.configuration, "
            "r.ablated, r.seed, s.metric, s.value FROM scores s JOIN runs r USING (run_key) "
            "WHERE s.split = ?"
        )
        params: list[Any] = [split]
        if metric is not None:
            sql += " AND s.metric = ?"
            params.append(metric)
        with self._connect(read_only=True) as con:
            return con.execute(sql + " ORDER BY r.run_key, s.metric", params).df()

    def metrics(self, split: str = "test") -> list[str]:
        with self._connect(read_only=True) as con:
            rows = con.execute(
                "SELECT DISTINCT metric FROM scores WHERE split = ? ORDER BY metric", [split]
            ).fetchall()
        return [r[0] for r in rows]

    def similarities(self) -> pd.DataFrame:
        """Task-pair gradient similarities joined with their run's design columns."""
        with self._connect(read_only=True) as con:
            return con.execute(
                "SELECT r.run_key, r.view, r.fraction, r.weighting, r.heads, r.configuration, "
                "r.ablated, r.seed, s.task_a, s.task_b, s.cosine, s.n_batches "
                "FROM similarities s JOIN runs r USING (run_key) ORDER BY r.run_key"
            ).df()


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out
