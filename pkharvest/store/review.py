"""The store's review tables: decisions (``review_decisions``), the latest verdict per
measurement (view ``review_status``), the accepted and corrected values (view
``curated_measurements``), the review queue and the reviewed sentences.

Decisions are appended, never updated, and never touch the extracted row: the latest verdict
(accept / reject / correct) of a measurement counts, and the latest span fix of a sentence.
Each decision records a fingerprint of the extracted row it was made on (``extraction``); when
a later run changes that row (same stable id, other values), the verdict no longer counts
(status ``changed``), the item goes back to the head of the queue and leaves the curated view
until it is reviewed again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from pkharvest.errors import StoreError, UsageError, first_line
from pkharvest.records import Entity, Measurement
from pkharvest.review.fields import Decision, SpanFix
from pkharvest.store.connection import StoreConnection, now

logger = logging.getLogger(__name__)

VERDICTS = ("accept", "reject", "correct")
SPANS = "spans"
QUEUE_STATUSES = ("todo", "done", "all")

# The extracted fields a decision is made on; a change of any of them re-opens the item.
FINGERPRINT_COLUMNS: tuple[str, ...] = (
    "parameter_text", "parameter", "value_text", "value", "value_low", "value_high",
    "comparator", "deviation_text", "deviation", "unit_text", "unit", "value_canonical",
    "drug", "measurement_type",
)  # fmt: skip

# Corrected fields (keys of review_decisions.fields) and the SQL type they are read back as.
CORRECTED_COLUMNS: dict[str, str] = {
    "parameter": "VARCHAR",
    "value": "DOUBLE",
    "value_low": "DOUBLE",
    "value_high": "DOUBLE",
    "deviation": "DOUBLE",
    "unit_text": "VARCHAR",
    "unit": "VARCHAR",
    "value_canonical": "DOUBLE",
    "value_low_canonical": "DOUBLE",
    "value_high_canonical": "DOUBLE",
}

REVIEW_TABLES = """
CREATE SEQUENCE review_decisions_id_seq START 1;
CREATE TABLE review_decisions (
    id BIGINT PRIMARY KEY DEFAULT nextval('review_decisions_id_seq'),
    measurement_id VARCHAR NOT NULL,
    decision VARCHAR NOT NULL,         -- accept | reject | correct | spans
    reason VARCHAR,                    -- reject: a key of pkharvest.review.fields.REJECT_REASONS
    fields VARCHAR,                    -- JSON: corrected fields, or the sentence's spans
    reviewer VARCHAR NOT NULL,
    decided_at TIMESTAMP NOT NULL,
    extraction VARCHAR NOT NULL,       -- fingerprint of the extracted row decided on
    pmid VARCHAR NOT NULL,
    sentence_idx INTEGER
);
CREATE INDEX review_decisions_measurement ON review_decisions (measurement_id);
"""


def fingerprint_sql(alias: str = "m") -> str:
    """SQL for the fingerprint of an extracted row (``alias`` is the measurements table)."""
    parts = ", ".join(f"{c} := {alias}.{c}" for c in FINGERPRINT_COLUMNS)
    return f"md5(CAST(to_json(struct_pack({parts})) AS VARCHAR))"


def _status_sql(measurements: str, decisions: str) -> str:
    fp = fingerprint_sql("m")
    return f"""
WITH latest AS (
    SELECT d.*, row_number() OVER (PARTITION BY measurement_id ORDER BY id DESC) AS rn
    FROM {decisions} d WHERE decision IN ('accept', 'reject', 'correct')
)
SELECT m.id AS measurement_id, l.id AS decision_id, l.decision, l.reason, l.fields,
       l.reviewer, l.decided_at, l.extraction, {fp} AS current_extraction,
       CASE WHEN l.id IS NULL THEN 'todo'
            WHEN l.extraction <> {fp} THEN 'changed'
            ELSE 'done' END AS status
FROM {measurements} m
LEFT JOIN latest l ON l.measurement_id = m.id AND l.rn = 1
"""


def _curated_sql(measurements: str, status: str) -> str:
    replaced = ", ".join(
        f"coalesce(TRY_CAST(json_extract_string(r.fields, '$.{k}') AS {t}), m.{k}) AS {k}"
        if k not in ("value_low", "value_high", "value_low_canonical", "value_high_canonical")
        # a corrected point value clears the range: the key is present with null
        else f"CASE WHEN json_exists(r.fields, '$.{k}') THEN TRY_CAST("
             f"json_extract_string(r.fields, '$.{k}') AS {t}) ELSE m.{k} END AS {k}"
        for k, t in CORRECTED_COLUMNS.items()
    )
    return f"""
