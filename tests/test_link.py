"""Linker rules on hand-written sentences, value parsing, scoring, and the shared-corpus floor."""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkharvest.corpus.records import Example, Relation, Span
from pkharvest.link import (
    LinkedRelation,
    deviation_type,
    link,
    measurement_type,
    parse_value,
    relations,
    score_relations,
)
from pkharvest.records import Entity, Measurement, Sentence

# Micro-F1 measured with `python bench/bench_link.py` on the shared 401 sentences: 0.995
# (C_VAL 0.996, D_VAL 0.988, RELATED 0.997). The floors sit a little below.
MICRO_F1_FLOOR = 0.98
PER_LABEL_F1_FLOOR = 0.97


def _find(text: str, surface: str) -> list[int]:
    """Start offsets of ``surface`` as a whole token (not inside a longer word or unit)."""
    left = r"(?<![\w/·])" if surface[0].isalnum() else ""
    right = r"(?![\w/·])" if surface[-1].isalnum() else ""
    return [m.start() for m in re.finditer(left + re.escape(surface) + right, text)]


def ents(text: str, *specs: str) -> list[Entity]:
    """Entities from ``LABEL:surface`` specs; ``#n`` picks the n-th whole-token occurrence."""
    out = []
    for spec in specs:
        label, surface = spec.split(":", 1)
        nth = 1
        if re.search(r"#\d+$", surface):
            surface, n = surface.rsplit("#", 1)
            nth = int(n)
        start = _find(text, surface)[nth - 1]
        out.append(Entity(label, start, start + len(surface), surface))
    return out


def triples(text: str, entities: list[Entity]) -> set[tuple[str, str, str]]:
    return {(r.label, text[r.head.start:r.head.end] + f"@{r.head.start}",
             text[r.child.start:r.child.end] + f"@{r.child.start}")
            for r in relations(text, entities)}


def rel(text: str, label: str, head: str, child: str, hn: int = 1, cn: int = 1) -> tuple:
    def at(s: str, n: int) -> str:
        return f"{s}@{_find(text, s)[n - 1]}"
    return (label, at(head, hn), at(child, cn))


def sentence(text: str) -> Sentence:
    return Sentence(pmid="1", index=0, text=text, start=0, end=len(text))


# ------------------------------------------------------------------------------ C_VAL rules
def test_list_with_respectively_pairs_in_order() -> None:
    t = "CL, V and t1/2 were 5.2 L/h, 40 L and 6 h, respectively."
    e = ents(t, "PK:CL", "PK:V", "PK:t1/2", "VALUE:5.2", "UNITS:L/h", "VALUE:40", "UNITS:L",
             "VALUE:6", "UNITS:h")
    got = triples(t, e)
    assert got == {
        rel(t, "C_VAL", "CL", "5.2"), rel(t, "C_VAL", "V", "40"), rel(t, "C_VAL", "t1/2", "6"),
        rel(t, "RELATED", "L/h", "5.2"), rel(t, "RELATED", "L", "40"), rel(t, "RELATED", "h", "6"),
    }


def test_values_of_the_wrong_unit_kind_are_not_given_to_the_parameter() -> None:
    t = "The peak concentration at 9.71 h was 23.89 micrograms/ml and 21.46 micrograms/ml."
    e = ents(t, "PK:peak concentration", "VALUE:9.71", "UNITS:h", "VALUE:23.89",
             "UNITS:micrograms/ml#1", "VALUE:21.46", "UNITS:micrograms/ml#2")
    c_val = {r for r in triples(t, e) if r[0] == "C_VAL"}
    assert c_val == {rel(t, "C_VAL", "peak concentration", "23.89"),
                     rel(t, "C_VAL", "peak concentration", "21.46")}
    # when no value fits (or units are unknown), geometry alone decides, as before
    t2 = "The peak concentration was 9.71 h and 7.2 h."
    e2 = ents(t2, "PK:peak concentration", "VALUE:9.71", "UNITS:h#1", "VALUE:7.2", "UNITS:h#2")
    assert {r for r in triples(t2, e2) if r[0] == "C_VAL"} == {
        rel(t2, "C_VAL", "peak concentration", "9.71"),
        rel(t2, "C_VAL", "peak concentration", "7.2")}


