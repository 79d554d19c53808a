"""Normalisation of linked measurements: parameter vocabulary, units with Pint, dimension checks.

``normalise(m)`` returns a copy of a raw :class:`~pkharvest.records.Measurement` with
``parameter``, ``unit``, ``value_canonical``, ``value_low_canonical`` and
``value_high_canonical`` filled where possible. Whatever cannot be normalised is explained in
``flags`` (never raised, never dropped):

* ``unknown_parameter:<text>`` -- the parameter mention is not in the vocabulary;
* ``covariate:<key>`` -- a covariate such as creatinine clearance, not a drug PK parameter;
* ``no_unit`` -- no unit text (and the parameter is not a fraction, which may be unitless);
* ``unparsable_unit:<text>`` -- Pint could not read the unit, or it has no PK quantity kind;
* ``unit_dimension_mismatch:<key>:<unit kind>`` -- the unit does not suit the parameter (the
  canonical values are then left empty);
* ``negative_value:<key>`` -- a value below zero for a parameter that cannot be negative
  (clearance, volume, half-life, AUC, Cmax ...): kept with its sign, never made positive.
"""

from __future__ import annotations

import dataclasses
import logging
import math

from pkharvest.normalise.parameters import (
    BY_KEY,
    VOCABULARY,
    ParameterDef,
    ParameterLookup,
    ParameterMatch,
    lookup_parameter,
    normalise_parameter,
    unit_fits,
)
from pkharvest.normalise.units import KINDS, QuantityKind, UnitResult, get_registry, parse_unit
from pkharvest.records import Measurement

logger = logging.getLogger(__name__)

__all__ = [
    "BY_KEY",
    "KINDS",
    "VOCABULARY",
    "ParameterDef",
    "ParameterLookup",
    "ParameterMatch",
    "QuantityKind",
    "UnitResult",
    "canonical_deviation",
    "get_registry",
    "lookup_parameter",
    "normalise",
    "normalise_parameter",
    "parse_unit",
    "unit_fits",
    "unit_suits",
]

_FLAG_TEXT_MAX = 80


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _FLAG_TEXT_MAX else text[: _FLAG_TEXT_MAX - 1] + "…"


def _scale(value: float | None, factor: float) -> float | None:
    if value is None:
        return None
    try:
        out = float(value) * factor
    except (TypeError, ValueError, OverflowError):
        return None
    return out if math.isfinite(out) else None


def unit_suits(parameter_text: str, unit_text: str) -> bool | None:
    """Whether a unit as written suits a parameter as written (the dimension check of
    :func:`normalise`); ``None`` when either cannot be normalised."""
    match = normalise_parameter(parameter_text)
    parsed = parse_unit(unit_text)
    if match is None or not parsed.ok or parsed.kind is None:
        return None
    return unit_fits(match.key, parsed)[0]


def normalise(measurement: Measurement) -> Measurement:
    """Normalised copy of ``measurement`` (the input is not modified). Never raises."""
    m = dataclasses.replace(measurement, flags=list(measurement.flags or []))
    try:
        _normalise_into(m)
    except Exception as exc:  # the pipeline must keep every measurement
        logger.warning("normalisation failed for PMID %s: %s", m.pmid, exc, exc_info=True)
        _flag(m, f"normalisation_error:{type(exc).__name__}")
    return m


# Kinds whose values may be below zero (a rate of change); every other PK kind cannot.
_SIGNED_KINDS = frozenset({"concentration_rate", "concentration_rate_molar"})


def _negative(m: Measurement) -> bool:
    return any(isinstance(x, (int, float)) and x < 0 for x in (m.value, m.value_low))


def canonical_deviation(m: Measurement, factor: float | None) -> float | None:
    """The deviation of ``m`` in the unit of its canonical value (``factor`` converts the value's
    unit into it): an SD, SE or "±" deviation is scaled like the value; a CV (``deviation_type``
    "CV", or a "%" written with the deviation of a value that is no percentage) stays a
    percentage, unscaled; None without a single-number deviation or a factor."""
    if m.deviation is None:
        return None
    if m.deviation_type == "CV" or (m.deviation_text or "").rstrip().endswith("%"):
        return _scale(m.deviation, 1.0)
    if factor is None:
        return None
    return _scale(m.deviation, factor)


def _flag(m: Measurement, flag: str) -> None:
    if flag not in m.flags:
        m.flags.append(flag)


def _normalise_into(m: Measurement) -> None:
    m.parameter = None
    m.unit = None
    m.value_canonical = m.value_low_canonical = m.value_high_canonical = None
    m.deviation_canonical = None

    lookup = lookup_parameter(m.parameter_text if isinstance(m.parameter_text, str) else "")
    match = lookup.match
    if match is None:
        _flag(m, f"unknown_parameter:{_clip(m.parameter_text or '')}")
    else:
        m.parameter = match.key
        if match.category == "covariate":
            _flag(m, f"covariate:{match.key}")
        if _negative(m) and not set(match.kinds) & _SIGNED_KINDS:
            # a clearance, volume, half-life, AUC or Cmax below zero: kept as written, flagged
            _flag(m, f"negative_value:{match.key}")

    unit_text = m.unit_text if isinstance(m.unit_text, str) else None
    if unit_text is None or not unit_text.strip():
        if match is not None and "fraction" in match.kinds and m.value is not None:
            # F = 0.85, fu = 0.1: a fraction may be written without a unit
            m.unit = KINDS["fraction"].canonical
            m.value_canonical = _scale(m.value, 1.0)
            m.value_low_canonical = _scale(m.value_low, 1.0)
            m.value_high_canonical = _scale(m.value_high, 1.0)
            m.deviation_canonical = canonical_deviation(m, 1.0)
        else:
            _flag(m, "no_unit")
        return

    result = parse_unit(unit_text)
    if not result.ok or result.factor is None:
        _flag(m, f"unparsable_unit:{_clip(unit_text)}")
        return
    if match is not None:
        fits, _reason = unit_fits(match.key, result)
        if not fits:
            _flag(m, f"unit_dimension_mismatch:{match.key}:{result.kind}")
            return
    m.unit = result.unit
    m.value_canonical = _scale(m.value, result.factor)
    m.value_low_canonical = _scale(m.value_low, result.factor)
    m.value_high_canonical = _scale(m.value_high, result.factor)
    m.deviation_canonical = canonical_deviation(m, result.factor)
