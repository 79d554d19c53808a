"""What a review decision may say, and its checks: one :class:`ReviewInputError` naming the
field for anything wrong, before anything is written."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pkharvest.corpus.records import ENTITY_LABELS
from pkharvest.errors import UsageError
from pkharvest.normalise import normalise, parse_unit
from pkharvest.normalise.parameters import VOCABULARY
from pkharvest.records import Measurement

DECISIONS: tuple[str, ...] = ("accept", "reject", "correct")
# Reasons a value is rejected (key -> what the page shows).
REJECT_REASONS: dict[str, str] = {
    "not_pk": "not a PK value",
    "wrong_link": "value linked to the wrong parameter",
    "wrong_value": "value or unit misread",
    "cited": "cited from another study",
    "duplicate": "duplicate of another value",
    "other": "other",
}
STATISTICS: tuple[str, ...] = (
    "mean", "geometric_mean", "median", "individual", "population_estimate",
)  # fmt: skip
POPULATIONS: tuple[str, ...] = ("healthy", "patients")
PARAMETERS: dict[str, str] = {p.key: p.name for p in VOCABULARY}
# Fields a correction may set; the rest of a correction is refused naming the field.
CORRECTABLE: tuple[str, ...] = (
    "parameter", "value", "unit", "deviation", "statistic", "n", "population",
)  # fmt: skip
MAX_REVIEWER = 80


class ReviewInputError(UsageError):
    """A decision that cannot be recorded; ``field`` names it."""


@dataclass(frozen=True)
class SpanFix:
    """An entity span of a sentence as the reviewer set it (sentence-relative offsets)."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Decision:
    """A checked decision, ready to store. ``fields`` holds the corrected fields with the
    normalised values they imply (``parameter`` key, canonical ``unit``, ``value_canonical``)."""

    decision: str
    reviewer: str
    reason: str | None = None
    fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def check_reviewer(reviewer: Any) -> str:
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise ReviewInputError("give the reviewer's name", field="reviewer")
    reviewer = " ".join(reviewer.split())
    if len(reviewer) > MAX_REVIEWER:
        raise ReviewInputError(f"longer than {MAX_REVIEWER} characters", field="reviewer")
    return reviewer


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ReviewInputError(f"not a number: {value!r}", field=name)
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value.strip().replace("−", "-").replace(",", ""))
        except ValueError:
            raise ReviewInputError(f"not a number: {value!r}", field=name) from None
    else:
        raise ReviewInputError(f"not a number: {value!r}", field=name)
    if not math.isfinite(out):
        raise ReviewInputError(f"not a finite number: {value!r}", field=name)
    return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_correction(fields: Any, current: Measurement) -> dict[str, Any]:
    """The corrected fields of ``current`` (an extracted measurement) as they will be stored.

    Blank fields are left as extracted. Parameter, value and unit are re-normalised together
    (as the pipeline does), so a unit that Pint cannot read or that does not suit the parameter
    is refused naming ``unit``."""
    if not isinstance(fields, Mapping):
        raise ReviewInputError("expected an object of corrected fields", field="fields")
    unknown = sorted(set(fields) - set(CORRECTABLE))
    if unknown:
        raise ReviewInputError(
            f"unknown field(s) {', '.join(map(str, unknown))} (correctable: "
            f"{', '.join(CORRECTABLE)})", field="fields")
    given = {k: v for k, v in fields.items() if not _blank(v)}
    if not given:
        raise ReviewInputError("a correction needs at least one field", field="fields")
    out: dict[str, Any] = {}
    if "parameter" in given:
        key = given["parameter"]
        if not isinstance(key, str) or key not in PARAMETERS:
            raise ReviewInputError(f"{key!r} is not in the parameter vocabulary",
                                   field="parameter")
        out["parameter"] = key
    if "value" in given:
        out["value"] = _number(given["value"], "value")
    if "deviation" in given:
        out["deviation"] = _number(given["deviation"], "deviation")
    if "unit" in given:
        unit = given["unit"]
        if not isinstance(unit, str):
            raise ReviewInputError(f"not a unit: {unit!r}", field="unit")
        parsed = parse_unit(unit)
        if not parsed.ok:
            raise ReviewInputError(f"{unit!r}: {parsed.error or 'not a unit'}", field="unit")
        out["unit_text"] = unit.strip()
    if "statistic" in given:
        if given["statistic"] not in STATISTICS:
            raise ReviewInputError(f"{given['statistic']!r} is not one of "
                                   f"{', '.join(STATISTICS)}", field="statistic")
        out["statistic"] = given["statistic"]
    if "population" in given:
        if given["population"] not in POPULATIONS:
            raise ReviewInputError(f"{given['population']!r} is not one of "
                                   f"{', '.join(POPULATIONS)}", field="population")
        out["population"] = given["population"]
    if "n" in given:
        n = given["n"]
        if isinstance(n, str) and n.strip().isdigit():
            n = int(n.strip())
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ReviewInputError(f"not a group size (a whole number from 1): {n!r}",
                                   field="n")
        out["n"] = n
    if {"parameter", "value", "unit_text"} & set(out):
        out.update(_renormalise(out, current))
    return out