def test_two_parameters_two_groups_cycle() -> None:
    t = ("Cmax and AUC were 5 mg/L and 40 mg·h/L in adults and 7 mg/L and 55 mg·h/L "
         "in children, respectively.")
    e = ents(t, "PK:Cmax", "PK:AUC", "VALUE:5", "UNITS:mg/L", "VALUE:40", "UNITS:mg·h/L",
             "VALUE:7", "UNITS:mg/L#2", "VALUE:55", "UNITS:mg·h/L#2")
    c_val = {r for r in triples(t, e) if r[0] == "C_VAL"}
    assert c_val == {rel(t, "C_VAL", "Cmax", "5"), rel(t, "C_VAL", "AUC", "40"),
                     rel(t, "C_VAL", "Cmax", "7"), rel(t, "C_VAL", "AUC", "55")}


def test_semicolon_blocks_go_block_by_block() -> None:
    t = "Km and Vmax differed (12 versus 30 µM; 4.1 versus 9.8 nmol/min, respectively)."
    e = ents(t, "PK:Km", "PK:Vmax", "VALUE:12", "VALUE:30", "UNITS:µM", "VALUE:4.1",
             "VALUE:9.8", "UNITS:nmol/min")
    c_val = {r for r in triples(t, e) if r[0] == "C_VAL"}
    assert c_val == {rel(t, "C_VAL", "Km", "12"), rel(t, "C_VAL", "Km", "30"),
                     rel(t, "C_VAL", "Vmax", "4.1"), rel(t, "C_VAL", "Vmax", "9.8")}


def test_from_to_links_both_values_and_shares_the_unit() -> None:
    t = "Clearance increased from 4.1 to 6.3 L/h after induction."
    e = ents(t, "PK:Clearance", "VALUE:4.1", "VALUE:6.3", "UNITS:L/h")
    assert triples(t, e) == {
        rel(t, "C_VAL", "Clearance", "4.1"), rel(t, "C_VAL", "Clearance", "6.3"),
        rel(t, "RELATED", "L/h", "4.1"), rel(t, "RELATED", "L/h", "6.3"),
    }


def test_value_in_parentheses_after_parameter() -> None:
    t = "The clearance (4.2 L/h) was lower in women than the half-life (6 h) suggested."
    e = ents(t, "PK:clearance", "VALUE:4.2", "UNITS:L/h", "PK:half-life", "VALUE:6", "UNITS:h")
    c_val = {r for r in triples(t, e) if r[0] == "C_VAL"}
    assert c_val == {rel(t, "C_VAL", "clearance", "4.2"), rel(t, "C_VAL", "half-life", "6")}


def test_separate_clauses_keep_their_own_parameter() -> None:
    t = "Cmax was 5 mg/L in adults; AUC was 40 mg·h/L in children."
    e = ents(t, "PK:Cmax", "VALUE:5", "UNITS:mg/L", "PK:AUC", "VALUE:40", "UNITS:mg·h/L")
    c_val = {r for r in triples(t, e) if r[0] == "C_VAL"}
    assert c_val == {rel(t, "C_VAL", "Cmax", "5"), rel(t, "C_VAL", "AUC", "40")}


def test_one_value_shared_by_listed_parameters() -> None:
    t = "Cpeak and Ctrough stayed above 0.5 mg/L."
    e = ents(t, "PK:Cpeak", "PK:Ctrough", "COMPARE:above", "VALUE:0.5", "UNITS:mg/L")
    assert triples(t, e) == {
        rel(t, "C_VAL", "Cpeak", "0.5"), rel(t, "C_VAL", "Ctrough", "0.5"),
        rel(t, "RELATED", "above", "0.5"), rel(t, "RELATED", "mg/L", "0.5"),
    }


def test_value_before_its_parameter() -> None:
    t = "The drug has a 12 h plasma half-life in rats."
    e = ents(t, "VALUE:12", "UNITS:h", "PK:half-life")
    assert rel(t, "C_VAL", "half-life", "12") in triples(t, e)


