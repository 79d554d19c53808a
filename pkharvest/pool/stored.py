"""Study rows of one drug and parameter read from a pkharvest store.

Each stored measurement with its statistic (mean, geometric mean, median; the measurement
type when the statistic is not filled), n, deviation type and deviation in the canonical unit
becomes a :class:`StudyRow` (study = PMID). A value reported twice in one article (in the
abstract and in a table, say) counts once: values of one article with the same canonical value
and unit are one value, taken from the source that reports it most completely (n and
dispersion), table before body before abstract. Values whose flags leave them out
(:mod:`pkharvest.flags`, the same definition as the ``parameter_summary`` view) are left out
unless asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pkharvest.errors import UsageError
from pkharvest.normalise.parameters import resolve_parameter_name
from pkharvest.pool.records import StudyRow
from pkharvest.store import Store

logger = logging.getLogger(__name__)

STORE_BY = ("population", "species", "route", "unit")
_STATISTIC = {"mean": "mean", "geometric mean": "geometric_mean",
              "geometric_mean": "geometric_mean", "median": "median"}  # fmt: skip
_DEVIATION = {"sd": "sd", "se": "se", "cv": "cv", "iqr": "iqr", "range": "range",
              "ci": "ci95", "95% ci": "ci95", "ci95": "ci95"}  # fmt: skip
_SOURCE_RANK = {"table": 0, "body": 1, "abstract": 2}


def parameter_key(text: str) -> str:
    """The vocabulary key a ``--parameter`` spelling names, as ``export`` and ``query`` resolve
    it (:func:`~pkharvest.normalise.parameters.resolve_parameter_name`; UsageError naming the
    nearest keys when none)."""
    return resolve_parameter_name(text, field="parameter").key


def _row(d: dict[str, Any]) -> StudyRow:
    stat_text = d["statistic"] or d["measurement_type"]
    dev_text = d["deviation_type"]
    statistic = _STATISTIC.get(stat_text.strip().lower()) if stat_text else None
    deviation_type = _DEVIATION.get(dev_text.strip().lower()) if dev_text else None
    where = f"PMID {d['pmid']}" + (f" {d['table_label']}" if d["table_label"] else "")
    return StudyRow(
        study=f"PMID {d['pmid']}",
        group=d["group_label"] or "",
        # an unknown statistic or deviation type stays as written: pooling excludes it by name
        statistic=statistic or stat_text,
        estimate=d["value_canonical"],
        deviation_type=deviation_type or dev_text,
        deviation=d["deviation_canonical"],
        n=d["n"],
        unit=d["unit"],
        where=f"{where} ({d['id']})",
        facets={"population": d["population"], "species": d["species"], "route": d["route"]},
    )


def _completeness(d: dict[str, Any]) -> tuple[int, int, int]:
    return (d["n"] is None, d["deviation_canonical"] is None,
            _SOURCE_RANK.get(d["source"] or "abstract", 3))


def dedupe(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One value per article, canonical value and unit: the rows of the most complete source
    are kept (several rows of that source are distinct values, e.g. two table groups)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for d in records:
        value = d["value_canonical"]
        key = (d["pmid"], d["unit"], None if value is None else float(f"{value:.9g}"))
        groups.setdefault(key, []).append(d)
    out: list[dict[str, Any]] = []
    for rows in groups.values():
        sources = {r["source"] for r in rows}
        if len(sources) == 1 or rows[0]["value_canonical"] is None:
            out += rows
            continue
        best = min(rows, key=_completeness)["source"]
        kept = [r for r in rows if r["source"] == best]
        logger.debug("PMID %s: %d duplicate value(s) left out", rows[0]["pmid"],
                     len(rows) - len(kept))
        out += kept
    return out


def read_store_rows(
    db: str | Path, drug: str, parameter: str, *, include_flagged: bool = False
) -> tuple[list[StudyRow], str]:
    """The study rows of ``drug`` and ``parameter`` (any spelling the vocabulary knows) in the
    store ``db``, and the parameter's key. UsageError naming ``--drug``/``--parameter`` when
    the store holds no such value."""
    key = parameter_key(parameter)
    with Store(db, read_only=True) as store:
        cols, rows = store.run_query(
            "pool_measurements",
            {"drug": drug, "parameter": key, "flagged": "1" if include_flagged else "0"},
        )
        if not rows:
            _, known = store.run_query("pool_drug_parameters", {"drug": drug})
    if not rows:
        if not known:
            raise UsageError(f"no values of drug {drug!r} in {db}", field="drug")
        listed = ", ".join(f"{p} ({n})" for p, n in known[:12])
        raise UsageError(
            f"no {key} values of {drug} in {db}"
            + (" without flags" if not include_flagged else "")
            + f"; stored parameters: {listed}",
            field="parameter",
        )
    records = [dict(zip(cols, r, strict=True)) for r in rows]
    return [_row(d) for d in dedupe(records)], key
