"""Opening a store file: the header check, the run lock, the DuckDB connection and its
life cycle (:class:`StoreConnection`, the base of :class:`pkharvest.store.Store`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import duckdb
import filelock

from pkharvest.errors import StoreError, StoreLockedError, first_line

LOCK_SUFFIX = ".lock"
_C = TypeVar("_C", bound="StoreConnection")
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


def now() -> datetime:
    """The current UTC time, naive (DuckDB TIMESTAMP columns hold UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def q(col: str) -> str:
    return f'"{col}"'


def cols(names: Sequence[str]) -> str:
    return ", ".join(q(c) for c in names)


def set_excluded(names: Sequence[str]) -> str:
    return ", ".join(f"{q(c)} = excluded.{q(c)}" for c in names)


class StoreConnection:
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

    def _prepare(self) -> None:
        """Create, check or migrate the schema of the freshly opened file (the facade's)."""
        raise NotImplementedError

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError(f"{self.path}: store is closed")
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self: _C) -> _C:
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