def test_values_before_any_parameter_go_to_the_following_ones() -> None:
    t = "Estimates were 1390 mg/h and 5.57 mg/L for the maximum rate and the Km, respectively."
    e = ents(t, "VALUE:1390", "UNITS:mg/h", "VALUE:5.57", "UNITS:mg/L", "PK:maximum rate",
             "PK:Km")
    c_val = {r for r in triples(t, e) if r[0] == "C_VAL"}
    assert c_val == {rel(t, "C_VAL", "maximum rate", "1390"), rel(t, "C_VAL", "Km", "5.57")}


# ------------------------------------------------------------------------------ D_VAL rules
def test_plus_minus_deviation_points_to_the_central_value() -> None:
    t = "The half-life was 6.1 ± 1.2 h and 8.4 +- 2.0 h in the elderly."
    e = ents(t, "PK:half-life", "VALUE:6.1", "VALUE:1.2", "UNITS:h", "VALUE:8.4", "VALUE:2.0",
             "UNITS:h#2")
    got = triples(t, e)
    assert rel(t, "D_VAL", "1.2", "6.1") in got and rel(t, "D_VAL", "2.0", "8.4") in got
    assert {r for r in got if r[0] == "C_VAL"} == {rel(t, "C_VAL", "half-life", "6.1"),
                                                   rel(t, "C_VAL", "half-life", "8.4")}
    # units go to both the central values and their deviations
    assert {rel(t, "RELATED", "h", "6.1"), rel(t, "RELATED", "h", "1.2"),
            rel(t, "RELATED", "h", "8.4", 2), rel(t, "RELATED", "h", "2.0", 2)} <= got


def test_sd_in_parentheses_and_unit_after() -> None:
    t = "Clearance was 12.5 (SD 3.4) L/h."
    e = ents(t, "PK:Clearance", "VALUE:12.5", "VALUE:3.4", "UNITS:L/h")
    assert triples(t, e) == {
        rel(t, "C_VAL", "Clearance", "12.5"), rel(t, "D_VAL", "3.4", "12.5"),
        rel(t, "RELATED", "L/h", "12.5"), rel(t, "RELATED", "L/h", "3.4"),
    }


def test_confidence_interval_range_takes_the_unit_of_its_value() -> None:
    t = "The geometric mean Cmax was 3.4 mg/L (95% CI 2.9–4.1)."
    e = ents(t, "PK:Cmax", "VALUE:3.4", "UNITS:mg/L", "RANGE:2.9–4.1")
    assert triples(t, e) == {
        rel(t, "C_VAL", "Cmax", "3.4"), rel(t, "D_VAL", "2.9–4.1", "3.4"),
        rel(t, "RELATED", "mg/L", "3.4"), rel(t, "RELATED", "mg/L", "2.9–4.1"),
    }


def test_range_after_median_is_a_deviation() -> None:
    t = "The median Tmax was 2.0 h (range 1.0-4.0 h)."
    e = ents(t, "PK:Tmax", "VALUE:2.0", "UNITS:h", "RANGE:1.0-4.0", "UNITS:h#2")
    got = triples(t, e)
    assert rel(t, "D_VAL", "1.0-4.0", "2.0") in got
    assert {r for r in got if r[0] == "C_VAL"} == {rel(t, "C_VAL", "Tmax", "2.0")}
    assert rel(t, "RELATED", "h", "1.0-4.0", 2) in got


def test_cv_percent_before_the_number() -> None:
    t = "AUC was 32.3 (CV% 41) and 36.5 (CV% 33.5) ng·h/mL."
    e = ents(t, "PK:AUC", "VALUE:32.3", "UNITS:%", "VALUE:41", "VALUE:36.5", "UNITS:%#2",
             "VALUE:33.5", "UNITS:ng·h/mL")
    got = triples(t, e)
    assert {rel(t, "D_VAL", "41", "32.3"), rel(t, "D_VAL", "33.5", "36.5"),
            rel(t, "RELATED", "%", "41"), rel(t, "RELATED", "%", "33.5", 2),
            rel(t, "RELATED", "ng·h/mL", "32.3"), rel(t, "RELATED", "ng·h/mL", "36.5")} <= got
    assert {r for r in got if r[0] == "C_VAL"} == {rel(t, "C_VAL", "AUC", "32.3"),
                                                   rel(t, "C_VAL", "AUC", "36.5")}