SELECT m.* REPLACE ({replaced}),
       r.decision AS review_decision, r.reviewer, r.decided_at AS reviewed_at
FROM {measurements} m
JOIN {status} r ON r.measurement_id = m.id
WHERE r.status = 'done' AND r.decision IN ('accept', 'correct')
"""


def review_views() -> str:
    """DDL of the review views (re-created with the store's other views)."""
    return (
        "CREATE OR REPLACE VIEW review_status AS"
        f" {_status_sql('measurements', 'review_decisions')};\n"
        f"CREATE OR REPLACE VIEW curated_measurements AS "
        f"{_curated_sql('measurements', 'review_status')};\n"
    )


def migrate_add_review(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 2 -> 3: add the review decisions table."""
    con.execute(REVIEW_TABLES)


class ReviewNotFoundError(UsageError):
    """No measurement with that id (``field`` = ``id``)."""


class ReviewStaleError(UsageError):
    """The form or request was made on another state of the item (``field`` = ``version``)."""


@dataclass(frozen=True)
class QueueFilter:
    drug: str = ""
    parameter: str = ""
    population: str = ""
    source: str = ""
    search: str = ""
    status: str = "todo"  # todo (never reviewed or changed since) | done | all


@dataclass(frozen=True)
class ReviewItem:
    """One measurement as the review pages show it."""

    id: str
    measurement: Measurement
    sentence: str | None
    section: str | None
    mentions: tuple[Entity, ...]
    confidence: float | None  # lowest entity score of the parameter and value spans
    median: float | None  # median canonical value of the drug x parameter x unit
    deviation: float | None  # |ln(value / median)|
    status: str  # todo | changed | done
    decision: str | None
    reason: str | None
    fields: dict[str, Any]
    reviewer: str | None
    decided_at: datetime | None
    version: str  # fingerprint:decision id, what a form was made on
    spans: tuple[SpanFix, ...] | None = None  # the sentence's latest span fix, if any
    evidence: str | None = None  # table cell context (table label, headers, cell)


@dataclass(frozen=True)
class ReviewedSentence:
    """A sentence with at least one decision, for ``review export``."""

    pmid: str
    index: int
    text: str
    section: str
    mentions: tuple[Entity, ...]
    spans: tuple[SpanFix, ...] | None  # latest span fix, or None (the tagged mentions stand)
    rejected: tuple[Measurement, ...]
    kept: tuple[Measurement, ...]  # accepted, corrected or not decided


_MEASUREMENT_FIELDS = {f.name for f in dataclasses.fields(Measurement)}


def _measurement(row: dict[str, Any]) -> Measurement:
    d = {k: v for k, v in row.items() if k in _MEASUREMENT_FIELDS}
    d["sentence_index"] = row.get("sentence_idx")
    d["flags"] = list(row.get("flags") or [])
    return Measurement(**d)


def _spans(raw: str | None) -> tuple[SpanFix, ...] | None:
    if raw is None:
        return None
    return tuple(SpanFix(int(s["start"]), int(s["end"]), str(s["label"]))
                 for s in json.loads(raw).get("spans", []))


class ReviewMixin(StoreConnection):
    """Review methods of :class:`pkharvest.store.Store`."""

    # -- reading ----------------------------------------------------------------------------

    def _queue_sql(self, f: QueueFilter, where_id: bool = False) -> tuple[str, dict[str, Any]]:
        if f.status not in QUEUE_STATUSES:
            raise UsageError(f"must be one of {', '.join(QUEUE_STATUSES)}, not {f.status!r}",
                             field="status")
        args: dict[str, Any] = {
            "drug": f.drug.strip().lower(), "parameter": f.parameter.strip(),
            "search": f"%{f.search.strip()}%" if f.search.strip() else "",
            "population": f.population.strip(), "source": f.source.strip(),
        }
        status_filter = {
            "todo": "r.status IN ('todo', 'changed')",
            "done": "r.status = 'done'",
            "all": "TRUE",
        }[f.status]
        sql = f"""
WITH g AS (
    SELECT m.*,
           CASE WHEN m.value_canonical > 0 AND isfinite(m.value_canonical)
                THEN ln(m.value_canonical) END AS lx
    FROM measurements m
),
scored AS (
    SELECT g.*,
           exp(median(lx) OVER (PARTITION BY lower(drug), parameter, unit)) AS med,
           abs(lx - median(lx) OVER (PARTITION BY lower(drug), parameter, unit)) AS dev,
           count(lx) OVER (PARTITION BY lower(drug), parameter, unit) AS n_group
    FROM g
)
SELECT m.* EXCLUDE (lx, med, dev, n_group),
       s.text AS sentence_text, s.section AS sentence_section, m.evidence AS evidence_text,
       (SELECT min(x.score) FROM mentions x WHERE x.pmid = m.pmid
            AND x.sentence_idx = m.sentence_idx
            AND ((x.start = m.parameter_start AND x."end" = m.parameter_end)
                 OR (x.start = m.value_start AND x."end" = m.value_end))) AS confidence,
       CASE WHEN m.n_group >= 2 THEN m.med END AS median_value,
       CASE WHEN m.n_group >= 2 THEN m.dev END AS deviation_score,
       r.status, r.decision_id, r.decision, r.reason, r.fields, r.reviewer, r.decided_at,
       r.current_extraction
FROM scored m
JOIN review_status r ON r.measurement_id = m.id
LEFT JOIN sentences s ON s.pmid = m.pmid AND s.idx = m.sentence_idx
WHERE {status_filter}
  AND ($drug = '' OR lower(m.drug) = $drug)
  AND ($parameter = '' OR m.parameter = $parameter)
  AND ($search = '' OR s.text ILIKE $search OR m.parameter_text ILIKE $search
       OR m.pmid ILIKE $search OR coalesce(m.evidence, '') ILIKE $search)
  AND ($population = '' OR m.population = $population)
  AND ($source = '' OR m.source = $source)
  {'AND m.id = $id' if where_id else ''}
ORDER BY (r.status = 'changed') DESC, (len(m.flags) > 0) DESC, confidence ASC NULLS LAST,
         deviation_score DESC NULLS LAST, m.pmid, m.sentence_idx, m.parameter_start, m.id
"""
        return sql, args

    def _items(self, sql: str, args: dict[str, Any]) -> list[ReviewItem]:
        try:
            cur = self.con.execute(sql, args)
            names = [d[0] for d in cur.description or []]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        except duckdb.Error as exc:
            raise StoreError(f"review queue: {first_line(exc)}") from None
        if not rows:
            return []
        keys = {(r["pmid"], r["sentence_idx"]) for r in rows if r["sentence_idx"] is not None}
        mentions = self._mentions(keys)
        fixes = self._span_fixes(keys)
        out = []
        for r in rows:
            key = (r["pmid"], r["sentence_idx"])
            out.append(ReviewItem(
                id=r["id"],
                measurement=_measurement(r),
                sentence=r["sentence_text"],
                section=r["sentence_section"],
                mentions=tuple(mentions.get(key, ())),
                confidence=r["confidence"],
                median=r["median_value"],
                deviation=r["deviation_score"],
                status=r["status"],
                decision=r["decision"],
                reason=r["reason"],
                fields=json.loads(r["fields"]) if r["fields"] and r["decision"] else {},
                reviewer=r["reviewer"],
                decided_at=r["decided_at"],
                version=f"{r['current_extraction']}:{r['decision_id'] or 0}",
                spans=fixes.get(key),
                evidence=r["evidence_text"],
            ))
        return out

    def _mentions(self, keys: set[tuple[str, int]]) -> dict[tuple[str, int], list[Entity]]:
        if not keys:
            return {}
        pmids = sorted({k[0] for k in keys})
        out: dict[tuple[str, int], list[Entity]] = {}
        for pmid, idx, label, start, end, text, score in self.con.execute(
            'SELECT pmid, sentence_idx, label, start, "end", text, score FROM mentions'
            ' WHERE list_contains($p, pmid) ORDER BY pmid, sentence_idx, start, "end"',
            {"p": pmids},
        ).fetchall():
            if (pmid, idx) in keys:
                out.setdefault((pmid, idx), []).append(Entity(label, start, end, text, score))
        return out

    def _span_fixes(self, keys: set[tuple[str, int]]) -> dict[tuple[str, int], tuple[SpanFix, ...]]:
        if not keys:
            return {}
        out: dict[tuple[str, int], tuple[SpanFix, ...]] = {}
        for pmid, idx, fields in self.con.execute(
            "SELECT pmid, sentence_idx, arg_max(fields, id) FROM review_decisions"
            " WHERE decision = 'spans' AND list_contains($p, pmid) GROUP BY pmid, sentence_idx",
            {"p": sorted({k[0] for k in keys})},
        ).fetchall():
            if (pmid, idx) in keys:
                out[(pmid, idx)] = _spans(fields) or ()
        return out

    def review_queue(self, f: QueueFilter | None = None, *, limit: int = 50,
                     offset: int = 0) -> list[ReviewItem]:
        """Measurements to review, ordered by need: changed since their review, flagged, low
        entity confidence, far from their drug x parameter median; then text order."""
        sql, args = self._queue_sql(f or QueueFilter())
        args.update(limit=int(limit), offset=int(offset))
        return self._items(sql + " LIMIT $limit OFFSET $offset", args)

    def review_queue_ids(self, f: QueueFilter | None = None) -> list[str]:
        sql, args = self._queue_sql(f or QueueFilter())
        return [r[0] for r in self.con.execute(f"SELECT id FROM ({sql})", args).fetchall()]

    def review_item(self, measurement_id: str) -> ReviewItem:
        """One measurement (whatever its review status); :class:`ReviewNotFoundError` if none."""
        sql, args = self._queue_sql(QueueFilter(status="all"), where_id=True)
        args["id"] = measurement_id
        items = self._items(sql, args)
        if not items:
            raise ReviewNotFoundError(f"no measurement with id {measurement_id!r}", field="id")
        return items[0]

    def review_counts(self) -> dict[str, int]:
        rows = self.con.execute(
            "SELECT status, count(*) FROM review_status GROUP BY status").fetchall()
        out = {"todo": 0, "changed": 0, "done": 0}
        out.update({str(s): int(n) for s, n in rows})
        return out

    def review_decisions(self) -> list[dict[str, Any]]:
        """Every decision, oldest first (``fields`` parsed)."""
        cur = self.con.execute(
            "SELECT id, measurement_id, decision, reason, fields, reviewer, decided_at,"
            " extraction, pmid, sentence_idx FROM review_decisions ORDER BY id")
        names = [d[0] for d in cur.description or []]
        out = []
        for r in cur.fetchall():
            d = dict(zip(names, r, strict=True))
            d["fields"] = json.loads(d["fields"]) if d["fields"] else {}
            out.append(d)
        return out

    # -- writing ----------------------------------------------------------------------------

    def _check_version(self, item: ReviewItem, expect: str | None) -> None:
        if expect is not None and expect != item.version:
            raise ReviewStaleError(
                f"item {item.id} changed since the form was loaded (another decision or a new"
                " extraction); reload it", field="version")

    def _insert(self, item: ReviewItem, decision: str, reason: str | None,
                fields: dict[str, Any] | None, reviewer: str) -> int:
        self._writable()
        con = self.con
        con.begin()
        try:
            row = con.execute(
                "INSERT INTO review_decisions (measurement_id, decision, reason, fields, reviewer,"
                f" decided_at, extraction, pmid, sentence_idx) SELECT id, $d, $r, $f, $who, $t,"
                f" {fingerprint_sql('m')}, pmid, sentence_idx FROM measurements m WHERE id = $id"
                " RETURNING id",
                {"d": decision, "r": reason, "who": reviewer, "t": now(), "id": item.id,
                 "f": json.dumps(fields, sort_keys=True) if fields is not None else None},
            ).fetchone()
            con.commit()
        except BaseException as exc:
            con.rollback()
            if not isinstance(exc, Exception):
                raise
            raise StoreError(f"decision on {item.id} not stored: {first_line(exc)}") from exc
        if row is None:  # pragma: no cover - the item was read in this connection
            raise ReviewNotFoundError(f"no measurement with id {item.id!r}", field="id")
        logger.info("review %s %s by %s", item.id, decision, reviewer)
        return int(row[0])

    def record_decision(self, measurement_id: str, decision: Decision, *,
                        expect: str | None = None) -> int:
        """Append a verdict on a measurement (checked with
        :func:`pkharvest.review.fields.check_decision`); ``expect`` is the item version the
        decision was made on (:class:`ReviewStaleError` when it moved on). Returns its id."""
        item = self.review_item(measurement_id)
        self._check_version(item, expect)
        if decision.decision not in VERDICTS:
            raise UsageError(f"must be one of {', '.join(VERDICTS)}", field="decision")
        return self._insert(item, decision.decision, decision.reason,
                            dict(decision.fields) if decision.decision == "correct" else None,
                            decision.reviewer)

    def record_spans(self, measurement_id: str, spans: Sequence[SpanFix], reviewer: str, *,
                     expect: str | None = None) -> int:
        """Append a span fix for the sentence of a measurement (all its entity spans)."""
        item = self.review_item(measurement_id)
        self._check_version(item, expect)
        if item.sentence is None:
            raise UsageError(f"item {measurement_id} has no sentence (a table value)",
                             field="spans")
        fields = {"spans": [dataclasses.asdict(s) for s in spans]}
        return self._insert(item, SPANS, None, fields, reviewer)

    # -- curated values and reviewed sentences ----------------------------------------------

    def curated_measurements(self) -> list[Measurement]:
        """Accepted and corrected measurements, corrections applied (view
        ``curated_measurements``), in text order."""
        cur = self.con.execute(
            "SELECT * FROM curated_measurements ORDER BY pmid, sentence_idx, parameter_start, id")
        names = [d[0] for d in cur.description or []]
        return [_measurement(dict(zip(names, r, strict=True))) for r in cur.fetchall()]

    def use_curated(self) -> None:
        """For the rest of this connection, ``measurements`` (and the views over it:
        ``evidence``, ``parameter_summary``) reads the curated values only: a temporary view
        shadows the table (read-only stores too)."""
        db = self.con.execute("SELECT current_database()").fetchone()
        assert db is not None
        qual = '"' + str(db[0]).replace('"', '""') + '".main.'
        cols = [r[0] for r in self.con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
            " AND schema_name = 'main' AND table_name = 'measurements' ORDER BY column_index"
        ).fetchall()]
        status = f"({_status_sql(qual + 'measurements', qual + 'review_decisions')})"
        curated = _curated_sql(qual + "measurements", status)
        col_list = ", ".join(f'"{c}"' for c in cols)
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW measurements AS SELECT {col_list} FROM ({curated})")

    def reviewed_sentences(self) -> list[ReviewedSentence]:
        """Sentences with at least one current decision or span fix, in text order."""
        keys = {(str(p), int(i)) for p, i in self.con.execute(
            "SELECT DISTINCT d.pmid, d.sentence_idx FROM review_decisions d"
            " LEFT JOIN review_status r ON r.decision_id = d.id"
            " WHERE d.sentence_idx IS NOT NULL AND (d.decision = 'spans' OR r.status = 'done')"
        ).fetchall()}
        if not keys:
            return []
        sentences = {(str(p), int(i)): (t, s) for p, i, t, s in self.con.execute(
            "SELECT pmid, idx, text, section FROM sentences WHERE list_contains($p, pmid)",
            {"p": sorted({k[0] for k in keys})}).fetchall()}
        mentions = self._mentions(keys)
        fixes = self._span_fixes(keys)
        verdicts: dict[tuple[str, int], tuple[list[Measurement], list[Measurement]]] = {}
        cur = self.con.execute(
            "SELECT m.*, r.status, r.decision FROM measurements m"
            " JOIN review_status r ON r.measurement_id = m.id"
            " WHERE list_contains($p, m.pmid) AND m.sentence_idx IS NOT NULL",
            {"p": sorted({k[0] for k in keys})})
        names = [d[0] for d in cur.description or []]
        for r in cur.fetchall():
            d = dict(zip(names, r, strict=True))
            key = (d["pmid"], d["sentence_idx"])
            if key not in keys:
                continue
            rejected, kept = verdicts.setdefault(key, ([], []))
            is_rejected = d["status"] == "done" and d["decision"] == "reject"
            (rejected if is_rejected else kept).append(_measurement(d))
        out = []
        for key in sorted(keys):
            if key not in sentences:  # decided on, then removed by a later run
                continue
            text, section = sentences[key]
            rejected, kept = verdicts.get(key, ([], []))
            out.append(ReviewedSentence(key[0], key[1], text, section,
                                        tuple(mentions.get(key, ())), fixes.get(key),
                                        tuple(rejected), tuple(kept)))
        return out


