"""Writing extraction results: one transaction a batch of complete articles, upserted on
natural keys; rows of a re-extracted article that the batch no longer holds are removed.

Write model
-----------
* A batch (:meth:`Store.write_batch`) carries *complete* articles: per article
  (:class:`~pkharvest.records.ArticleResult`) all its sentences, mentions, measurements and
  tables. It is written in one transaction: either all of it is stored or, on any error,
  nothing of it (earlier batches stay).
* Rows are upserted on natural keys: articles ``pmid``; sentences ``(pmid, idx)``; mentions
  ``(pmid, sentence_idx, start, end, label)``; tables ``(pmid, table_id)``; measurements ``id``
  (see :func:`measurement_id`: sentence and offsets, or the table cell). Re-writing the same
  batch therefore adds nothing and keeps ids and ``created_at``.
* The store holds one extraction per article, the latest written: rows of an article in the batch
  that the batch does not contain (e.g. from an earlier model version) are removed. The model
  version that produced an article's rows is ``articles.model_version``;
  :meth:`Store.processed_pmids` answers "which articles are done with model version X".
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from pkharvest.errors import PkHarvestError, StoreError
from pkharvest.records import (
    ArticleResult,
    Measurement,
)
from pkharvest.store.connection import StoreConnection, cols, now, set_excluded
from pkharvest.store.runs import BulkFile, upsert_bulk_file
from pkharvest.store.schema import (
    ARTICLE_ARROW,
    ARTICLE_COLS,
    MEASUREMENT_ARROW,
    MEASUREMENT_COLS,
    MENTION_ARROW,
    MENTION_COLS,
    SENTENCE_ARROW,
    SENTENCE_COLS,
    TABLE_ARROW,
    TABLE_COLS,
)

logger = logging.getLogger(__name__)

ABSTRACT_SOURCE = "abstract"
TABLE_SOURCE = "table"
SOURCES = (ABSTRACT_SOURCE, "body", TABLE_SOURCE)


@dataclass(frozen=True)
class WriteCounts:
    """What one :meth:`Store.write_batch` wrote (rows upserted) and removed (stale rows)."""

    articles: int = 0
    sentences: int = 0
    mentions: int = 0
    measurements: int = 0
    tables: int = 0
    removed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "articles": self.articles,
            "sentences": self.sentences,
            "mentions": self.mentions,
            "measurements": self.measurements,
            "tables": self.tables,
            "removed": self.removed,
        }


def measurement_id(m: Measurement) -> str:
    """Natural key of a measurement.

    * abstract: ``pmid:sentence:parameter offsets:value offsets`` (as in schema version 1);
    * body: ``pmid:body:sentence:parameter offsets:value offsets``;
    * table: ``pmid:table:table_id:row:col`` (the cell; a table measurement has no sentence).
    """
    if m.source == TABLE_SOURCE:
        return f"{m.pmid}:{TABLE_SOURCE}:{m.table_id}:{m.row}:{m.col}"
    vs = "" if m.value_start is None else str(m.value_start)
    ve = "" if m.value_end is None else str(m.value_end)
    key = f"{m.sentence_index}:{m.parameter_start}-{m.parameter_end}:{vs}-{ve}"
    return f"{m.pmid}:{key}" if m.source == ABSTRACT_SOURCE else f"{m.pmid}:{m.source}:{key}"


class WriteMixin(StoreConnection):
    """Batch writing of :class:`pkharvest.store.Store`."""

    def write_batch(
        self,
        results: Iterable[ArticleResult],
        run_id: int | None,
        model_version: str,
    ) -> WriteCounts:
        """Upsert complete articles (the pipeline's per-article results) in ONE transaction
        (see the module docstring).

        Every sentence, mention and measurement of a result must belong to its article, and
        mentions/measurements to a sentence of the result; otherwise StoreError before any
        write. Any failure rolls the whole batch back and raises StoreError."""
        self._writable()
        if not model_version:
            raise StoreError("write_batch needs a model_version")
        batch = list(results)
        if not batch:
            return WriteCounts()
        self._check_batch(batch)
        pmids = sorted({r.article.pmid for r in batch})
        shown = ", ".join(pmids[:5]) + (", ..." if len(pmids) > 5 else "")
        with self._transaction(f"batch of {len(pmids)} article(s) (PMID {shown})"):
            counts = self._write(batch, run_id, model_version)
        logger.info("stored %s", counts.as_dict())
        return counts

    def write_file_batch(
        self,
        deleted: Iterable[str],
        results: Iterable[ArticleResult],
        run_id: int | None,
        model_version: str,
        *,
        manifest: BulkFile | None = None,
    ) -> WriteCounts:
        """What one bulk input file says, in ONE transaction: the rows of the ``deleted``
        PMIDs (DeleteCitation) removed, then the articles upserted as :meth:`write_batch` does,
        and the file's ``manifest`` entry (``bulk_files``) recorded. Any failure rolls it all
        back (the store stays as before the file)."""
        self._writable()
        if not model_version:
            raise StoreError("write_file_batch needs a model_version")
        gone = sorted(set(deleted))
        batch = list(results)
        self._check_batch(batch)
        con = self.con
        with self._transaction("bulk file batch"):
            removed = 0
            if gone:
                con.register("_bulk_deleted", pa.table({"pmid": pa.array(gone, pa.string())}))
                try:
                    for table in ("measurements", "mentions", "sentences", "article_tables",
                                  "articles"):
                        row = con.execute(f"DELETE FROM {table} WHERE pmid IN"
                                          " (SELECT pmid FROM _bulk_deleted)").fetchone()
                        removed += int(row[0]) if row else 0
                finally:
                    con.unregister("_bulk_deleted")
            counts = self._write(batch, run_id, model_version) if batch else WriteCounts()
            if manifest is not None:
                upsert_bulk_file(con, manifest)
        return dataclasses.replace(counts, removed=counts.removed + removed)

    @contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        """One transaction: committed when the block ends, rolled back on any failure; an
        unexpected error becomes a StoreError saying that nothing of ``what`` was stored."""
        con = self.con
        con.begin()
        try:
            yield
            con.commit()
        except BaseException as exc:
            con.rollback()
            if isinstance(exc, PkHarvestError) or not isinstance(exc, Exception):
                raise
            raise StoreError(f"{self.path}: {what} not written, nothing of it stored:"
                             f" {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _check_batch(batch: list[ArticleResult]) -> None:
        per_pmid = Counter(r.article.pmid for r in batch)
        dup = sorted(p for p, n in per_pmid.items() if n > 1)
        if dup:
            raise StoreError(f"write_batch: article PMID {', '.join(dup)} given twice")
        for r in batch:
            pmid = r.article.pmid
            keys: set[tuple[str, int]] = set()
            for s in r.sentences:
                sent = s.sentence
                if sent.pmid != pmid:
                    raise StoreError(
                        f"write_batch: sentence {sent.index} of PMID {sent.pmid} is in the"
                        f" result of article PMID {pmid}"
                    )
                keys.add((sent.pmid, sent.index))
            for m in r.mentions:
                if (m.pmid, m.sentence_index) not in keys:
                    raise StoreError(
                        f"write_batch: mention {m.entity.text!r} of PMID {m.pmid} sentence"
                        f" {m.sentence_index} has no sentence in the result of PMID {pmid}"
                    )
            table_ids = {tb.table_id for tb in r.tables}
            for tb in r.tables:
                if tb.pmid != pmid:
                    raise StoreError(
                        f"write_batch: table {tb.table_id!r} of PMID {tb.pmid} is in the result"
                        f" of article PMID {pmid}"
                    )
            if len(table_ids) != len(r.tables):
                raise StoreError(f"write_batch: PMID {pmid} has a table id given twice")
            for x in r.measurements:
                if x.source not in SOURCES:
                    raise StoreError(
                        f"write_batch: measurement {x.parameter_text!r} of PMID {x.pmid}: source"
                        f" must be one of {', '.join(SOURCES)}, not {x.source!r}"
                    )
                if x.source == TABLE_SOURCE:
                    if x.pmid != pmid or x.table_id is None or x.row is None or x.col is None:
                        raise StoreError(
                            f"write_batch: table measurement {x.parameter_text!r} of PMID"
                            f" {x.pmid} needs the table id, row and column of its cell in the"
                            f" result of PMID {pmid}"
                        )
                    continue
                if (x.pmid, x.sentence_index) not in keys:
                    raise StoreError(
                        f"write_batch: measurement {x.parameter_text!r} of PMID {x.pmid} sentence"
                        f" {x.sentence_index} has no sentence in the result of PMID {pmid}"
                    )

    def _write(
        self, batch: list[ArticleResult], run_id: int | None, model_version: str
    ) -> WriteCounts:
        arts = [r.article for r in batch]
        sents = [s for r in batch for s in r.sentences]
        ments = [m for r in batch for m in r.mentions]
        meas = [x for r in batch for x in r.measurements]
        tabs = [tb for r in batch for tb in r.tables]
        con = self.con
        bind = {"now": now(), "run": run_id, "mv": model_version}

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
                "fulltext_status": a.fulltext_status,
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
                "source": s.sentence.source,
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
            row = {c: getattr(x, c) for c in MEASUREMENT_COLS if c not in ("id", "sentence_idx")}
            row.update(id=mid, sentence_idx=x.sentence_index, flags=list(x.flags or []))
            if x.conditions is not None:
                row["conditions"] = list(x.conditions)
            meas_rows[mid] = row
        table_rows = [
            {
                "pmid": tb.pmid,
                "table_id": tb.table_id,
                "label": tb.label,
                "caption": tb.caption,
                "kind": tb.kind,
                "header_rows": tb.header_rows,
                "grid": [list(r) for r in tb.grid],
                "footnotes": list(tb.footnotes),
            }
            for tb in tabs
        ]

        tables = {
            "_batch_articles": pa.Table.from_pylist(art_rows, schema=ARTICLE_ARROW),
            "_batch_sentences": pa.Table.from_pylist(
                list(sent_rows.values()), schema=SENTENCE_ARROW
            ),
            "_batch_mentions": pa.Table.from_pylist(list(ment_rows.values()), schema=MENTION_ARROW),
            "_batch_measurements": pa.Table.from_pylist(
                list(meas_rows.values()), schema=MEASUREMENT_ARROW
            ),
            "_batch_tables": pa.Table.from_pylist(table_rows, schema=TABLE_ARROW),
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
                "DELETE FROM article_tables t WHERE pmid IN (SELECT pmid FROM _batch_articles)"
                " AND NOT EXISTS (SELECT 1 FROM _batch_tables b WHERE b.pmid = t.pmid"
                " AND b.table_id = t.table_id)",
            ):
                res = con.execute(sql).fetchone()
                removed += int(res[0]) if res else 0

            upd = [c for c in ARTICLE_COLS if c != "pmid"]
            con.execute(
                f"INSERT INTO articles ({cols(ARTICLE_COLS)}, fetched_at, model_version,"
                f" run_id, processed_at) SELECT {cols(ARTICLE_COLS)}, $now, $mv, $run, $now"
                f" FROM _batch_articles ON CONFLICT (pmid) DO UPDATE SET {set_excluded(upd)},"
                " model_version = excluded.model_version, run_id = excluded.run_id,"
                " processed_at = excluded.processed_at",
                bind,
            )
            upd = [c for c in SENTENCE_COLS if c not in ("pmid", "idx")]
            con.execute(
                f"INSERT INTO sentences ({cols(SENTENCE_COLS)}) SELECT {cols(SENTENCE_COLS)}"
                f" FROM _batch_sentences ON CONFLICT (pmid, idx) DO UPDATE SET {set_excluded(upd)}"
            )
            con.execute(
                f"INSERT INTO mentions ({cols(MENTION_COLS)}, model_version, run_id)"
                f" SELECT {cols(MENTION_COLS)}, $mv, $run FROM _batch_mentions"
                ' ON CONFLICT (pmid, sentence_idx, start, "end", label) DO UPDATE SET'
                " text = excluded.text, score = excluded.score,"
                " model_version = excluded.model_version, run_id = excluded.run_id",
                {"mv": model_version, "run": run_id},
            )
            upd = [c for c in MEASUREMENT_COLS if c != "id"]
            con.execute(
                f"INSERT INTO measurements ({cols(MEASUREMENT_COLS)}, run_id, model_version,"
                f" created_at, updated_at) SELECT {cols(MEASUREMENT_COLS)}, $run, $mv, $now,"
                " $now FROM _batch_measurements ON CONFLICT (id) DO UPDATE SET"
                f" {set_excluded(upd)},"
                " run_id = excluded.run_id, model_version = excluded.model_version,"
                " updated_at = excluded.updated_at",
                bind,
            )
            upd = [c for c in TABLE_COLS if c not in ("pmid", "table_id")]
            con.execute(
                f"INSERT INTO article_tables ({cols(TABLE_COLS)}) SELECT {cols(TABLE_COLS)}"
                " FROM _batch_tables ON CONFLICT (pmid, table_id) DO UPDATE SET"
                f" {set_excluded(upd)}"
            )
        finally:
            for name in tables:
                con.unregister(name)
        return WriteCounts(
            articles=len(art_rows),
            sentences=len(sent_rows),
            mentions=len(ment_rows),
            measurements=len(meas_rows),
            tables=len(table_rows),
            removed=removed,
        )