def test_comparison_in_parentheses_is_not_a_deviation() -> None:
    t = "Cmax fell from 479 (drug alone) to 446 ng/mL (with food)."
    e = ents(t, "PK:Cmax", "VALUE:479", "VALUE:446", "UNITS:ng/mL")
    got = triples(t, e)
    assert not any(r[0] == "D_VAL" for r in got)
    assert rel(t, "RELATED", "ng/mL", "479") in got and rel(t, "RELATED", "ng/mL", "446") in got


# ---------------------------------------------------------------------------- RELATED rules
def test_shared_unit_after_a_list_of_values() -> None:
    t = "Trough concentrations were 1.2 and 3.4 mg/L in the two groups."
    e = ents(t, "PK:Trough concentrations", "VALUE:1.2", "VALUE:3.4", "UNITS:mg/L")
    got = triples(t, e)
    assert rel(t, "RELATED", "mg/L", "1.2") in got and rel(t, "RELATED", "mg/L", "3.4") in got


def test_unit_before_value() -> None:
    t = "Cmax (mg/L): 3.2 in adults."
    e = ents(t, "PK:Cmax", "UNITS:mg/L", "VALUE:3.2")
    assert triples(t, e) == {rel(t, "C_VAL", "Cmax", "3.2"), rel(t, "RELATED", "mg/L", "3.2")}


def test_unit_is_not_borrowed_across_a_parameter() -> None:
    t = "The ratio was 1.04 and the half-life was 6 h."
    e = ents(t, "PK:ratio", "VALUE:1.04", "PK:half-life", "VALUE:6", "UNITS:h")
    got = triples(t, e)
    assert not any(r[0] == "RELATED" and r[2].startswith("1.04") for r in got)


def test_comparator_links_to_the_next_value() -> None:
    t = "The tissue half-life was > 24 h."
    e = ents(t, "PK:tissue half-life", "COMPARE:>", "VALUE:24", "UNITS:h")
    assert rel(t, "RELATED", ">", "24") in triples(t, e)


# ------------------------------------------------------------------------------- Measurements
def test_link_builds_measurements_with_all_fields() -> None:
    t = "The mean (± SD) half-life was 6.1 ± 1.2 h; the median Tmax was 2.0 h (range 1.0–4.0)."
    e = ents(t, "PK:half-life", "VALUE:6.1", "VALUE:1.2", "UNITS:h", "PK:Tmax", "VALUE:2.0",
             "UNITS:h#2", "RANGE:1.0–4.0")
    ms = link(sentence(t), e)
    assert [m.parameter_text for m in ms] == ["half-life", "Tmax"]
    hl, tmax = ms
    assert isinstance(hl, Measurement)
    assert (hl.value, hl.deviation, hl.deviation_type, hl.measurement_type, hl.unit_text) == (
        6.1, 1.2, "SD", "mean", "h")
    assert t[hl.parameter_start:hl.parameter_end] == "half-life"
    assert t[hl.value_start:hl.value_end] == "6.1"
    assert (tmax.value, tmax.deviation_text, tmax.deviation_type, tmax.measurement_type) == (
        2.0, "1.0–4.0", "range", "median")


def test_link_range_value_and_comparator() -> None:
    t = "Bioavailability ranged from 22 to 86% and the half-life was < 0.5 h."
    e = ents(t, "PK:Bioavailability", "RANGE:22 to 86", "UNITS:%", "PK:half-life",
             "COMPARE:<", "VALUE:0.5", "UNITS:h")
    f, hl = link(sentence(t), e)
    assert (f.value_text, f.value, f.value_low, f.value_high, f.unit_text) == (
        "22 to 86", None, 22.0, 86.0, "%")
    assert f.measurement_type == "range"
    assert (hl.comparator, hl.value, hl.unit_text) == ("<", 0.5, "h")


