"""Scoring of table extraction against hand-written gold files (``*.gold.json`` beside JATS
fixtures; format in docs/fulltext.md): record F1 on (pmid, parameter, value), the share of
matched records whose canonical unit, n and statistic are right, and classification accuracy."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pkharvest.errors import CorpusError
from pkharvest.records import Measurement


@dataclass(frozen=True)
class GoldRecord:
    pmid: str
    table_id: str
    row: int
    col: int
    parameter: str
    value: float
    unit: str | None
    n: int | None
    statistic: str | None
    dispersion: str | None


@dataclass
class Gold:
    pmid: str
    pmcid: str
    status: str
    sections: list[str]
    kinds: dict[str, str]  # table id -> kind
    records: list[GoldRecord] = field(default_factory=list)


def load_gold(path: str | Path) -> Gold:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        fields = data.get("fields") or []
        records = []
        kinds = {}
        for table_id, table in data["tables"].items():
            kinds[table_id] = table["kind"]
            for rec in table["records"]:
                row = dict(zip(fields, rec, strict=True))
                records.append(
                    GoldRecord(
                        pmid=data["pmid"],
                        table_id=table_id,
                        row=int(row["row"]),
                        col=int(row["col"]),
                        parameter=row["parameter"],
                        value=float(row["value"]),
                        unit=row.get("unit"),
                        n=row.get("n"),
                        statistic=row.get("statistic"),
                        dispersion=row.get("dispersion"),
                    )
                )
        return Gold(data["pmid"], data["pmcid"], data["status"], data["sections"], kinds, records)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"not a table gold file: {exc}", path=str(path)) from None


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


@dataclass
class Score:
    gold: int = 0
    predicted: int = 0
    matched: int = 0
    unit_ok: int = 0
    n_ok: int = 0
    statistic_ok: int = 0
    all_ok: int = 0
    tables: int = 0
    tables_right: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def share(self, count: int) -> float:
        return count / self.matched if self.matched else 0.0

    @property
    def classification_accuracy(self) -> float:
        return self.tables_right / self.tables if self.tables else 0.0


def score(
    golds: Sequence[Gold],
    predicted: Iterable[Measurement],
    kinds: dict[tuple[str, str], str],
) -> Score:
    """Match predicted table measurements to gold records on (pmid, parameter, value), one to
    one (a prediction at the gold cell is preferred)."""
    out = Score()
    preds = [m for m in predicted if m.source == "table"]
    out.predicted = len(preds)
    used: set[int] = set()
    for g in golds:
        for table_id, kind in g.kinds.items():
            out.tables += 1
            got = kinds.get((g.pmid, table_id))
            if got == kind:
                out.tables_right += 1
            else:
                out.misses.append(f"{g.pmid} {table_id}: kind {got}, gold {kind}")
        for rec in g.records:
            out.gold += 1
            candidates = [
                i
                for i, m in enumerate(preds)
                if i not in used
                and m.pmid == rec.pmid
                and m.parameter == rec.parameter
                and _same(m.value, rec.value)
            ]
            if not candidates:
                out.misses.append(
                    f"{rec.pmid} {rec.table_id} r{rec.row} c{rec.col}: missed "
                    f"{rec.parameter} {rec.value:g}"
                )
                continue
            at_cell = [i for i in candidates if (preds[i].row, preds[i].col) == (rec.row, rec.col)]
            i = (at_cell or candidates)[0]
            used.add(i)
            m = preds[i]
            out.matched += 1
            unit_ok = m.unit == rec.unit
            n_ok = m.n == rec.n
            stat_ok = m.statistic == rec.statistic
            out.unit_ok += unit_ok
            out.n_ok += n_ok
            out.statistic_ok += stat_ok
            out.all_ok += unit_ok and n_ok and stat_ok
            if not (unit_ok and n_ok and stat_ok):
                out.misses.append(
                    f"{rec.pmid} {rec.table_id} r{rec.row} c{rec.col}: got unit={m.unit} "
                    f"n={m.n} statistic={m.statistic}, gold unit={rec.unit} n={rec.n} "
                    f"statistic={rec.statistic}"
                )
    for i, m in enumerate(preds):
        if i not in used:
            out.misses.append(
                f"{m.pmid} {m.table_id} r{m.row} c{m.col}: extra {m.parameter} {m.value}"
            )
    return out
