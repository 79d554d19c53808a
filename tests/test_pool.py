"""Pooling: the log-scale transforms, exclusions, units, CSV errors and `pkharvest pool`
through Typer's CliRunner. The numbers themselves are checked against R metafor in
test_pool_reference.py."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.pool import PoolError, StudyRow, log_effect, pool, random_effects
from pkharvest.pool.studies import COLUMNS, read_studies_csv

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "pool"
HEADER = ",".join(COLUMNS)


def _csv(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    path = tmp_path / "studies.csv"
    path.write_text("\n".join((header, *lines)) + "\n", encoding="utf-8")
    return path


def row(**kw: object) -> StudyRow:
    base: dict = {"study": "s", "statistic": "mean", "estimate": 5.0, "deviation_type": "sd",
                  "deviation": 1.5, "n": 10, "unit": "L/h"}
    base.update(kw)
    return StudyRow(**base)


# ------------------------------------------------------------------------- transforms


def test_se_and_ci95_of_the_mean_give_the_sd_they_come_from() -> None:
    sd, n, m = 1.5, 16, 5.0
    se = sd / math.sqrt(n)
    by_sd = log_effect(row(deviation=sd, n=n))
    by_se = log_effect(row(deviation_type="se", deviation=se, n=n))
    z = 1.959963984540054
    by_ci = log_effect(row(deviation_type="ci95", deviation=None, low=m - z * se,
                           high=m + z * se, n=n))
    by_cv = log_effect(row(deviation_type="cv", deviation=100 * sd / m, n=n))
    for e in (by_se, by_ci, by_cv):
        assert e.y == pytest.approx(by_sd.y, rel=1e-12)
        assert e.v == pytest.approx(by_sd.v, rel=1e-12)
    # log-normal moments: exp(y + σ²/2) is the arithmetic mean again
    sigma2 = by_sd.v * n
    assert math.exp(by_sd.y + sigma2 / 2) == pytest.approx(m)


def test_median_iqr_uses_wan_on_the_log_scale() -> None:
    e = log_effect(row(statistic="median", estimate=4.0, deviation_type="iqr", deviation=None,
                       low=3.0, high=6.0, n=10_000))
    assert e.y == pytest.approx(math.log(4.0))
    # for large n the IQR of a normal tends to 2 × 0.6745 σ
    sigma = math.sqrt(e.v * 10_000)
    assert sigma == pytest.approx((math.log(6) - math.log(3)) / (2 * 0.67449), rel=1e-3)
    wide = log_effect(row(statistic="median", estimate=4.0, deviation_type="range",
                          deviation=None, low=3.0, high=6.0, n=10_000))
    assert wide.v < e.v  # the same spread as a range means a smaller σ


def test_units_convert_before_the_transform() -> None:
    in_l_h = log_effect(row(estimate=6.0, deviation=1.2, unit="L/h"))
    in_ml_min = log_effect(row(estimate=100.0, deviation=20.0, unit="mL/min"))
    assert in_l_h.unit == in_ml_min.unit == "L/h"
    assert in_ml_min.y == pytest.approx(in_l_h.y)
    assert in_ml_min.v == pytest.approx(in_l_h.v)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"n": None}, "no n"),
        ({"deviation_type": None, "deviation": None}, "no dispersion"),
        ({"deviation": None}, "no dispersion: sd without a value"),
        ({"estimate": -1.0}, "estimate not positive"),
        ({"deviation": 0.0}, "sd not positive"),
        ({"statistic": "geometric_mean"}, "geometric_mean needs cv or ci95, not sd"),
        ({"statistic": "median"}, "median needs iqr or range, not sd"),
        ({"statistic": None}, "no statistic"),
        ({"unit": None}, "no unit"),
        ({"statistic": "median", "deviation_type": "range", "low": 3.0, "high": 8.0, "n": 1},
         "median with range needs n of at least 2"),
        ({"statistic": "median", "deviation_type": "iqr", "low": 6.0, "high": 8.0},
         "median outside its iqr"),
        ({"deviation_type": "ci95", "low": 6.0, "high": 4.0},
         "ci95 high bound not above the low bound"),
    ],
)
def test_rows_that_cannot_be_pooled_are_excluded_with_the_reason(changes: dict,
                                                                  reason: str) -> None:
    e = log_effect(row(**changes))
    assert not e.included
    assert e.reason == reason
    assert e.y is None and e.v is None


# ------------------------------------------------------------------------- pooling


def test_homogeneous_studies_give_tau2_zero_and_the_fixed_effect_mean() -> None:
    y, v = [1.0, 1.01, 0.99, 1.0], [0.01, 0.02, 0.015, 0.01]
    for method in ("REML", "DL", "PM"):
        fit = random_effects(y, v, method)
        assert fit.tau2 == 0.0 and fit.i2 == 0.0
        w = [1 / x for x in v]
        assert fit.mu == pytest.approx(sum(a * b for a, b in zip(w, y, strict=True)) / sum(w))
        assert (fit.pi_low, fit.pi_high) == pytest.approx((fit.ci_low, fit.ci_high))
        assert sum(fit.weights) == pytest.approx(100.0)


def test_heterogeneity_widens_the_prediction_interval() -> None:
    fit = random_effects([0.5, 1.5, 1.0, 2.0, 0.2], [0.01] * 5, "REML")
    assert fit.tau2 > 0.1
    assert fit.pi_high - fit.pi_low > fit.ci_high - fit.ci_low
    assert fit.i2 > 90


def test_mixed_kinds_are_refused_and_pooled_apart_by_unit() -> None:
    rows = read_studies_csv(DATA / "mixed_kinds.csv")
    with pytest.raises(PoolError, match=r"different kinds.*L/h .*L/h/kg.*--by unit"):
        pool(rows)
    results = pool(rows, by="unit")
    assert [(r.subgroup, r.k) for r in results] == [("L/h", 1), ("L/h/kg", 1)]


def test_all_excluded_gives_k_zero_without_numbers() -> None:
    (r,) = pool([row(n=None), row(deviation_type=None)])
    assert r.k == 0 and r.estimate is None and r.tau2 is None
    assert [s.reason for s in r.studies] == ["no n", "no dispersion"]


# ------------------------------------------------------------------------- CSV reading


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("A,g,mean,abc,sd,1,,,10,L/h", "studies.csv:2: column estimate: not a number: 'abc'"),
        ("A,g,average,5,sd,1,,,10,L/h", "studies.csv:2: column statistic: 'average' is not one"),
        ("A,g,mean,5,stdev,1,,,10,L/h", "studies.csv:2: column deviation_type: 'stdev'"),
        ("A,g,mean,5,sd,1,,,10.5,L/h", "studies.csv:2: column n: not a whole number: '10.5'"),
        ("A,g,mean,5,sd,1,,,0,L/h", "studies.csv:2: column n: must be at least 1"),
        ("A,g,mean,5,sd,1,,,10,furlongs", "studies.csv:2: column unit: 'furlongs'"),
        ("A,g,mean,5,sd,1,,,10", "studies.csv:2: 9 fields, expected 10"),
        (",g,mean,5,sd,1,,,10,L/h", "studies.csv:2: column study: empty"),
    ],
)
def test_malformed_lines_name_file_line_and_column(tmp_path: Path, line: str,
                                                   message: str) -> None:
    path = _csv(tmp_path, "B,g,mean,5,sd,1,,,10,L/h", line.replace("A", "A"))
    message = message.replace(":2:", ":3:")
    with pytest.raises(PoolError) as info:
        read_studies_csv(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_header_names_what_is_missing(tmp_path: Path) -> None:
    path = _csv(tmp_path, "A,g,mean,5,sd,1,,,10", header=HEADER.replace(",unit", ""))
    with pytest.raises(PoolError, match=r"studies.csv:1: header: missing unit"):
        read_studies_csv(path)


# ------------------------------------------------------------------------- CLI


def test_cli_json_shape_and_numbers() -> None:
    res = runner.invoke(app, ["pool", "--input", str(DATA / "all_types.csv"), "--format",
                              "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert list(out) == ["method", "k", "unit", "estimate", "ci_low", "ci_high", "tau2", "i2",
                         "q", "q_p", "pi_low", "pi_high", "studies"]
    assert out["method"] == "REML" and out["k"] == 8 and out["unit"] == "L/h"
    assert out["ci_low"] < out["estimate"] < out["ci_high"]
    assert out["pi_low"] < out["ci_low"]
    assert set(out["studies"][0]) == {"study", "group", "y", "v", "weight", "included",
                                      "reason"}
    assert sum(s["weight"] for s in out["studies"]) == pytest.approx(100)


def test_cli_by_group_lists_subgroups_and_methods_differ() -> None:
    outs = {}
    for method in ("REML", "dl", "PM"):
        res = runner.invoke(app, ["pool", "--input", str(DATA / "all_types.csv"), "--by",
                                  "group", "--method", method, "--format", "json"])
        assert res.exit_code == 0, res.output
        outs[method.upper()] = json.loads(res.stdout)
    assert [o["subgroup"] for o in outs["REML"]] == ["healthy", "patients"]
    assert all(o["method"] == "DL" for o in outs["DL"])
    assert outs["DL"][1]["tau2"] != outs["REML"][1]["tau2"]


def test_cli_csv_and_table(tmp_path: Path) -> None:
    res = runner.invoke(app, ["pool", "--input", str(DATA / "units_exclusions.csv"), "--by",
                              "unit", "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["subgroup"], r["k"]) for r in rows] == [("L/h", "4"), ("L/h/kg", "1")]
    res = runner.invoke(app, ["pool", "--input", str(DATA / "units_exclusions.csv"), "--by",
                              "unit"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "no n" in res.stdout and "median with range needs n of at least 2" in res.stdout
    assert "k = 4" in res.stdout


def test_cli_forest_plot_is_a_png(tmp_path: Path) -> None:
    out = tmp_path / "forest.png"
    res = runner.invoke(app, ["pool", "--input", str(DATA / "all_types.csv"), "--by", "group",
                              "--plot", str(out), "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", str(DATA / "mixed_kinds.csv")], "different kinds"),
        (["--input", str(DATA / "all_types.csv"), "--method", "ML"], "--method: unknown method"),
        (["--input", str(DATA / "all_types.csv"), "--format", "xml"], "--format: unknown"),
        (["--input", str(DATA / "all_types.csv"), "--by", "species"], "--by: with --input"),
        (["--input", str(DATA / "all_types.csv"), "--drug", "x"], "--drug: only with --db"),
        (["--input", "/no/such.csv"], "--input: /no/such.csv: no such file"),
        ([], "give either --input"),
    ],
)
def test_cli_errors_are_one_line(args: list[str], message: str) -> None:
    res = runner.invoke(app, ["pool", *args])
    assert res.exit_code != 0
    err = res.stderr.strip()
    assert message in err and "\n" not in err, err


def test_cli_malformed_csv_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, "A,g,mean,5,sd,1,,,10,L/h", "B,g,mean,5,sd,x,,,10,L/h")
    res = runner.invoke(app, ["pool", "--input", str(path)])
    assert res.exit_code == 1
    assert res.stderr.strip() == (f"Error: {path}:3: column deviation: not a number: 'x'")


def test_cli_help() -> None:
    res = runner.invoke(app, ["pool", "--help"])
    assert res.exit_code == 0
    assert "random-effects" in res.stdout and "--method" in res.stdout


def test_forest_plot_of_a_large_pool_draws_the_heaviest_studies(tmp_path: Path) -> None:
    from pkharvest.pool.plot import MAX_STUDIES, _drawn, forest_plot

    rows = [row(study=f"s{i}", estimate=4.0 + i % 7, n=5 + i) for i in range(150)]
    (result,) = pool(rows)
    drawn = _drawn(result)
    assert len(drawn) == MAX_STUDIES
    lightest_drawn = min(s.weight for s in drawn)
    assert all(s.weight <= lightest_drawn for s in result.studies if s not in drawn)
    forest_plot([result], tmp_path / "big.png")
    assert (tmp_path / "big.png").stat().st_size > 10_000