def test_geometric_mean_and_ci_types() -> None:
    t = "The geometric mean AUC was 40 mg·h/L (90% CI 35–46)."
    e = ents(t, "PK:AUC", "VALUE:40", "UNITS:mg·h/L", "RANGE:35–46")
    (m,) = link(sentence(t), e)
    assert (m.measurement_type, m.deviation_type, m.deviation_text) == (
        "geometric mean", "90% CI", "35–46")


def test_pk_without_value_yields_nothing() -> None:
    t = "Clearance was reduced in renal impairment."
    assert link(sentence(t), ents(t, "PK:Clearance")) == []
    assert link(sentence(t), []) == []


def test_link_ignores_bad_offsets() -> None:
    t = "CL was 5 L/h."
    good = ents(t, "PK:CL", "VALUE:5", "UNITS:L/h")
    bad = [Entity("VALUE", 40, 45, "x"), Entity("PK", 3, 1, "?"), Entity("NOPE", 0, 2, "CL")]
    (m,) = link(sentence(t), good + bad)
    assert (m.parameter_text, m.value, m.unit_text) == ("CL", 5.0, "L/h")


def test_measurement_and_deviation_type_helpers() -> None:
    t = "Median (IQR) clearance was 4.0 (3.1-5.2) L/h."
    e = ents(t, "VALUE:4.0", "RANGE:3.1-5.2")
    assert measurement_type(t, e[0].start, t.index("clearance")) == "median"
    assert deviation_type(t, e[0], e[1]) == "IQR"
    t2 = "AUC was 40 mg·h/L (20%)."
    e2 = ents(t2, "VALUE:40", "VALUE:20")
    assert deviation_type(t2, e2[0], e2[1], "%", "mg·h/L") == "CV"
    assert measurement_type("Clearance was 4 L/h.", 14) is None


# ------------------------------------------------------------------------------ value parsing
@pytest.mark.parametrize(("text", "value", "low", "high", "comparator"), [
    ("34.7", 34.7, None, None, None),
    ("1,234.5", 1234.5, None, None, None),
    ("15,981", 15981.0, None, None, None),
    ("1\u202f234", 1234.0, None, None, None),
    ("3.4 × 10^3", 3400.0, None, None, None),
    ("3.4 x 10(-3)", 0.0034, None, None, None),
    ("2.5 × 10⁻³", 0.0025, None, None, None),
    ("1.2e-3", 0.0012, None, None, None),
    ("0.5 to 2", None, 0.5, 2.0, None),
    ("30–100", None, 30.0, 100.0, None),
    ("30-100", None, 30.0, 100.0, None),
    ("30\u00a0—\u00a0100", None, 30.0, 100.0, None),
    ("50‐300", None, 50.0, 300.0, None),
    ("0. 27 to 0.36", None, 0.27, 0.36, None),
    ("−2.1", -2.1, None, None, None),
    ("‑2.1", -2.1, None, None, None),
    ("-2 to -1", None, -2.0, -1.0, None),
    ("< 0.5", 0.5, None, None, "<"),
    ("≤0.5", 0.5, None, None, "<="),
    ("~5", 5.0, None, None, "~"),
    ("3·4", 3.4, None, None, None),
    ("12%", 12.0, None, None, None),
    ("three", 3.0, None, None, None),
])
def test_parse_value(text: str, value: float | None, low: float | None, high: float | None,
                     comparator: str | None) -> None:
    p = parse_value(text)
    assert p is not None
    for got, want in ((p.value, value), (p.low, low), (p.high, high)):
        assert (got is None and want is None) or math.isclose(got, want, rel_tol=1e-9)
    assert p.comparator == comparator


@pytest.mark.parametrize("junk", ["", "   ", "abc", "1.2.3", "-", "1e999", "5 ± 2", None, 3.2,
                                  "mg/L", "(", "1" * 500])
def test_parse_value_junk_is_none(junk: object) -> None:
    assert parse_value(junk) is None  # type: ignore[arg-type]


