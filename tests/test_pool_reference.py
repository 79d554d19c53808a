"""Pooling against R metafor: tests/reference/metafor_reference.json holds rma()'s results for
the study files of tests/data/pool/ (regenerate with tests/reference/metafor_reference.R); the
transforms (y, v per row), inclusions, weights and every pooled figure must agree to 1e-6
relative."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pkharvest.pool import PoolResult, pool
from pkharvest.pool.studies import read_studies_csv

HERE = Path(__file__).parent
DATA = HERE / "data" / "pool"
REFERENCE = json.loads((HERE / "reference" / "metafor_reference.json").read_text())
FIELDS = ("estimate", "ci_low", "ci_high", "tau2", "i2", "q", "q_p", "pi_low", "pi_high")


def _close(ours: float | None, theirs: float | None, what: str) -> None:
    assert ours is not None and theirs is not None, what
    # τ², I² and Q are exactly 0 for homogeneous data in both; R prints ~1e-15 as 0
    assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-12), what


def _ours(entry: dict) -> PoolResult:
    results = pool(read_studies_csv(DATA / entry["file"]), entry["method"], by=entry.get("by"))
    if "subgroup" not in entry:
        assert len(results) == 1
        return results[0]
    (match,) = [r for r in results if r.subgroup == entry["subgroup"]]
    return match


def _id(entry: dict) -> str:
    by = f"-{entry['by']}={entry['subgroup']}" if "by" in entry else ""
    return f"{entry['file']}{by}-{entry['method']}"


def test_reference_covers_the_cases() -> None:
    """The reference holds all three methods over every data set, including k = 1, τ² = 0
    and all six deviation types."""
    assert {e["method"] for e in REFERENCE} == {"REML", "DL", "PM"}
    assert any(e["k"] == 1 for e in REFERENCE)
    assert any(e["tau2"] == 0 and e["k"] > 2 for e in REFERENCE)
    assert any(e["tau2"] > 0.01 for e in REFERENCE)
    types = {r.deviation_type for p in DATA.glob("*.csv") for r in read_studies_csv(p)}
    assert {"sd", "se", "cv", "iqr", "range", "ci95"} <= types


@pytest.mark.parametrize("entry", REFERENCE, ids=_id)
def test_matches_metafor(entry: dict) -> None:
    ours = _ours(entry)
    assert ours.k == entry["k"]
    assert ours.unit == entry["unit"]
    for field in FIELDS:
        _close(getattr(ours, field), entry[field], field)
    theirs = entry["studies"]
    assert [s.row.study for s in ours.studies] == [s["study"] for s in theirs]
    for s, t in zip(ours.studies, theirs, strict=True):
        assert s.included == t["included"], s.row.study
        if t["included"]:
            _close(s.y, t["y"], f"{s.row.study} y")
            _close(s.v, t["v"], f"{s.row.study} v")
            _close(s.weight, t["weight"], f"{s.row.study} weight")
        else:
            assert s.y is None and s.weight is None and s.reason


def test_methods_differ_on_heterogeneous_data() -> None:
    """REML, DL and PM give different τ² when studies disagree (the reference is not one
    number copied three times)."""
    taus = {e["method"]: e["tau2"] for e in REFERENCE if e["file"] == "all_types.csv"
            and "by" not in e}
    assert len({round(t, 8) for t in taus.values()}) == 3
    assert all(t > 0 and math.isfinite(t) for t in taus.values())
