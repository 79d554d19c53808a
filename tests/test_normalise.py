"""normalise(measurement): parameter, canonical unit and values, flags; never raises."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkharvest.normalise import normalise, parse_unit
from pkharvest.records import Measurement


def meas(  # type: ignore[no-untyped-def]
    parameter_text: str, unit_text: str | None, value: float | None = 1.0, **kw
) -> Measurement:
    return Measurement(
        pmid="1", sentence_index=0, parameter_text=parameter_text, parameter_start=0,
        parameter_end=len(parameter_text), unit_text=unit_text, value=value, **kw,
    )  # fmt: skip


def test_clearance_in_ml_per_min() -> None:
    out = normalise(meas("total body clearance", "mL/min", 100.0))
    assert out.parameter == "CL"
    assert out.unit == "L/h"
    assert out.value_canonical == pytest.approx(6.0)
    assert out.flags == []


def test_all_caps_units_are_milli_not_mega() -> None:
    out = normalise(meas("Cmax", "NG/ML", 250.0))
    assert out.unit == "mg/L" and out.value_canonical == pytest.approx(0.25)
    out = normalise(meas("CL", "ML/MIN", 100.0))
    assert out.unit == "L/h" and out.value_canonical == pytest.approx(6.0)
    out = normalise(meas("Cmax", "Mg/L", 2.0))
    assert out.unit == "mg/L" and out.value_canonical == pytest.approx(2.0)


def test_mega_volume_is_flagged_not_stored() -> None:
    out = normalise(meas("V", "megaliter", 3.0))
    assert out.flags == ["unparsable_unit:megaliter"]
    assert out.value_canonical is None and out.unit is None


def test_activity_units_are_stored_as_iu() -> None:
    # Pint's U is the enzyme unit: "U/mL" was stored as 60,000 µmol/L/h per U/mL
    out = normalise(meas("Cmax", "U/mL", 0.5))
    assert out.unit == "IU/L" and out.value_canonical == pytest.approx(500.0)
    assert out.flags == []
    out = normalise(meas("Cmax", "mu/l", 40.0))
    assert out.unit == "IU/L" and out.value_canonical == pytest.approx(0.04)


@pytest.mark.parametrize(
    ("parameter", "unit"),
    [("ke", "MBq"), ("injected activity", "MBq"), ("dose", "u/kg"), ("dose", "U/kg"),
     ("permeability", "degree c"), ("temperature", "°C")],
)  # fmt: skip
def test_misread_units_are_flagged_not_stored(parameter: str, unit: str) -> None:
    out = normalise(meas(parameter, unit, 3.0))
    assert f"unparsable_unit:{unit}" in out.flags
    assert out.unit is None and out.value_canonical is None


def test_range_is_converted() -> None:
    out = normalise(meas("Cmax", "ng/mL", None, value_low=120.0, value_high=480.0))
    assert out.parameter == "Cmax" and out.unit == "mg/L"
    assert out.value_canonical is None
    assert out.value_low_canonical == pytest.approx(0.12)
    assert out.value_high_canonical == pytest.approx(0.48)


def test_percent_becomes_fraction() -> None:
    out = normalise(meas("bioavailability", "%", 85.0))
    assert out.parameter == "F" and out.unit == "dimensionless"
    assert out.value_canonical == pytest.approx(0.85)


def test_unitless_fraction_is_kept_as_is() -> None:
    out = normalise(meas("fu", None, 0.12))
    assert out.unit == "dimensionless" and out.value_canonical == pytest.approx(0.12)
    assert "no_unit" not in out.flags


def test_no_unit_is_flagged() -> None:
    out = normalise(meas("half-life", None, 3.0))
    assert out.parameter == "t1/2"
    assert out.flags == ["no_unit"]
    assert out.value_canonical is None and out.unit is None


def test_unknown_parameter_still_normalises_the_unit() -> None:
    out = normalise(meas("IC50", "nM", 8.7))
    assert out.parameter is None
    assert out.flags == ["unknown_parameter:IC50"]
    assert out.unit == "umol/L" and out.value_canonical == pytest.approx(0.0087)


def test_unparsable_unit_is_flagged() -> None:
    out = normalise(meas("CL", "furlongs per fortnight-ish", 2.0))
    assert out.parameter == "CL"
    assert out.flags and out.flags[0].startswith("unparsable_unit:")
    assert out.unit is None and out.value_canonical is None


def test_dimension_mismatch_is_flagged() -> None:
    out = normalise(meas("clearance", "h", 2.0))
    assert out.flags == ["unit_dimension_mismatch:CL:time"]
    assert out.unit is None and out.value_canonical is None
    assert out.parameter == "CL"


def test_covariate_is_flagged_but_normalised() -> None:
    out = normalise(meas("creatinine clearance", "mL/min", 60.0))
    assert out.parameter == "CLcr" and "covariate:CLcr" in out.flags
    assert out.value_canonical == pytest.approx(3.6)


def test_input_is_not_modified_and_flags_are_not_duplicated() -> None:
    raw = meas("t1/2", None, 3.0, flags=["from_linker"])
    once = normalise(raw)
    twice = normalise(once)
    assert raw.flags == ["from_linker"] and raw.parameter is None
    assert once.flags == ["from_linker", "no_unit"]
    assert twice.flags == once.flags
    assert dataclasses.asdict(twice) == dataclasses.asdict(once)


def test_molar_and_mass_are_not_mixed() -> None:
    molar = normalise(meas("Cmax", "µM", 2.0))
    assert molar.unit == "umol/L" and molar.value_canonical == pytest.approx(2.0)


def test_factor_matches_parse_unit() -> None:
    out = normalise(meas("AUC0-∞", "ng·h·mL−1", 250.0))
    assert out.value_canonical == pytest.approx(250.0 * parse_unit("ng·h·mL−1").factor)  # type: ignore[operator]


floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=300, deadline=None)
@given(
    parameter_text=st.text(max_size=40),
    unit_text=st.one_of(st.none(), st.text(max_size=40)),
    value=floats,
    low=floats,
    high=floats,
)
def test_normalise_never_raises(
    parameter_text: str, unit_text: str | None, value: float | None,
    low: float | None, high: float | None,
) -> None:  # fmt: skip
    m = meas(parameter_text, unit_text, value, value_low=low, value_high=high)
    out = normalise(m)
    assert isinstance(out, Measurement)
    assert out.pmid == "1" and out.parameter_text == parameter_text
    assert all(isinstance(f, str) for f in out.flags)
    assert len(out.flags) == len(set(out.flags))
    for v in (out.value_canonical, out.value_low_canonical, out.value_high_canonical):
        assert v is None or math.isfinite(v)
    if out.value_canonical is not None:
        assert out.unit is not None


@pytest.mark.parametrize(("parameter", "unit"), [
    ("clearance", "mL/min"), ("volume of distribution", "L"), ("half-life", "h"),
    ("AUC", "mg·h/L"), ("Cmax", "ng/mL"),
])
def test_negative_value_of_a_parameter_that_cannot_be_negative_is_flagged(
    parameter: str, unit: str
) -> None:
    out = normalise(meas(parameter, unit, -2.0))
    assert out.value == -2.0 and out.value_canonical is not None and out.value_canonical < 0
    assert any(f.startswith("negative_value:") for f in out.flags)
    assert not any(f.startswith("negative_value:") for f in normalise(meas(parameter, unit,
                                                                         2.0)).flags)


def test_per_bsa_clearance_in_the_family_of_clearance() -> None:
    out = normalise(meas("CL", "mL/min/1.73 m2", 100.0))
    assert out.unit == "L/h/1.73 m²" and out.value_canonical == pytest.approx(6.0)
    assert parse_unit(out.unit).factor == pytest.approx(1.0)


def test_deviation_in_the_unit_of_the_canonical_value() -> None:
    from pkharvest.normalise import canonical_deviation

    m = meas("CL", "ml/h/kg", 2194.0, deviation=61.0, deviation_type="SD")
    factor = parse_unit("ml/h/kg").factor
    assert canonical_deviation(m, factor) == pytest.approx(0.061)
    cv = meas("CL", "ml/h/kg", 2194.0, deviation=25.0, deviation_type="CV")
    assert canonical_deviation(cv, factor) == 25.0  # a CV stays a percentage
    assert canonical_deviation(meas("CL", "L/h", 1.0), 1.0) is None


# -- deviation_canonical: filled by normalise for every measurement with a deviation ----------


def test_normalise_fills_the_deviation_in_the_canonical_unit() -> None:
    out = normalise(meas("CL", "ml/h/kg", 2194.0, deviation=61.0, deviation_text="61",
                         deviation_type="SD"))
    assert out.value_canonical == pytest.approx(2.194)
    assert out.deviation_canonical == pytest.approx(0.061)
    assert out.deviation_type == "SD"
    plus_minus = normalise(meas("t1/2", "min", 90.0, deviation=30.0, deviation_type="±"))
    assert (plus_minus.deviation_canonical, plus_minus.deviation_type) == (pytest.approx(0.5), "±")


@pytest.mark.parametrize("dtype", [None, "±", "SD", "CV"])
def test_a_percent_deviation_stays_a_percentage_and_is_typed_cv(dtype: str | None) -> None:
    out = normalise(meas("CL", "mL/min", 100.0, deviation=25.0, deviation_text="25%",
                         deviation_type=dtype))
    assert out.value_canonical == pytest.approx(6.0)
    assert out.deviation_canonical == 25.0 and out.deviation_type == "CV"


def test_percent_deviations_that_no_unit_states() -> None:
    # a relative standard error in percent is neither in L/h nor a CV
    rse = normalise(meas("CL", "L/h", 5.0, deviation=12.0, deviation_text="12%",
                         deviation_type="SE"))
    assert rse.deviation_canonical is None and rse.deviation_type == "SE"
    # a percentage value with a percentage deviation: both scaled to the fraction
    frac = normalise(meas("F", "%", 80.0, deviation=10.0, deviation_text="10%",
                          deviation_type="SD"))
    assert frac.value_canonical == pytest.approx(0.8)
    assert (frac.deviation_canonical, frac.deviation_type) == (pytest.approx(0.1), "SD")
    unitless = normalise(meas("F", None, 0.85, deviation=0.05, deviation_type="SD"))
    assert unitless.deviation_canonical == pytest.approx(0.05)


def test_no_deviation_canonical_without_a_canonical_value() -> None:
    mismatch = normalise(meas("CL", "mg", 5.0, deviation=1.0, deviation_type="SD"))
    assert mismatch.value_canonical is None and mismatch.deviation_canonical is None
    stale = meas("CL", "furlongs", 5.0, deviation=1.0, deviation_canonical=9.0)
    assert normalise(stale).deviation_canonical is None
    assert normalise(meas("CL", "L/h", 5.0)).deviation_canonical is None
