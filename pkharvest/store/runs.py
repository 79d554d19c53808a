"""Saved searches, runs and the bulk manifest: what was searched or processed, when, with which
model, and how it ended."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import duckdb

from pkharvest.errors import StoreError
from pkharvest.store.connection import StoreConnection, now

RUN_STATUSES = ("running", "ok", "failed", "interrupted")


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
class BulkFile:
    """One processed bulk file of the manifest (``bulk_files``)."""

    name: str
    size: int | None
    sha256: str | None
    counts: dict[str, Any]
    model_version: str | None
    finished_at: datetime | None


def upsert_bulk_file(con: duckdb.DuckDBPyConnection, entry: BulkFile) -> None:
    """Record (or replace) ``entry`` in the bulk manifest on ``con`` (within the caller's
    transaction, if any); ``finished_at`` defaults to now (UTC)."""
    when = entry.finished_at or now()
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    con.execute(
        "INSERT INTO bulk_files (name, size, sha256, counts, model_version, finished_at)"
        " VALUES ($n, $s, $h, $c, $m, $f) ON CONFLICT (name) DO UPDATE SET"
        " size = excluded.size, sha256 = excluded.sha256, counts = excluded.counts,"
        " model_version = excluded.model_version, finished_at = excluded.finished_at",
        {
            "n": entry.name,
            "s": entry.size,
            "h": entry.sha256,
            "c": json.dumps(dict(entry.counts), sort_keys=True, default=str),
            "m": entry.model_version,
            "f": when,
        },
    )


class RunsMixin(StoreConnection):
    """Saved searches and runs of :class:`pkharvest.store.Store`."""

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
            {"q": query, "o": opts, "c": now()},
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
        when = when or now()
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
            {"s": search_id, "t": now(), "m": model_version, "u": eutils_url},
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
                "f": now(),
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

    def record_bulk_file(
        self,
        name: str,
        *,
        size: int | None = None,
        sha256: str | None = None,
        counts: Mapping[str, Any] | None = None,
        model_version: str | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        """Record (or replace) the manifest entry of bulk file ``name``; ``finished_at``
        defaults to now (UTC)."""
        self._writable()
        upsert_bulk_file(self.con, BulkFile(name, size, sha256, dict(counts or {}),
                                            model_version, finished_at))

    def bulk_files(self) -> list[BulkFile]:
        """The bulk manifest, by file name."""
        rows = self.con.execute(
            "SELECT name, size, sha256, CAST(counts AS VARCHAR), model_version, finished_at"
            " FROM bulk_files ORDER BY name"
        ).fetchall()
        return [BulkFile(r[0], r[1], r[2], json.loads(r[3] or "{}"), r[4], r[5]) for r in rows]
