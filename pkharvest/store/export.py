"""Export of measurements with their provenance (sentence, article, run, search) to Parquet
or CSV with DuckDB's COPY."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import duckdb

from pkharvest.errors import StoreError, UsageError, first_line
from pkharvest.store.connection import StoreConnection

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("parquet", "csv")


class ExportMixin(StoreConnection):
    """Export of :class:`pkharvest.store.Store`."""

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
                f"format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}", field="format"
            )
        out = Path(out)
        if not out.parent.exists():
            raise UsageError(f"folder {out.parent} does not exist", field="out")
        if out.is_dir():
            raise UsageError(f"{out} is a folder; give a file name", field="out")
        # COPY takes its target as a literal, not a parameter: quote it as a SQL string.
        target = "'" + str(out).replace("'", "''") + "'"
        options = "(FORMAT parquet)" if fmt == "parquet" else "(FORMAT csv, HEADER true)"
        sql = f"""
            COPY (
                SELECT e.*, a.title, a.journal, a.year, a.doi, a.pmcid,
                       r.started AS run_started, r.search_id, s.query AS search_query,
                       a.fulltext_status
                FROM evidence e
                JOIN articles a USING (pmid)
                LEFT JOIN runs r ON r.id = e.run_id
                LEFT JOIN searches s ON s.id = r.search_id
                WHERE (len(CAST($drugs AS VARCHAR[])) = 0
                       OR list_contains(CAST($drugs AS VARCHAR[]), lower(e.drug)))
                  AND (len(CAST($params AS VARCHAR[])) = 0
                       OR list_contains(CAST($params AS VARCHAR[]), e.parameter))
                ORDER BY e.pmid, e.sentence_idx, e.parameter_start, e.table_id, e."row", e.col
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
