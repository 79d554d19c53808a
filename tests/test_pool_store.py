"""`pkharvest pool --db`: pooling the values of a real DuckDB store written through Store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.pool import StudyRow, pool
from pkharvest.pool.stored import read_store_rows
from pkharvest.records import (
    AbstractSection,
    Article,
    ArticleResult,
    ArticleTable,
    Measurement,
    ScoredSentence,
    Sentence,
)
from pkharvest.store import Store

runner = CliRunner()

# (pmid, source, statistic, value, deviation_type, deviation, n, flags, population, drug)
VALUES = [
    ("101", "abstract", "mean", 25.0, "SD", 6.0, None, [], "healthy", "midazolam"),
    ("101", "table", "mean", 25.0, "SD", 6.0, 12, [], "healthy", "midazolam"),  # same value
    ("102", "table", "geometric_mean", 30.0, "CV", 35.0, 20, [], "patients", "midazolam"),
    ("103", "abstract", "mean", 20.0, "SE", 1.5, 15, [], "healthy", "midazolam"),
    ("104", "table", "mean", 200.0, "SD", 20.0, 10, ["implausible_value"], "healthy",
     "midazolam"),
    ("105", "table", "median", 22.0, "IQR", None, 18, [], "patients", "midazolam"),
    ("106", "table", "mean", 26.0, "SD", 5.0, 14, [], "patients", "midazolam"),
    ("107", "table", "mean", 3.0, "SD", 1.0, 10, [], "healthy", "caffeine"),
]


def _result(pmid: str, rows: list[tuple]) -> ArticleResult:
    text = "Midazolam clearance was 25 L/h."
    article = Article(pmid, f"Study {pmid}", (AbstractSection(text),))
    sentences, measurements = [], []
    for i, (_, source, stat, value, dtype, dev, n, flags, pop, drug) in enumerate(rows):
        common = dict(
            parameter="CL", unit="L/h", value=value, value_canonical=value,
            unit_text="L/h", statistic=stat, deviation_type=dtype, deviation=dev,
            deviation_canonical=dev, n=n, flags=list(flags), population=pop, drug=drug,
            species="human", route="oral", source=source, value_text=str(value),
        )
        if source == "table":
            measurements.append(Measurement(pmid, None, "CL (L/h)", None, None, table_id="T1",
                                            table_label="Table 1", row=i, col=1, **common))
        else:
            sentences.append(ScoredSentence(Sentence(pmid, 0, text, 0, len(text)), 0.9, True))
            ps = text.index("clearance")
            vs = text.index("25")
            measurements.append(Measurement(pmid, 0, "clearance", ps, ps + 9, value_start=vs,
                                            value_end=vs + 2, **common))
    tables = (ArticleTable(pmid, "T1", "Table 1", "PK", "pk", 1, (("CL",), ("1",))),)
    return ArticleResult(article=article, sentences=sentences, measurements=measurements,
                         tables=tables)


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "pk.duckdb"
    by_pmid: dict[str, list[tuple]] = {}
    for v in VALUES:
        by_pmid.setdefault(v[0], []).append(v)
    with Store(path) as store:
        store.write_batch([_result(p, rows) for p, rows in by_pmid.items()], None, "test-model")
    return path


def _expected(values: list[tuple]) -> list[StudyRow]:
    return [
        StudyRow(study=f"PMID {p}", statistic=s, estimate=v,
                 deviation_type={"SD": "sd", "SE": "se", "CV": "cv", "IQR": "iqr"}[d],
                 deviation=dev, n=n, unit="L/h")
        for p, _src, s, v, d, dev, n, *_ in values
    ]


def test_store_rows_count_duplicates_once_and_leave_flagged_out(db: Path) -> None:
    rows, key = read_store_rows(db, "Midazolam", "clearance")
    assert key == "CL"
    assert [r.study for r in rows] == ["PMID 101", "PMID 102", "PMID 103", "PMID 105",
                                       "PMID 106"]
    assert rows[0].n == 12  # the table's copy, which has n
    flagged, _ = read_store_rows(db, "midazolam", "CL", include_flagged=True)
    assert "PMID 104" in [r.study for r in flagged]


def test_cli_db_matches_pooling_the_same_values(db: Path) -> None:
    res = runner.invoke(app, ["pool", "--db", str(db), "--drug", "midazolam", "--parameter",
                              "CL", "--format", "json", "--method", "DL"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    kept = [VALUES[i] for i in (1, 2, 3, 5, 6)]
    (expected,) = pool(_expected(kept), "DL")
    assert out["k"] == expected.k == 4
    for field in ("estimate", "ci_low", "ci_high", "tau2", "i2", "q", "pi_low", "pi_high"):
        assert out[field] == pytest.approx(getattr(expected, field), rel=1e-12), field
    reasons = {s["study"]: s["reason"] for s in out["studies"]}
    assert reasons["PMID 105"] == "no dispersion: iqr without low and high"


def test_cli_db_by_population_and_plot(db: Path, tmp_path: Path) -> None:
    png = tmp_path / "forest.png"
    res = runner.invoke(app, ["pool", "--db", str(db), "--drug", "midazolam", "--parameter",
                              "clearance", "--by", "population", "--format", "json",
                              "--plot", str(png)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [(o["subgroup"], o["k"]) for o in out] == [("healthy", 2), ("patients", 2)]
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--drug", "aspirin", "--parameter", "CL"], "--drug: no values of drug 'aspirin'"),
        (["--drug", "midazolam", "--parameter", "Cmax"],
         "--parameter: no Cmax values of midazolam"),
        (["--drug", "midazolam", "--parameter", "qwertyuiop"], "--parameter: unknown parameter"),
        # the same resolution as export and query: the nearest keys, never a silent guess
        (["--drug", "midazolam", "--parameter", "clearence"],
         "--parameter: unknown parameter 'clearence'; nearest keys: CL"),
        (["--drug", "midazolam"], "--parameter: required with --db"),
        (["--drug", "midazolam", "--parameter", "CL", "--by", "group"], "--by: with --db"),
    ],
)
def test_cli_db_errors_are_one_line(db: Path, args: list[str], message: str) -> None:
    res = runner.invoke(app, ["pool", "--db", str(db), *args])
    assert res.exit_code == 2, res.output
    err = res.stderr.strip()
    assert message in err and "\n" not in err, err
