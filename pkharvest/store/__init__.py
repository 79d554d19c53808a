"""The DuckDB parameter store: schema, migrations, transactional batch upserts, runs and saved
searches, views, and the ready-made queries of ``queries/``.

This package holds the project's SQL besides ``queries/*.sql`` (see ``docs/store.md``). Its
modules follow one concern each: :mod:`~pkharvest.store.connection` (file, lock, connection),
:mod:`~pkharvest.store.schema` (DDL, migrations), :mod:`~pkharvest.store.writing` (batch
upserts; the write model), :mod:`~pkharvest.store.runs` (saved searches, runs),
:mod:`~pkharvest.store.reading` (views, stored records), :mod:`~pkharvest.store.queries`
(``queries/*.sql``) and :mod:`~pkharvest.store.export`. :class:`Store` joins them.
"""

from __future__ import annotations

from pkharvest.records import Mention, ScoredSentence  # records it writes, also importable here
from pkharvest.store.connection import (
    DUCKDB_CONFIG,
    LOCK_SUFFIX,
    StoreConnection,
    check_duckdb_header,
)
from pkharvest.store.export import EXPORT_FORMATS, ExportMixin
from pkharvest.store.queries import (
    QUERIES_DIR,
    QUERY_SUFFIX,
    QueryMixin,
    QueryParam,
    QuerySpec,
    bind_params,
    list_queries,
    parse_query,
    resolve_query,
    sql_placeholders,
)
from pkharvest.store.reading import (
    PUBMED_URL,
    VIEWS,
    ArticleView,
    ReadMixin,
    StoredSentence,
    pubmed_url,
)
from pkharvest.store.review import (
    QueueFilter,
    ReviewedSentence,
    ReviewItem,
    ReviewMixin,
    ReviewNotFoundError,
    ReviewStaleError,
    review_views,
)
from pkharvest.store.runs import RUN_STATUSES, BulkFile, RunInfo, RunsMixin, SavedSearch
from pkharvest.store.schema import (
    _MIGRATIONS,
    APPLICATION_ID,
    SCHEMA_V1,
    SCHEMA_VERSION,
    prepare,
    read_meta,
)
from pkharvest.store.writing import SOURCES, WriteCounts, WriteMixin, measurement_id

__all__ = [
    "APPLICATION_ID",
    "DUCKDB_CONFIG",
    "EXPORT_FORMATS",
    "LOCK_SUFFIX",
    "PUBMED_URL",
    "QUERIES_DIR",
    "QUERY_SUFFIX",
    "RUN_STATUSES",
    "SCHEMA_V1",
    "SCHEMA_VERSION",
    "SOURCES",
    "_MIGRATIONS",
    "ArticleView",
    "BulkFile",
    "Mention",
    "QueryParam",
    "QuerySpec",
    "QueueFilter",
    "ReviewItem",
    "ReviewMixin",
    "ReviewNotFoundError",
    "ReviewStaleError",
    "ReviewedSentence",
    "RunInfo",
    "SavedSearch",
    "ScoredSentence",
    "Store",
    "StoredSentence",
    "WriteCounts",
    "bind_params",
    "check_duckdb_header",
    "list_queries",
    "measurement_id",
    "parse_query",
    "pubmed_url",
    "resolve_query",
    "sql_placeholders",
]


class Store(
    ExportMixin, QueryMixin, ReadMixin, ReviewMixin, WriteMixin, RunsMixin, StoreConnection
):
    """A pkharvest DuckDB store (a context manager).

    ``read_only`` opens an existing store without writing; ``lock`` (default: when writable)
    holds ``<db>.lock`` so that two runs cannot write one store at once; a held lock raises
    :class:`StoreLockedError` (exit code 3) after ``lock_timeout`` seconds, as does a store that
    another process has open for writing without the lock (DuckDB's own file lock).
    """

    def _prepare(self) -> None:
        prepare(
            self.con,
            self.path,
            read_only=self.read_only,
            locked=self._lock is not None,
            views=VIEWS + review_views(),
        )

    @property
    def schema_version(self) -> int:
        return int(read_meta(self.con).get("schema_version", "0"))