def _renormalise(out: Mapping[str, Any], current: Measurement) -> dict[str, Any]:
    """Normalise the corrected parameter / value / unit together with what was extracted."""
    key = out.get("parameter", current.parameter)
    parameter_text = PARAMETERS.get(key, current.parameter_text)
    draft = dataclasses.replace(
        current,
        parameter_text=parameter_text,
        value=out.get("value", current.value),
        unit_text=out.get("unit_text", current.unit_text),
        flags=[],
    )
    if "value" in out:  # a corrected point value replaces a range
        draft = dataclasses.replace(draft, value_low=None, value_high=None)
    done = normalise(draft)
    mismatch = [f for f in done.flags if f.startswith("unit_dimension_mismatch")]
    if mismatch:
        raise ReviewInputError(
            f"{draft.unit_text!r} does not suit the parameter {parameter_text!r}",
            field="unit" if "unit_text" in out else "parameter")
    result: dict[str, Any] = {
        "parameter": done.parameter,
        "unit": done.unit,
        "value_canonical": done.value_canonical,
    }
    if "value" in out:
        result.update(value_low=None, value_high=None, value_low_canonical=None,
                      value_high_canonical=None)
    else:
        result.update(value_low_canonical=done.value_low_canonical,
                      value_high_canonical=done.value_high_canonical)
    return result


def check_decision(payload: Any, current: Measurement) -> Decision:
    """A decision as posted (``decision``, ``reason``, ``fields``, ``reviewer``), checked
    against the extracted measurement ``current``."""
    if not isinstance(payload, Mapping):
        raise ReviewInputError("expected a JSON object", field="body")
    decision = payload.get("decision")
    if decision not in DECISIONS:
        raise ReviewInputError(f"must be one of {', '.join(DECISIONS)}, not {decision!r}",
                               field="decision")
    reviewer = check_reviewer(payload.get("reviewer"))
    reason = payload.get("reason")
    fields: dict[str, Any] = {}
    if decision == "reject":
        if _blank(reason):
            reason = "other"
        if reason not in REJECT_REASONS:
            raise ReviewInputError(f"must be one of {', '.join(REJECT_REASONS)}, not {reason!r}",
                                   field="reason")
    else:
        reason = None
    if decision == "correct":
        fields = check_correction(payload.get("fields"), current)
    elif payload.get("fields"):
        raise ReviewInputError(f"fields are only for a correction, not {decision!r}",
                               field="fields")
    return Decision(decision=decision, reviewer=reviewer, reason=reason, fields=fields)


def check_spans(raw: Any, text: str) -> list[SpanFix]:
    """Entity spans posted for a sentence: objects ``{start, end, label}`` inside ``text``,
    labels of the corpus, no overlaps. Offsets are snapped outwards to whole tokens of the
    corpus tokenizer, so that the spans can be written as corpus lines."""
    from pkharvest.corpus.reader import tokenize

    if not isinstance(raw, list):
        raise ReviewInputError("expected a list of spans", field="spans")
    tokens = tokenize(text)
    spans: list[SpanFix] = []
    for i, s in enumerate(raw):
        if not isinstance(s, Mapping):
            raise ReviewInputError(f"span {i} is not an object", field="spans")
        label = s.get("label")
        if label not in ENTITY_LABELS:
            raise ReviewInputError(f"span {i}: label {label!r} is not one of "
                                   f"{', '.join(ENTITY_LABELS)}", field="spans")
        start, end = s.get("start"), s.get("end")
        if (isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int)
                or not isinstance(end, int) or not 0 <= start < end <= len(text)):
            raise ReviewInputError(f"span {i}: offsets {start!r}-{end!r} are not inside the "
                                   f"sentence (length {len(text)})", field="spans")
        inside = [t for t in tokens if t.start < end and t.end > start and not t.text.isspace()]
        if not inside:
            raise ReviewInputError(f"span {i}: {text[start:end]!r} holds no word", field="spans")
        spans.append(SpanFix(inside[0].start, inside[-1].end, label))
    spans = sorted(set(spans), key=lambda sp: (sp.start, sp.end))
    for a, b in itertools.pairwise(spans):
        if b.start < a.end:
            raise ReviewInputError(
                f"spans overlap: {a.label} {text[a.start:a.end]!r} and {b.label} "
                f"{text[b.start:b.end]!r}", field="spans")
    return spans