@given(st.text(max_size=40))
def test_parse_value_never_raises(text: str) -> None:
    p = parse_value(text)
    if p is not None:
        nums = [x for x in (p.value, p.low, p.high) if x is not None]
        assert nums and all(math.isfinite(x) for x in nums)


# ------------------------------------------------------------------------------ never raises
_LABELS = st.sampled_from(["PK", "VALUE", "UNITS", "RANGE", "COMPARE", "pk", "OTHER", ""])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
       | st.text(alphabet="CL V 0123456789.,;:±+-–()[]% mg/L h and to were respectively",
                 max_size=120),
       spans=st.lists(st.tuples(_LABELS, st.integers(-5, 130), st.integers(-5, 130)),
                      max_size=12))
def test_link_never_raises(text: str, spans: list[tuple[str, int, int]]) -> None:
    entities = [Entity(lab, a, b, text[a:b] if 0 <= a <= b else "") for lab, a, b in spans]
    ms = link(Sentence("1", 0, text, 0, len(text)), entities)
    rels = relations(text, entities)
    assert all(isinstance(r, LinkedRelation) for r in rels)
    for m in ms:
        assert 0 <= m.parameter_start < m.parameter_end <= len(text)
        assert m.value_text == text[m.value_start:m.value_end]


# ------------------------------------------------------------------------------------ scoring
def _example(text: str, entities: list[Entity], gold: list[tuple[int, int, str]]) -> Example:
    spans = [Span(e.start, e.end, 0, 0, e.label) for e in entities]
    return Example(text=text, tokens=[], spans=spans,
                   relations=[Relation(spans[h], spans[c], lab) for h, c, lab in gold])


def test_score_relations_gold_and_end_to_end() -> None:
    t = "CL was 5.2 ± 1.1 L/h."
    e = ents(t, "PK:CL", "VALUE:5.2", "VALUE:1.1", "UNITS:L/h")
    gold = [(0, 1, "C_VAL"), (2, 1, "D_VAL"), (3, 1, "RELATED"), (3, 2, "RELATED")]
    ex = _example(t, e, gold)
    res = score_relations([ex])["gold_entities"]
    assert res["micro"]["f1"] == 1.0 and res["micro"]["tp"] == 4
    assert "end_to_end" not in score_relations([ex])

    # a tagger that misses the unit loses both RELATED relations, nothing else
    no_unit = score_relations([ex], lambda text: [x for x in e if x.label != "UNITS"])
    e2e = no_unit["end_to_end"]
    assert e2e["per_label"]["RELATED"]["recall"] == 0.0
    assert e2e["per_label"]["C_VAL"]["f1"] == 1.0
    assert e2e["micro"]["fn"] == 2 and e2e["micro"]["fp"] == 0

    # strict spans: with the central value one character short, the three gold relations
    # that involve it are all missed; only "L/h → 1.1" still matches
    short = [x if x.text != "5.2" else Entity("VALUE", x.start, x.end - 1, "5.") for x in e]
    e2e = score_relations([ex], lambda text: short)["end_to_end"]
    assert e2e["micro"]["tp"] == 1 and e2e["micro"]["fn"] == 3


def test_score_relations_wrong_gold_counts_as_errors() -> None:
    t = "CL and V were 5 L/h and 40 L, respectively."
    e = ents(t, "PK:CL", "PK:V", "VALUE:5", "UNITS:L/h", "VALUE:40", "UNITS:L")
    swapped = [(0, 4, "C_VAL"), (1, 2, "C_VAL")]  # gold deliberately crossed
    res = score_relations([_example(t, e, swapped)])["gold_entities"]["per_label"]["C_VAL"]
    assert (res["tp"], res["fp"], res["fn"]) == (0, 2, 2)


def test_shared_corpus_floor(corpus_path: Path) -> None:
    from pkharvest.corpus.reader import read_corpus

    examples = read_corpus(corpus_path)
    res = score_relations(examples)["gold_entities"]
    assert res["micro"]["f1"] >= MICRO_F1_FLOOR, res["micro"]
    for label, r in res["per_label"].items():
        assert r["f1"] >= PER_LABEL_F1_FLOOR, (label, r)


