"""End-to-end scoring of stored measurements against gold relations of an annotated corpus.

A *record* is ``(pmid, parameter, value)``: the parameter normalised against the PK vocabulary
(its written form, lower-cased, when the vocabulary has no match) and the central value as
written, parsed to numbers (a range as its two ends). Gold records come from the corpus's
``C_VAL`` relations (PK → VALUE/RANGE); predicted records from
:class:`~pkharvest.records.Measurement` rows. Precision, recall and F1 are pooled over records
(sets per article, so a record repeated in one abstract counts once).

A *record with unit* adds the unit of the central value: the gold unit is the ``UNITS`` span of
the corpus's ``RELATED`` relation to that value, the predicted one ``Measurement.unit_text``;
both are compared as read by :func:`~pkharvest.normalise.parse_unit` (canonical unit and
conversion factor, so "mL/min" and "ml/min" agree), the collapsed text when it cannot be read,
``None`` when there is none.

:func:`score_relations` scores the linker's relations (C_VAL, D_VAL, RELATED) against the gold
relations, with gold or predicted entities. Entity-span and sentence-class scores of the tagger
are in :mod:`pkharvest.training.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pkharvest.corpus.records import Example
from pkharvest.normalise.parameters import normalise_parameter
from pkharvest.normalise.units import parse_unit
from pkharvest.records import Entity, Measurement
from pkharvest.relations import RELATION_LABELS, parse_value, relations

Record = tuple[str, str, tuple[float | None, float | None, float | None]]
UnitKey = tuple[str, float] | str | None
RecordWithUnit = tuple[str, str, tuple[float | None, float | None, float | None], UnitKey]


@dataclass(frozen=True)
class RecordScore:
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def parameter_key(text: str) -> str:
    match = normalise_parameter(text)
    return match.key if match is not None else " ".join(text.lower().split())


def _value_key(text: str | None) -> tuple[float | None, float | None, float | None] | None:
    parsed = parse_value(text)
    if parsed is None:
        return None
    r = lambda x: None if x is None else round(float(x), 6)  # noqa: E731
    return (r(parsed.value), r(parsed.low), r(parsed.high))


def gold_records(examples: Iterable[Example]) -> set[Record]:
    """Records of the C_VAL relations of annotated sentences (examples need a PMID)."""
    return {r[:3] for r in gold_records_with_unit(examples)}


def unit_key(text: str | None) -> UnitKey:
    """A unit as compared in records with unit (see the module doc)."""
    if text is None or not text.strip():
        return None
    parsed = parse_unit(text)
    if parsed.ok and parsed.unit is not None and parsed.factor is not None:
        return (parsed.unit, float(f"{parsed.factor:.6g}"))
    return " ".join(text.split()).lower()


def gold_records_with_unit(examples: Iterable[Example]) -> set[RecordWithUnit]:
    """:func:`gold_records` with the unit of each central value."""
    out: set[RecordWithUnit] = set()
    for ex in examples:
        units = {
            (r.child.start, r.child.end): ex.text[r.head.start : r.head.end]
            for r in ex.relations
            if r.label == "RELATED" and r.head.label == "UNITS"
        }
        for rel in ex.relations:
            if rel.label != "C_VAL" or rel.head.label != "PK":
                continue
            value = _value_key(ex.text[rel.child.start : rel.child.end])
            if value is None or ex.pmid is None:
                continue
            unit = unit_key(units.get((rel.child.start, rel.child.end)))
            param = parameter_key(ex.text[rel.head.start : rel.head.end])
            out.add((str(ex.pmid), param, value, unit))
    return out


def measurement_records_with_unit(measurements: Iterable[Measurement]) -> set[RecordWithUnit]:
    out: set[RecordWithUnit] = set()
    for m in measurements:
        value = _value_key(m.value_text)
        if value is None:
            continue
        param = m.parameter or parameter_key(m.parameter_text)
        out.add((str(m.pmid), param, value, unit_key(m.unit_text)))
    return out


def measurement_records(measurements: Iterable[Measurement]) -> set[Record]:
    """Records of extracted measurements (see :func:`measurement_records_with_unit`)."""
    return {r[:3] for r in measurement_records_with_unit(measurements)}


def score_records(predicted: set[Any], gold: set[Any]) -> RecordScore:
    tp = len(predicted & gold)
    fp = len(predicted - gold)
    fn = len(gold - predicted)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return RecordScore(p, r, f, tp, fp, fn)


# --------------------------------------------------------------------------------------------
# Scoring against gold relations
# --------------------------------------------------------------------------------------------
RelKey = tuple[int, int, int, int, str]


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def _gold_keys(example: Any) -> set[RelKey]:
    return {(r.head.start, r.head.end, r.child.start, r.child.end, r.label)
            for r in getattr(example, "relations", ()) or ()}


def _gold_entities(example: Any) -> list[Entity]:
    text = example.text
    return [Entity(s.label, s.start, s.end, text[s.start:s.end]) for s in example.spans]


def _score(examples: Sequence[Any], entities_for: Callable[[Any], Iterable[Entity]]) -> dict:
    counts = {lab: [0, 0, 0] for lab in RELATION_LABELS}
    for ex in examples:
        gold = _gold_keys(ex)
        pred = {(r.head.start, r.head.end, r.child.start, r.child.end, r.label)
                for r in relations(ex.text, entities_for(ex))}
        for lab in RELATION_LABELS:
            g = {k for k in gold if k[4] == lab}
            p = {k for k in pred if k[4] == lab}
            counts[lab][0] += len(g & p)
            counts[lab][1] += len(p - g)
            counts[lab][2] += len(g - p)
    per = {lab: _prf(*c) for lab, c in counts.items()}
    tot = [sum(c[i] for c in counts.values()) for i in range(3)]
    return {"micro": _prf(*tot), "per_label": per, "sentences": len(examples)}


def score_relations(examples: Sequence[Any],
                    predict_entities: Callable[[str], Iterable[Entity]] | None = None) -> dict:
    """Pooled precision/recall/F1 of linked relations against the gold relations of corpus
    examples (objects with ``text``, ``spans`` and ``relations`` with head/child spans).

    A relation matches when its label and both spans' character offsets are exactly equal.
    ``result["gold_entities"]`` links the gold spans (linker quality alone);
    ``result["end_to_end"]`` (only when ``predict_entities(text) -> entities`` is given) links
    predicted entities. Each holds ``micro`` and ``per_label`` dicts of
    precision/recall/f1/tp/fp/fn."""
    examples = list(examples)
    result = {"gold_entities": _score(examples, _gold_entities)}
    if predict_entities is not None:
        result["end_to_end"] = _score(examples, lambda ex: predict_entities(ex.text))
    return result
