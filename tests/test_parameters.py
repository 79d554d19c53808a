"""PK parameter vocabulary and matching (exact, normalised, fuzzy), and unit fit checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pkharvest.errors import UsageError
from pkharvest.normalise.parameters import (
    BY_KEY,
    FUZZY_THRESHOLD,
    VOCABULARY,
    lookup_parameter,
    normalise_parameter,
    normalise_text,
    resolve_parameter_name,
    unit_fits,
)
from pkharvest.normalise.units import KINDS, get_registry, parse_unit

EXACT = [
    ("clearance", "CL"),
    ("total body clearance", "CL"),
    ("CL", "CL"),
    ("apparent oral clearance", "CL/F"),
    ("CL/F", "CL/F"),
    ("renal clearance", "CLr"),
    ("CLR", "CLr"),
    ("non-renal clearance", "CLnr"),
    ("intercompartmental clearance", "Q"),
    ("half-life", "t1/2"),
    ("elimination half-life", "t1/2"),
    ("t½", "t1/2"),
    ("T1/2", "t1/2"),
    ("t(1/2)", "t1/2"),
    ("t1/2α", "t1/2alpha"),
    ("t1/2 β", "t1/2beta"),
    ("terminal half-life", "t1/2z"),
    ("absorption half-life", "t1/2abs"),
    ("peak concentration", "Cmax"),
    ("maximum plasma concentration", "Cmax"),
    ("C max", "Cmax"),
    ("trough concentration", "Ctrough"),
    ("Css", "Css"),
    ("Cavg", "Cavg"),
    ("Tmax", "Tmax"),
    ("time to peak concentration", "Tmax"),
    ("lag time", "Tlag"),
    ("area under the curve", "AUC"),
    ("AUC(0-∞)", "AUC0-inf"),
    ("AUC0–∞", "AUC0-inf"),
    ("AUC₀₋∞", "AUC0-inf"),
    ("AUCinf", "AUC0-inf"),
    ("AUC0-t", "AUC0-t"),
    ("AUClast", "AUC0-t"),
    ("AUC0-24", "AUC0-24"),
    ("AUCτ", "AUCtau"),
    ("AUMC", "AUMC"),
    ("volume of distribution", "V"),
    ("volume of distribution at steady state", "Vss"),
    ("Vd/F", "V/F"),
    ("V1", "Vc"),
    ("peripheral volume", "Vp"),
    ("Vz", "Vz"),
    ("ka", "ka"),
    ("kel", "ke"),
    ("elimination rate constant", "ke"),
    ("λz", "lambda_z"),
    ("bioavailability", "F"),
    ("F", "F"),
    ("mean residence time", "MRT"),
    ("fraction unbound", "fu"),
    ("protein binding", "PB"),
    ("fraction excreted unchanged", "fe"),
    ("creatinine clearance", "CLcr"),
    # modifiers, plurals, brackets
    ("mean plasma clearance", "CL"),
    ("mean apparent clearance", "CL/F"),
    ("half-lives", "t1/2"),
    ("Cmax values", "Cmax"),
    ("the terminal elimination half-life", "t1/2z"),
]


@pytest.mark.parametrize(("text", "key"), EXACT)
def test_exact_and_normalised_matches(text: str, key: str) -> None:
    m = normalise_parameter(text)
    assert m is not None, lookup_parameter(text).reason
    assert m.key == key
    assert m.score == 1.0
    assert m.name == BY_KEY[key].name


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("clearence", "CL"),
        ("biovailability", "F"),
        ("elimination half-lfe", "t1/2"),
        ("maximum plasma concentation", "Cmax"),
        ("volume of distrbution", "V"),
    ],
)
def test_fuzzy_spelling_variants(text: str, key: str) -> None:
    m = normalise_parameter(text)
    assert m is not None and m.key == key
    assert FUZZY_THRESHOLD / 100 <= m.score < 1.0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("AUC0-48", "AUC"),
        ("AUC(0–6 h)", "AUC"),
        ("clearance of ranitidine", "CL"),
        ("steady-state volume of distribution (Vss)", "Vss"),
    ],
)
def test_weaker_readings_score_below_one(text: str, key: str) -> None:
    m = normalise_parameter(text)
    assert m is not None and m.key == key and m.score < 1.0


@pytest.mark.parametrize("text", ["", "   ", "IC50", "Emax", "overall survival", "xyz", "%%%"])
def test_unknown_parameters_give_a_reason(text: str) -> None:
    look = lookup_parameter(text)
    assert look.match is None
    assert look.reason


def test_creatinine_clearance_is_a_covariate_not_cl() -> None:
    m = normalise_parameter("creatinine clearance")
    assert m is not None and m.key == "CLcr" and m.category == "covariate"
    assert normalise_parameter("clearance").category == "pk"  # type: ignore[union-attr]


def test_every_synonym_maps_to_its_own_entry() -> None:
    wrong = []
    for p in VOCABULARY:
        for syn in (p.key, p.name, *p.synonyms):
            m = normalise_parameter(syn)
            if m is None or m.key != p.key:
                wrong.append((syn, p.key, m.key if m else None))
    assert not wrong


def test_vocabulary_is_consistent() -> None:
    keys = [p.key for p in VOCABULARY]
    assert len(keys) == len(set(keys))
    ureg = get_registry()
    for p in VOCABULARY:
        assert p.kinds and all(k in KINDS for k in p.kinds), p.key
        canonical = KINDS[p.kinds[0]].canonical
        assert p.dimensionality == str(ureg.parse_expression(canonical).dimensionality)
    # a few expected dimensionalities
    assert BY_KEY["CL"].dimensionality == "[length] ** 3 / [time]"
    assert BY_KEY["t1/2"].dimensionality == "[time]"
    assert BY_KEY["F"].dimensionality == "dimensionless"


def test_normalise_text_folds_notation() -> None:
    assert normalise_text("AUC(0–∞)") == normalise_text("AUC0-inf") == "auc0inf"
    assert normalise_text("t½") == normalise_text("T 1/2") == "t1/2"


@pytest.mark.parametrize(
    ("key", "unit", "fits"),
    [
        ("CL", "mL/min", True),
        ("CL", "mL/min/kg", True),
        ("CL", "mL/min/1.73 m²", True),
        ("CL", "h", False),
        ("t1/2", "min", True),
        ("t1/2", "mg/L", False),
        ("Cmax", "µM", True),
        ("Cmax", "ng/mL", True),
        ("AUC", "ng·h/mL", True),
        ("AUC", "ng/mL", False),
        ("F", "%", True),
        ("ka", "h-1", True),
        ("V", "L/kg", True),
        ("V", "L/h", False),
    ],
)
def test_unit_fits(key: str, unit: str, fits: bool) -> None:
    ok, reason = unit_fits(key, parse_unit(unit))
    assert ok is fits
    assert (reason is None) is fits
    if not fits:
        assert key in reason  # type: ignore[operator]


def test_unit_fits_bad_inputs() -> None:
    assert unit_fits("nope", parse_unit("h"))[0] is False
    ok, reason = unit_fits("CL", parse_unit("bogus"))
    assert ok is False and reason and "bogus" in reason


def test_corpus_pk_mentions_are_mostly_in_the_vocabulary(corpus_path: Path) -> None:
    """Share of annotated PK spans that match the vocabulary (out-of-scope mentions such as
    IC50, Emax, MIC ratios or survival are expected to miss)."""
    total = hit = 0
    for line in corpus_path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        for sp in r.get("spans") or []:
            if sp["label"] == "PK":
                total += 1
                hit += normalise_parameter(r["text"][sp["start"] : sp["end"]]) is not None
    print(f"\nPK mentions matched: {hit}/{total} = {hit / total:.1%}")
    assert total > 0 and hit / total >= 0.80


@pytest.mark.parametrize(("typed", "key"), [
    ("clearance", "CL"), ("CL", "CL"), ("cl", "CL"), ("Vd", "V"), ("volume of distribution", "V"),
    ("half-life", "t1/2"), ("halflife", "t1/2"), ("t1/2", "t1/2"), ("AUC", "AUC"),
])
def test_a_parameter_name_a_user_types_resolves_to_its_key(typed: str, key: str) -> None:
    assert resolve_parameter_name(typed).key == key


def test_an_unknown_parameter_name_is_an_error_naming_the_nearest_keys() -> None:
    with pytest.raises(UsageError, match=r"unknown parameter 'clearence'; nearest keys: CL") as e:
        resolve_parameter_name("clearence")
    assert e.value.field == "parameter"