def test_link_runs_on_every_corpus_sentence(corpus_path: Path) -> None:
    from pkharvest.corpus.reader import read_corpus

    for ex in read_corpus(corpus_path):
        entities = [Entity(s.label, s.start, s.end, ex.text[s.start:s.end]) for s in ex.spans]
        ms = link(Sentence("0", 0, ex.text, 0, len(ex.text)), entities)
        n_cval = sum(r.label == "C_VAL" for r in ex.relations)
        # one measurement per linked pair; every gold parameter–value pair is counted once
        assert len(ms) <= n_cval + 2
        for m in ms:
            if m.value is None and m.value_low is None:
                assert parse_value(m.value_text) is None


def _bench_module() -> ModuleType:
    import importlib.util

    from pkharvest.paths import PROJECT_ROOT

    spec = importlib.util.spec_from_file_location("bench_link",
                                                  PROJECT_ROOT / "bench" / "bench_link.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_bench_script_prints_scores(corpus_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert _bench_module().main(["--corpus", str(corpus_path)]) == 0
    out = capsys.readouterr().out
    assert "401 sentences" in out and "micro" in out and "C_VAL" in out


@pytest.mark.slow
def test_bench_script_reports_a_missing_model(corpus_path: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # imports torch/transformers (≈20 s): a folder that is not a model is reported, not raised
    assert _bench_module().main(["--corpus", str(corpus_path), "--model", str(tmp_path)]) == 2
    assert "model not usable" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# Values that must not be stored wrong silently
# --------------------------------------------------------------------------------------------
def _one(text: str, *specs: str) -> list[Measurement]:
    return link(Sentence("1", 0, text, 0, len(text)), ents(text, *specs))


def test_minus_sign_left_out_of_the_value_span_is_kept() -> None:
    text = "The change in MAP was -197 +- 96 mmHg/h, and 5-10 h later it was −3.5 mmHg/h."
    ms = _one(text, "PK:change in MAP", "VALUE:197", "VALUE:96", "UNITS:mmHg/h#1",
              "VALUE:3.5", "UNITS:mmHg/h#2")
    by_value = {m.value: m for m in ms}
    assert set(by_value) == {-197.0, -3.5}
    assert by_value[-197.0].value_text == "-197"
    assert text[by_value[-197.0].value_start:by_value[-197.0].value_end] == "-197"
    # a range "5-10" or a deviation "+- 96" is no minus sign
    assert parse_value("5-10") == parse_value("5 - 10")
    assert by_value[-197.0].deviation == 96.0


def test_plus_minus_deviation_has_a_type() -> None:
    text = "CL was 2.194 +- 0.061 L/h/kg and V 0.4 ± 0.1 L/kg (range of doses 1-2 mg/kg)."
    ms = _one(text, "PK:CL", "VALUE:2.194", "VALUE:0.061", "UNITS:L/h/kg", "PK:V", "VALUE:0.4",
              "VALUE:0.1", "UNITS:L/kg")
    assert [m.deviation_type for m in ms] == ["±", "±"]
    text = "CL was 2.194 +- 0.061 L/h/kg (mean +- SD)."
    ms = _one(text, "PK:CL", "VALUE:2.194", "VALUE:0.061", "UNITS:L/h/kg")
    assert ms[0].deviation_type == "SD"


@pytest.mark.parametrize("unit", ["UNITS:liter/h", "UNITS:liter/h.kg", None])
def test_sd_in_brackets_after_a_unit_is_the_deviation(unit: str | None) -> None:
    text = "Total body clearance was 0.115 liter/h.kg (SD, 0.022)."
    specs = ["PK:Total body clearance", "VALUE:0.115", "VALUE:0.022"] + ([unit] if unit else [])
    ms = _one(text, *specs)
    assert len(ms) == 1
    assert (ms[0].value, ms[0].deviation, ms[0].deviation_type) == (0.115, 0.022, "SD")
    if unit:  # a unit cut before ".kg" is taken whole
        assert ms[0].unit_text == "liter/h.kg"


@pytest.mark.parametrize("text", [
    "The maximum concentration (Cmax), area under the curve (AUC0-24), volume of distribution "
    "(V), clearance (CL) and half-life (t1/2) were 28.6 mg/L, 262.4 mg×h/L, 340.2 mL/kg, "
    "0.021 L/h/kg and 11.8 h, respectively.",
    "The AUC0-24, V in the elderly, CL after the first dose and t1/2 were 262.4 mg×h/L, "
    "340.2 mL/kg, 0.021 L/h/kg and 11.8 h, respectively.",
    "Values of 262.4 mg×h/L, 340.2 mL/kg, 0.021 L/h/kg and 11.8 h were found for AUC0-24, "
    "the V in the elderly, the CL after the first dose and t1/2, respectively.",
])
def test_respectively_links_parameters_and_values_pairwise(text: str) -> None:
    specs = ["PK:AUC0-24", "PK:V", "PK:CL", "PK:t1/2", "VALUE:262.4", "UNITS:mg×h/L",
             "VALUE:340.2", "UNITS:mL/kg", "VALUE:0.021", "UNITS:L/h/kg", "VALUE:11.8",
             "UNITS:h"]
    if "Cmax" in text:
        specs += ["PK:Cmax", "VALUE:28.6", "UNITS:mg/L"]
    pairs = {(m.parameter_text, m.value_text) for m in _one(text, *specs)}
    expected = {("AUC0-24", "262.4"), ("V", "340.2"), ("CL", "0.021"), ("t1/2", "11.8")}
    if "Cmax" in text:
        expected.add(("Cmax", "28.6"))
    assert pairs == expected


def test_respectively_follows_the_units_when_the_written_order_contradicts_them() -> None:
    text = "CL, V and t1/2 were 12.4 h, 0.021 L/h/kg and 0.34 L/kg, respectively."
    ms = _one(text, "PK:CL", "PK:V", "PK:t1/2", "VALUE:12.4", "UNITS:h", "VALUE:0.021",
              "UNITS:L/h/kg", "VALUE:0.34", "UNITS:L/kg")
    assert {(m.parameter_text, m.value_text) for m in ms} == {
        ("t1/2", "12.4"), ("CL", "0.021"), ("V", "0.34")}


@pytest.mark.parametrize(("text", "specs", "flag"), [
    ("The t1/2 at 4 degree C was 187 days in the stability study.",
     ("PK:t1/2", "VALUE:187", "UNITS:days"), "in_vitro"),
    ("In vitro, the half-life in human plasma was 12 h.",
     ("PK:half-life", "VALUE:12", "UNITS:h"), "in_vitro"),
    ("The clearance agreed with the values given by Hnatowich et al. (130 ml/h).",
     ("PK:clearance", "VALUE:130", "UNITS:ml/h"), "cited"),
    ("As reported by previous studies, the clearance was 130 ml/h.",
     ("PK:clearance", "VALUE:130", "UNITS:ml/h"), "cited"),
])
def test_in_vitro_and_cited_values_are_flagged(text: str, specs: tuple[str, ...],
                                               flag: str) -> None:
    ms = _one(text, *specs)
    assert ms and all(flag in m.flags for m in ms)


def test_own_value_compared_with_a_cited_one_is_not_flagged() -> None:
    text = "Clearance was 5.1 L/h, similar to that reported by Smith et al.; V was 40 L."
    ms = _one(text, "PK:Clearance", "VALUE:5.1", "UNITS:L/h", "PK:V", "VALUE:40", "UNITS:L")
    assert [m.flags for m in ms] == [[], []]


def test_respectively_with_one_parameter_named_twice_keeps_the_geometry_rules() -> None:
    text = ("The first and second distribution half-lives were similar, with distribution "
            "half-lives of 0.1 h and 0.75 h, respectively.")
    ms = _one(text, "PK:second distribution half-lives", "PK:distribution half-lives#2",
              "VALUE:0.1", "UNITS:h#1", "VALUE:0.75", "UNITS:h#2")
    assert {(m.parameter_text, m.value_text) for m in ms} == {
        ("distribution half-lives", "0.1"), ("distribution half-lives", "0.75")}
