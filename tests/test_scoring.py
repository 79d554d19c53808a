"""Record scoring: (pmid, parameter, value) and the same with the unit, on hand-made examples."""

from __future__ import annotations

from pkharvest.corpus.records import Example, Relation, Span
from pkharvest.records import Measurement
from pkharvest.scoring import (
    gold_records_with_unit,
    measurement_records_with_unit,
    score_records,
    unit_key,
)

TEXT = "Clearance was 5.2 mL/min and V 40 L."


def _span(surface: str, label: str) -> Span:
    start = TEXT.index(surface)
    return Span(start, start + len(surface), 0, 0, label)


def _example() -> Example:
    cl, v = _span("Clearance", "PK"), _span("V", "PK")
    a, b = _span("5.2", "VALUE"), _span("40", "VALUE")
    u1, u2 = _span("mL/min", "UNITS"), _span("L.", "UNITS")
    u2 = Span(u2.start, u2.start + 1, 0, 0, "UNITS")
    rels = [Relation(cl, a, "C_VAL"), Relation(v, b, "C_VAL"), Relation(u1, a, "RELATED"),
            Relation(u2, b, "RELATED")]
    return Example(TEXT, [], [cl, v, a, b, u1, u2], rels, pmid="9")


def _meas(param: str, value: str, unit: str | None) -> Measurement:
    return Measurement(pmid="9", sentence_index=0, parameter_text=param, parameter_start=0,
                       parameter_end=len(param), value_text=value, unit_text=unit)


def test_record_with_unit_needs_the_unit_right() -> None:
    gold = gold_records_with_unit([_example()])
    right = measurement_records_with_unit([_meas("CL", "5.2", "ml/min"), _meas("V", "40", "L")])
    wrong = measurement_records_with_unit([_meas("CL", "5.2", "mL/min"), _meas("V", "40", None)])
    assert score_records(right, gold).f1 == 1.0
    s = score_records(wrong, gold)
    assert (s.tp, s.fp, s.fn) == (1, 1, 1)


def test_unit_key_reads_spellings_alike() -> None:
    assert unit_key("mL/min") == unit_key("ml·min-1") != unit_key("L/h")
    assert unit_key(None) is None and unit_key("weird unit") == "weird unit"
