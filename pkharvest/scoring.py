"""End-to-end scoring of stored measurements against gold relations of an annotated corpus.

A *record* is ``(pmid, parameter, value)``: the parameter normalised against the PK vocabulary
(its written form, lower-cased, when the vocabulary has no match) and the central value as
written, parsed to numbers (a range as its two ends). Gold records come from the corpus's
``C_VAL`` relations (PK → VALUE/RANGE); predicted records from
:class:`~pkharvest.records.Measurement` rows. Precision, recall and F1 are pooled over records
(sets per article, so a record repeated in one abstract counts once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pkharvest.corpus.records import Example
from pkharvest.link import parse_value
from pkharvest.normalise.parameters import normalise_parameter
from pkharvest.records import Measurement

Record = tuple[str, str, tuple[float | None, float | None, float | None]]


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
    out: set[Record] = set()
    for ex in examples:
        for rel in ex.relations:
            if rel.label != "C_VAL" or rel.head.label != "PK":
                continue
            value = _value_key(ex.text[rel.child.start : rel.child.end])
            if value is None or ex.pmid is None:
                continue
            out.add((str(ex.pmid), parameter_key(ex.text[rel.head.start : rel.head.end]), value))
    return out


def measurement_records(measurements: Iterable[Measurement]) -> set[Record]:
    out: set[Record] = set()
    for m in measurements:
        value = _value_key(m.value_text)
        if value is None:
            continue
        param = m.parameter or parameter_key(m.parameter_text)
        out.add((str(m.pmid), param, value))
    return out


def score_records(predicted: set[Record], gold: set[Record]) -> RecordScore:
    tp = len(predicted & gold)
    fp = len(predicted - gold)
    fn = len(gold - predicted)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return RecordScore(p, r, f, tp, fp, fn)
