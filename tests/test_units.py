"""Unit parsing with Pint: PK notations, canonical units per kind, coverage, the CLI."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import unicodedata
from pathlib import Path

import pint
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.normalise import units
from pkharvest.normalise.units import (
    KINDS,
    clean_unit_text,
    display_unit,
    fold_case,
    get_registry,
    parse_unit,
)

ROOT = Path(__file__).resolve().parent.parent

# (spelling, canonical unit, factor): factors follow from the unit definitions
CASES = [
    ("µg·h/mL", "mg*h/L", 1.0),
    ("μg·h/mL", "mg*h/L", 1.0),
    ("ng.h/ml", "mg*h/L", 1e-3),
    ("ng·h·mL−1", "mg*h/L", 1e-3),
    ("ng·h·mL⁻¹", "mg*h/L", 1e-3),
    ("h·ng/ml", "mg*h/L", 1e-3),
    ("ngh/ml", "mg*h/L", 1e-3),
    ("mg/l·min", "mg*h/L", 1 / 60),
    ("l·h-1", "L/h", 1.0),
    ("l∙hr-1", "L/h", 1.0),
    ("lh(-1)", "L/h", 1.0),
    ("mL/min", "L/h", 0.06),
    ("ml.min-1", "L/h", 0.06),
    ("L/h/kg", "L/h/kg", 1.0),
    ("mL/min/kg", "L/h/kg", 0.06),
    ("ml·min-1·kg-1", "L/h/kg", 0.06),
    ("ml/kg·min", "L/h/kg", 0.06),
    ("l/[h·kg]", "L/h/kg", 1.0),
    ("L/h/70 kg", "L/h/kg", 1 / 70),
    ("mL/min/1.73 m²", "L/h/1.73 m²", 0.06),
    ("mL·min⁻¹·(1.73 m²)⁻¹", "L/h/1.73 m²", 0.06),
    ("L/h/1.73 m²", "L/h/1.73 m²", 1.0),  # the canonical unit reads back as itself
    ("microg-min/ml", "mg*h/L", 1 / 60),  # a hyphen before a time unit is a product
    ("ng-h/mL", "mg*h/L", 1e-3),
    ("ml/min/m2", "L/h/1.73 m²", 0.06 * 1.73),
    ("h-1", "1/h", 1.0),
    ("h(-1)", "1/h", 1.0),
    ("h⁻¹", "1/h", 1.0),
    ("1/h", "1/h", 1.0),
    ("/h", "1/h", 1.0),
    ("min-1", "1/h", 60.0),
    ("%", "dimensionless", 0.01),
    ("µM", "umol/L", 1.0),
    ("μM", "umol/L", 1.0),
    ("nM", "umol/L", 1e-3),
    ("nmol/L", "umol/L", 1e-3),
    ("mg/L", "mg/L", 1.0),
    ("ng/mL", "mg/L", 1e-3),
    ("µg/dl", "mg/L", 1e-2),
    ("mcg/mL", "mg/L", 1.0),
    ("micrograms ml-1", "mg/L", 1.0),
    ("min", "h", 1 / 60),
    ("h", "h", 1.0),
    ("hr", "h", 1.0),
    ("hrs", "h", 1.0),
    ("hours", "h", 1.0),
    ("d", "h", 24.0),
    ("days", "h", 24.0),
    ("L", "L", 1.0),
    ("ml", "L", 1e-3),
    ("mL/kg", "L/kg", 1e-3),
    ("l·kg-1", "L/kg", 1.0),
    ("mg/kg", "mg/kg", 1.0),
    ("ng/g", "mg/kg", 1e-3),
    ("mg\u00a0/\u00a0L", "mg/L", 1.0),
    ("mg × h/L", "mg*h/L", 1.0),
    ("mg⋅h/L", "mg*h/L", 1.0),
    ("μg·h2/ml", "mg*h**2/L", 1.0),
    ("ng·h/ml/mg", "h/L", 1e-3),  # (1e-3 mg·h/L) per mg
    ("mIU/mL", "IU/L", 1.0),
    ("·10−6·cm/s", "cm/s", 1e-6),
    ("nM/l", "umol/L", 1e-3),  # molar symbol used for an amount
    ("ng·eq/g", "mg/kg", 1e-3),  # radioactivity equivalents
]


@pytest.mark.parametrize(("text", "unit", "factor"), CASES)
def test_pk_spellings(text: str, unit: str, factor: float) -> None:
    r = parse_unit(text)
    assert r.error is None, r
    assert r.unit == unit
    assert r.factor == pytest.approx(factor, rel=1e-9)
    assert r.input == text


# Letter case. Pint reads "ML" as a megalitre and "Mg" as a megagram: before the case rule these
# came out 10^6-10^9 off without any error (NG/ML → 1e-12, UG/ML → 1e-9, ML/MIN → 6e7, Mg/L → 1e9).
CASE_CASES = [
    ("NG/ML", "mg/L", 1e-3),
    ("UG/ML", "mg/L", 1.0),
    ("ML/MIN", "L/h", 0.06),
    ("Mg/L", "mg/L", 1.0),
    ("MCG/ML", "mg/L", 1.0),
    ("MG/L", "mg/L", 1.0),
    ("L/HR", "L/h", 1.0),
    ("MG.H/L", "mg*h/L", 1.0),
    ("UG.H/ML", "mg*h/L", 1.0),
    ("NG.H/ML", "mg*h/L", 1e-3),
    ("NG·H·ML-1", "mg*h/L", 1e-3),
    ("MG·H/ML", "mg*h/L", 1000.0),
    ("ML/MIN/KG", "L/h/kg", 0.06),
    ("ML·MIN-1·KG-1", "L/h/kg", 0.06),
    ("ML/MIN/1.73 M2", "L/h/1.73 m²", 0.06),  # "M2" squared: metre, not molar
    ("L·H(-1)·M(-2)", "L/h/1.73 m²", 0.06 * 1000 / 60 * 1.73),
    ("ML", "L", 1e-3),
    ("ML/KG", "L/kg", 1e-3),
    ("L/KG", "L/kg", 1.0),
    ("MG/KG", "mg/kg", 1.0),
    ("NG/G", "mg/kg", 1e-3),
    ("H-1", "1/h", 1.0),
    ("MIN-1", "1/h", 60.0),
    ("D", "h", 24.0),  # not debye
    ("NMOL/L", "umol/L", 1e-3),
    ("NM", "umol/L", 1e-3),  # nanomolar, not nanometre
    ("MM", "umol/L", 1e3),  # millimolar, not megamolar
    ("PM/ML", "umol/L", 1e-3),  # pmol/mL (molar symbol for an amount), not petamolar
    ("NM-1·H-1", "1/nM/h", 1.0),  # an exponent -1 keeps the molar reading
    ("ΜG/ML", "mg/L", 1.0),  # "µg/ml".upper(): Greek capital mu
    ("µG/ML", "mg/L", 1.0),  # capitals around a micro sign
    ("IU/ML", "IU/L", 1e3),
    ("MIU/ML", "IU/L", 1.0),  # milli-IU: per volume an M prefix on IU is milli
    ("UIU/ML", "IU/L", 1e-3),
    ("MIU·H/ML", "IU*h/L", 1.0),
    # mixed case: a capital M (or P) on a mass, volume, amount or molar unit is milli (pico)
    ("Ml", "L", 1e-3),
    ("ML/min", "L/h", 0.06),
    ("pg/ML", "mg/L", 1e-6),
    ("MG/kg", "mg/kg", 1.0),
    ("Mmol/L", "umol/L", 1e3),
    ("mL/min/1.73 M2", "L/h/1.73 m²", 0.06),
]


@pytest.mark.parametrize(("text", "unit", "factor"), CASE_CASES)
def test_upper_case_spellings(text: str, unit: str, factor: float) -> None:
    r = parse_unit(text)
    assert r.error is None, r
    assert r.unit == unit
    assert r.factor == pytest.approx(factor, rel=1e-9)


# Genuine mega units keep their prefix: (as written, conventional spelling, value in base unit)
MEGA_CASES = [
    ("MBq/kg", "MBq/kg", 1e6, "Bq/kg"),  # radiopharmaceutical dose per weight
    ("MBq", "MBq", 1e6, "Bq"),
    ("MBQ/KG", "MBq/kg", 1e6, "Bq/kg"),  # all caps: doses are MBq, never mBq
    ("GBq", "GBq", 1e9, "Bq"),
    ("MU/kg", "MU/kg", 1e6, "U/kg"),  # million units (interferon, penicillin)
    ("MU", "MU", 1e6, "U"),
    ("MIU", "MIU", 1e6, "IU"),  # 3 MIU interferon: a dose, not per volume
    ("MIU/KG", "MIU/kg", 1e6, "IU/kg"),
    ("MU/M2", "MU/m2", 1e6, "U/m**2"),
    ("MIU/mL", "MIU/mL", 1e6, "IU/mL"),  # written so: trusted (a formulation strength)
]


@pytest.mark.parametrize(("text", "folded", "magnitude", "base"), MEGA_CASES)
def test_genuine_mega_units_stay_mega(text: str, folded: str, magnitude: float, base: str) -> None:
    assert fold_case(text) == folded
    q = get_registry().Quantity(1, clean_unit_text(text))
    assert q.to(base).magnitude == pytest.approx(magnitude)
    assert "implausible" not in (parse_unit(text).error or "")


def test_all_caps_millicurie() -> None:
    assert fold_case("MCI") == "mCi" and fold_case("UCI") == "uCi"


@pytest.mark.parametrize("text", ["megaliter", "Mgram", "GL/h", "MLmin", "megamolar"])
def test_mega_mass_volume_amount_is_refused(text: str) -> None:
    r = parse_unit(text)
    assert r.unit is None and r.factor is None
    assert r.error is not None and r.error.startswith("implausible unit"), r


# Activity units. Pint's "U" is the enzyme unit (µmol/min) and "u" the atomic mass unit: before,
# "U/L" read as 60 µmol/L/h, "U·h/mL" as a molar concentration and "u/kg" as 1.7e-21 mg/kg, all
# without an error. U is read as IU: (spelling, factor to IU/L or IU*h/L, the IU spelling).
ACTIVITY_CASES = [
    ("U/L", 1.0, "IU/L"),
    ("U/mL", 1e3, "IU/mL"),  # heparin
    ("mU/L", 1e-3, "mIU/L"),  # insulin
    ("µU/mL", 1e-3, "µIU/mL"),
    ("μU/ml", 1e-3, "μIU/ml"),
    ("uU/mL", 1e-3, "uIU/mL"),
    ("kU/L", 1e3, "kIU/L"),
    ("units/mL", 1e3, "IU/mL"),  # Pint: micro-nits per mL
    ("mu/l", 1e-3, "miu/l"),  # lower-cased mU/L
    ("uu/ml", 1e-3, "uiu/ml"),
    ("u/ml", 1e3, "iu/ml"),
    ("U·h/mL", 1e3, "IU·h/mL"),
    ("mU·h/L", 1e-3, "mIU·h/L"),
    ("MU/ML", 1.0, "MIU/ML"),  # all caps: milli per volume, as for MIU/ML
]


@pytest.mark.parametrize(("text", "factor", "iu_text"), ACTIVITY_CASES)
def test_activity_units_read_as_iu(text: str, factor: float, iu_text: str) -> None:
    r, iu = parse_unit(text), parse_unit(iu_text)
    assert r.ok, r
    assert r.kind in ("concentration_iu", "exposure_iu")
    assert (r.unit, r.kind) == (iu.unit, iu.kind)
    assert r.factor == pytest.approx(factor, rel=1e-9)
    assert r.factor == pytest.approx(iu.factor, rel=1e-9)


@pytest.mark.parametrize(
    ("text", "unit", "factor"),
    [("ug/mL", "mg/L", 1.0), ("umol/l", "umol/L", 1.0), ("uL/min", "L/h", 6e-5),
     ("mug/ml", "mg/L", 1.0), ("muM", "umol/L", 1.0), ("mumol/l", "umol/L", 1.0),
     ("µg/kg", "mg/kg", 1e-3), ("ul", "L", 1e-6)],
)  # fmt: skip
def test_ascii_micro_is_not_an_activity_unit(text: str, unit: str, factor: float) -> None:
    r = parse_unit(text)
    assert (r.unit, r.factor) == (unit, pytest.approx(factor, rel=1e-9)), r


@pytest.mark.parametrize("text", ["U/kg", "u/kg", "IU/kg", "MU/m2", "U", "IU"])
def test_activity_doses_are_refused(text: str) -> None:
    # no PK kind for activity doses (as for IU/kg before); never atomic mass units per kg
    r = parse_unit(text)
    assert r.unit is None and r.factor is None
    assert r.error is not None and "no PK quantity kind" in r.error, r
    assert "international_unit" in (r.dimensionality or ""), r


def test_lone_micro_sign_is_not_an_activity_unit() -> None:
    r = parse_unit("µ/ml")  # a lost "g", not units per mL
    assert r.unit is None and r.error == "unknown unit: micro"


@pytest.mark.parametrize(
    "text", ["°C", "℃", "degree c", "degrees c", "degrees C", "deg C", "degree C", "DEGREES C",
             "°F", "deg. C"],
)  # fmt: skip
def test_temperatures_are_refused(text: str) -> None:
    # "degree c" used to be an angle times the speed of light: 5.2e8 cm/s (a permeability)
    r = parse_unit(text)
    assert r.unit is None and r.factor is None and r.kind is None
    assert r.error == "not a PK unit: a temperature is not a PK quantity", r


def test_stray_c_is_never_the_speed_of_light() -> None:
    r = parse_unit("mg/c")
    assert r.unit is None and r.error is not None and "speed of light" in r.error


@pytest.mark.parametrize(
    "text", ["MBq", "mCi", "Ci", "Bq", "GBq", "kBq/mL", "MBq·h/mL", "MBq/kg", "µCi/kg", "MBQ"]
)
def test_radioactivity_is_refused(text: str) -> None:
    # Pint's Bq and Ci are 1/s: "MBq" was a rate constant of 3.6e9 /h, "MBq·h/mL" a C/D
    r = parse_unit(text)
    assert r.unit is None and r.factor is None and r.kind is None
    assert r.error is not None and r.error.startswith("not a PK unit: radioactivity"), r


@pytest.mark.parametrize("text", ["rpm", "cps"])
def test_rotation_and_count_rates_are_not_rate_constants(text: str) -> None:
    r = parse_unit(text)
    assert r.unit is None and r.error is not None and r.error.startswith("not a PK unit"), r


@pytest.mark.parametrize(
    "text", ["ml.min-1.kg-1", "ml.min(-1).kg(-1)", "ML.MIN-1.KG-1", "ml.kg-1.min-1"]
)
def test_period_after_an_exponent_is_a_product(text: str) -> None:
    # "min-1.kg" was read as min minus 1.0 times kg (a DimensionalityError)
    r = parse_unit(text)
    assert (r.unit, r.kind) == ("L/h/kg", "clearance_per_weight"), r
    assert r.factor == pytest.approx(0.06)


def test_decimal_scale_factor_keeps_its_period() -> None:
    assert parse_unit("ml/min/1.73.m2").unit == parse_unit("ml/min/1.73 m2").unit
    assert clean_unit_text("l/1.73·m2") == "l/(1.73*m**2)"


def test_dictionary_terms_misreadings_are_gone(dictionaries_dir: Path) -> None:
    terms = json.loads((dictionaries_dir / "terms.json").read_text(encoding="utf-8"))["UNITS"]
    for text in ("u/kg", "degree c", "degrees c"):
        assert text in terms
        r = parse_unit(text)
        assert r.unit is None and r.error is not None, r
    assert parse_unit("ml.min-1.kg-1").unit == "L/h/kg"


@pytest.mark.parametrize(
    "text", ["ng/ml", "μg·h/ml", "mL/min", "nM", "μM", "mM/l", "MBq", "IU/L", "%", "h", "1/h"]
)
def test_fold_case_keeps_conventional_spellings(text: str) -> None:
    assert fold_case(text) == unicodedata.normalize("NFKC", text)


@pytest.mark.parametrize("text", [t for t, _, _ in CASE_CASES] + [t for t, *_ in MEGA_CASES])
def test_fold_case_is_idempotent(text: str) -> None:
    assert fold_case(fold_case(text)) == fold_case(text)


def test_case_rule_changes_no_dictionary_spelling(
    dictionaries_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every spelling of the frequency list reads exactly as it did without the case rule
    rows = _bench_module().read_freqs(dictionaries_dir / "unit_mention_freqs.csv")
    with_rule = {s: parse_unit.__wrapped__(s) for s, _ in rows}
    monkeypatch.setattr(units, "fold_case", lambda text: text)
    assert {s: parse_unit.__wrapped__(s) for s, _ in rows} == with_rule


def test_all_caps_dictionary_spellings_read_as_written(dictionaries_dir: Path) -> None:
    # the upper-cased form of every spelling that normalises gives the same unit and factor
    rows = _bench_module().read_freqs(dictionaries_dir / "unit_mention_freqs.csv")
    covered = [s for s, _ in rows if parse_unit(s).ok]
    assert len(covered) >= 200
    for s in covered:
        low, up = parse_unit(s), parse_unit(s.upper())
        assert up.ok and up.unit == low.unit, (s, up)
        assert up.factor == pytest.approx(low.factor, rel=1e-9), s


def test_factor_agrees_with_plain_pint() -> None:
    ureg = pint.UnitRegistry()
    for text, pint_text in [("ng·h/mL", "ng*h/mL"), ("mL/min/kg", "mL/min/kg"), ("d-1", "1/d")]:
        r = parse_unit(text)
        assert r.factor == pytest.approx(ureg.Quantity(1, pint_text).to(r.unit).magnitude)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_canonical_units_parse_and_are_fixed_points(kind: str) -> None:
    canonical = KINDS[kind].canonical
    ureg = get_registry()
    assert ureg.parse_expression(canonical) is not None
    r = parse_unit(canonical)
    assert r.ok and r.unit == display_unit(canonical) and r.factor == pytest.approx(1.0)
    assert parse_unit(r.unit).unit == r.unit  # the unit as stored reads back as itself
    assert r.kind == kind
    assert r.dimensionality == str(ureg.parse_expression(canonical).dimensionality)


def test_molar_is_never_converted_to_mass() -> None:
    molar, mass = parse_unit("µmol/L"), parse_unit("mg/L")
    assert molar.kind == "concentration_molar" and mass.kind == "concentration_mass"
    assert molar.dimensionality != mass.dimensionality


def test_bsa_normalised_clearance_is_not_a_velocity() -> None:
    assert parse_unit("mL/min/1.73 m2").kind == "clearance_per_bsa"
    assert parse_unit("cm/s").kind == "permeability"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("12", "no unit symbol"),
        ("foo", "unknown unit"),
        ("mmHg", "no PK quantity kind"),
        ("x" * 500, "longer than"),
        ("10**999*mg", "exponent"),
        ("h**9999", "exponent"),
    ],
)
def test_bad_units_report_an_error(text: str, fragment: str) -> None:
    r = parse_unit(text)
    assert r.unit is None and r.factor is None
    assert r.error is not None and fragment in r.error


def test_clean_unit_text_rewrites_notation() -> None:
    assert clean_unit_text("l·h(-1)·70·kg(-1)") == "l*h**-1*(70*kg)**-1"
    assert clean_unit_text("ml/min/1.73 m²") == "ml/min/(1.73*m**2)"


@pytest.mark.parametrize("text", ["l^9^9^9", "h(9)(9)(9)", "kg^(9^9)", "m^999"])
def test_parse_unit_refuses_huge_exponents(text: str) -> None:
    # Pint would compute 9**387420489 for "l^9^9^9" and hang (found by the fuzz test below)
    r = parse_unit.__wrapped__(text)
    assert r.unit is None and r.error in ("chained exponents", "exponent too large")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_parse_unit_never_raises(text: str) -> None:
    r = parse_unit(text)
    assert (r.error is None) == (r.unit is not None)
    if r.factor is not None:
        assert math.isfinite(r.factor) and r.factor != 0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("mgLlhkµμnu/·.*()-−^0123456789 ²⁻¹%M")), max_size=25))
def test_parse_unit_never_raises_on_unit_like_text(text: str) -> None:
    r = parse_unit(text)
    assert (r.error is None) == (r.unit is not None)


def _bench_module():  # type: ignore[no-untyped-def]
    path = ROOT / "bench" / "unit_coverage.py"
    spec = importlib.util.spec_from_file_location("unit_coverage", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["unit_coverage"] = mod  # dataclasses need the module registered
    spec.loader.exec_module(mod)
    return mod


def test_frequency_weighted_coverage(dictionaries_dir: Path) -> None:
    bench = _bench_module()
    rows = bench.read_freqs(dictionaries_dir / "unit_mention_freqs.csv")
    cov = bench.coverage(rows)
    print(f"\nunit coverage {cov.covered}/{cov.total} = {cov.share:.2%}")
    assert cov.total == sum(f for _, f in rows) > 0
    assert cov.share >= 0.99, cov.uncovered[:10]


def test_bench_script_prints_coverage(
    dictionaries_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _bench_module()
    assert bench.main([str(dictionaries_dir / "unit_mention_freqs.csv"), "--show", "3"]) == 0
    out = capsys.readouterr().out
    assert "frequency-weighted coverage" in out and "uncovered" in out


def test_bench_script_missing_file(tmp_path: Path) -> None:
    assert _bench_module().main([str(tmp_path / "nope.csv")]) == 2


runner = CliRunner()


def test_cli_units_json() -> None:
    res = runner.invoke(app, ["units", "--json", "ng·h/mL", "µM", "bogus"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [set(d) for d in data] == [{"input", "unit", "factor", "error"}] * 3
    assert data[0]["unit"] == "mg*h/L" and data[0]["factor"] == pytest.approx(1e-3)
    assert data[1]["unit"] == "umol/L" and data[1]["error"] is None
    assert data[2]["unit"] is None and "bogus" in data[2]["error"]


def test_cli_units_upper_case() -> None:
    res = runner.invoke(app, ["units", "--json", "NG/ML", "UG/ML", "ML/MIN", "Mg/L"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [d["unit"] for d in data] == ["mg/L", "mg/L", "L/h", "mg/L"]
    assert [d["factor"] for d in data] == pytest.approx([1e-3, 1.0, 0.06, 1.0])


def test_cli_units_table() -> None:
    res = runner.invoke(app, ["units", "l·h-1", "mg/l·min"])
    assert res.exit_code == 0, res.output
    assert "L/h" in res.stdout and "mg*h/L" in res.stdout


def test_cli_units_help_and_missing_argument() -> None:
    res = runner.invoke(app, ["units", "--help"])
    assert res.exit_code == 0 and "canonical unit" in res.stdout
    assert runner.invoke(app, ["units"]).exit_code == 2


def test_unreadable_units_say_why_in_words() -> None:
    # the reason shown to the user is not a Python exception class name
    assert parse_unit("mg/0L").error == "unknown unit: division by zero"
    assert parse_unit("mg//L").error == "unknown unit: units that cannot be combined"
    assert parse_unit("mg**").error == "unknown unit: not a unit expression"
