"""Study summaries to the log scale (PK parameters are log-normal).

Each study row gives ``y``, the mean of the log parameter, and ``v = σ²/n``, the sampling
variance of ``y`` (σ² the variance of the log parameter within the study):

* arithmetic mean m with SD s: σ² = ln(1 + s²/m²), y = ln m − σ²/2 (the log-normal moment
  relations). An SE gives s = SE·√n; a 95% CI (a, b) of the mean gives SE = (b − a)/(2·z₀.₉₇₅);
  a CV% gives s = m·CV/100.
* geometric mean g with CV%: σ² = ln(1 + (CV/100)²), y = ln g. With a 95% CI (a, b) of the
  geometric mean: SE of ln g = (ln b − ln a)/(2·z₀.₉₇₅), so v = SE².
* median M with IQR (q1, q3): y = ln M, σ = (ln q3 − ln q1) / (2·Φ⁻¹((0.75n − 0.125)/(n + 0.25)));
  with range (a, b): σ = (ln b − ln a) / (2·Φ⁻¹((n − 0.375)/(n + 0.25))) (Wan et al. 2014, BMC
  Med Res Methodol 14:135, applied to log values; n ≥ 2).

Values are first converted to the canonical unit of their quantity kind
(:func:`pkharvest.normalise.units.parse_unit`). A row that cannot be transformed is excluded,
with the reason (no n, no dispersion, a non-positive value...).
"""

from __future__ import annotations

import math

from scipy.stats import norm

from pkharvest.normalise.units import parse_unit
from pkharvest.pool.records import StudyEffect, StudyRow

Z975 = float(norm.ppf(0.975))

# the dispersions each statistic can be pooled with
_ALLOWED = {
    "mean": ("sd", "se", "ci95", "cv"),
    "geometric_mean": ("cv", "ci95"),
    "median": ("iqr", "range"),
}
_BOUNDED = ("iqr", "range", "ci95")


class _Excluded(Exception):
    pass


def _positive(value: float | None, what: str) -> float:
    if value is None:
        raise _Excluded(f"no {what}")
    if not math.isfinite(value) or value <= 0:
        raise _Excluded(f"{what} not positive")
    return value


def _bounds(row: StudyRow, factor: float, logs: bool) -> tuple[float, float]:
    kind = row.deviation_type
    if row.low is None or row.high is None:
        raise _Excluded(f"no dispersion: {kind} without low and high")
    a, b = row.low * factor, row.high * factor
    if logs and a <= 0:
        raise _Excluded(f"{kind} low bound not positive")
    if not b > a:
        raise _Excluded(f"{kind} high bound not above the low bound")
    return a, b


def _log_moments(row: StudyRow, factor: float) -> tuple[float, float]:
    """(y, v) of a row whose values times ``factor`` are in the canonical unit."""
    stat, kind = row.statistic, row.deviation_type
    if stat not in _ALLOWED:
        raise _Excluded(f"statistic {stat} cannot be pooled" if stat else "no statistic")
    estimate = _positive(row.estimate, "estimate") * factor
    if row.n is None:
        raise _Excluded("no n")
    n = row.n
    if n < 1:
        raise _Excluded("n below 1")
    if kind is None:
        raise _Excluded("no dispersion")
    if kind not in _ALLOWED[stat]:
        allowed = _ALLOWED[stat]
        needs = ", ".join(allowed[:-1]) + " or " + allowed[-1]
        raise _Excluded(f"{stat} needs {needs}, not {kind}")
    if kind not in _BOUNDED and row.deviation is None:
        raise _Excluded(f"no dispersion: {kind} without a value")

    if stat == "mean":
        if kind == "sd":
            s = _positive(row.deviation, "sd") * factor
        elif kind == "se":
            s = _positive(row.deviation, "se") * factor * math.sqrt(n)
        elif kind == "cv":
            s = estimate * _positive(row.deviation, "cv") / 100.0
        else:  # ci95 of the mean
            a, b = _bounds(row, factor, logs=False)
            if not a <= estimate <= b:
                raise _Excluded("mean outside its ci95")
            s = (b - a) / (2.0 * Z975) * math.sqrt(n)
        sigma2 = math.log1p((s / estimate) ** 2)
        return math.log(estimate) - sigma2 / 2.0, sigma2 / n

    if stat == "geometric_mean":
        if kind == "cv":
            sigma2 = math.log1p((_positive(row.deviation, "cv") / 100.0) ** 2)
            return math.log(estimate), sigma2 / n
        a, b = _bounds(row, factor, logs=True)  # ci95 of the geometric mean
        if not a <= estimate <= b:
            raise _Excluded("geometric mean outside its ci95")
        se = (math.log(b) - math.log(a)) / (2.0 * Z975)
        return math.log(estimate), se * se

    # median
    if n < 2:
        raise _Excluded(f"median with {kind} needs n of at least 2")
    a, b = _bounds(row, factor, logs=True)
    if not a <= estimate <= b:
        raise _Excluded(f"median outside its {kind}")
    if kind == "iqr":
        xi = float(norm.ppf((0.75 * n - 0.125) / (n + 0.25)))
    else:
        xi = float(norm.ppf((n - 0.375) / (n + 0.25)))
    sigma = (math.log(b) - math.log(a)) / (2.0 * xi)
    return math.log(estimate), sigma * sigma / n


def log_effect(row: StudyRow) -> StudyEffect:
    """The log-scale effect of one study row in its canonical unit, or the row excluded with
    the reason."""
    if not row.unit or not row.unit.strip():
        return StudyEffect(row, None, None, included=False, reason="no unit")
    unit = parse_unit(row.unit)
    if not unit.ok:
        return StudyEffect(row, None, None, included=False, reason=f"unit: {unit.error}")
    assert unit.factor is not None
    try:
        y, v = _log_moments(row, unit.factor)
    except _Excluded as exc:
        return StudyEffect(
            row, None, None, included=False, reason=str(exc), unit=unit.unit, kind=unit.kind
        )
    if not (math.isfinite(y) and math.isfinite(v) and v > 0):
        return StudyEffect(
            row, None, None, included=False, reason="variance not finite and positive",
            unit=unit.unit, kind=unit.kind,
        )
    return StudyEffect(row, y, v, included=True, unit=unit.unit, kind=unit.kind)
