"""CliRunner tests of `pkharvest experiment run|report` (no training: the runs are stored)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import fill_study, make_record
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.experiment.grid import build_grid
from pkharvest.experiment.runner import file_sha256, train_options
from pkharvest.experiment.runstore import RunStore

runner = CliRunner()
GRID_ARGS = ["--views", "pk", "--fractions", "0.5", "--weightings", "none,fixed", "--seeds", "2"]


@pytest.fixture()
def stored(tmp_path: Path, corpus_path: Path) -> Path:
    """An experiment folder whose grid (GRID_ARGS, --epochs 1) is already fully stored."""
    store = RunStore(tmp_path)
    store.check_settings({
        "corpus_sha256": file_sha256(corpus_path),
        "split": [0.7, 0.15, 0.15],
        "similarity_batches": 8,
        "train": train_options({"epochs": 1}),
    })  # fmt: skip
    for spec in build_grid(["pk"], [0.5], ["none", "fixed"], [0, 1]):
        store.add(make_record(spec, 0.5))
    return tmp_path


def test_help_texts() -> None:
    for args in (["experiment", "--help"], ["experiment", "run", "--help"],
                 ["experiment", "report", "--help"]):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    assert "--fractions" in runner.invoke(app, ["experiment", "run", "--help"]).output


def test_run_resumes_and_skips_stored_runs(stored: Path, corpus_path: Path) -> None:
    args = ["experiment", "run", "--out", str(stored), "--corpus", str(corpus_path), *GRID_ARGS,
            "--epochs", "1"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "4 already stored" in result.output and "0 trained now" in result.output
    assert len(RunStore(stored).runs()) == 4


def test_run_refuses_other_settings_in_the_same_folder(stored: Path, corpus_path: Path) -> None:
    args = ["experiment", "run", "--out", str(stored), "--corpus", str(corpus_path), *GRID_ARGS,
            "--epochs", "2"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "--out:" in result.output and "'epochs': 1" in result.output
    assert "Traceback" not in result.output


def test_run_refuses_a_training_subset_that_changed(stored: Path, corpus_path: Path) -> None:
    # the stored runs carry constructed hashes: a new configuration of the same seed and
    # fraction gets the real subset, which differs, and is refused before any training
    args = ["experiment", "run", "--out", str(stored), "--corpus", str(corpus_path),
            "--views", "pk", "--fractions", "0.5", "--weightings", "hybrid", "--seeds", "1",
            "--epochs", "1"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "training subset differs" in result.output
    assert len(RunStore(stored).runs()) == 4


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--fractions", "0.5,2"], "--fractions"),
        (["--weightings", "equal"], "--weightings"),
        (["--set", "nonsense=1"], "--set"),
        (["--set", "seed=3"], "--set"),
        (["--set", "lr"], "--set"),
        (["--epochs", "0"], "--epochs"),
    ],
)
def test_run_bad_options_are_named(tmp_path: Path, corpus_path: Path, extra: list[str],
                                   option: str) -> None:  # fmt: skip
    args = ["experiment", "run", "--out", str(tmp_path / "x"), "--corpus", str(corpus_path),
            *extra]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"{option}:" in result.output
    assert not (tmp_path / "x").exists()  # refused before anything was created


def test_run_missing_corpus_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = runner.invoke(app, ["experiment", "run", "--out", str(tmp_path / "x"),
                                 "--corpus", str(missing)])  # fmt: skip
    assert result.exit_code == 1 and "nope.jsonl" in result.output


def test_report_command(tmp_path: Path) -> None:
    fill_study(tmp_path)
    out = tmp_path / "rep"
    result = runner.invoke(app, ["experiment", "report", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "(120 run(s), 10 figure(s))" in said
    assert "Repeated-measures ANOVA" in (out / "report.md").read_text()
    bad = runner.invoke(app, ["experiment", "report", str(tmp_path / "empty")])
    assert bad.exit_code == 2 and "no runs.duckdb" in bad.output


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("lr=abc", "--set: lr must be a number, got 'abc'"),
        ("threads=abc", "--set: threads must be an integer or null, got 'abc'"),
        ("epochs=1.5", "--set: epochs must be an integer, got 1.5"),
        ("patience=true", "--set: patience must be an integer, got True"),
        ("use_features=maybe", "--set: use_features must be true or false, got 'maybe'"),
        ("weight_decay=NaN", "--set: weight_decay must be a finite number, got nan"),
        ("device=1", "--set: device must be a string, got 1"),
    ],
)
def test_run_set_values_must_have_the_option_type(tmp_path: Path, corpus_path: Path,
                                                  setting: str, message: str) -> None:  # fmt: skip
    args = ["experiment", "run", "--out", str(tmp_path / "x"), "--corpus", str(corpus_path),
            "--set", setting]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and result.output.strip().count("\n") == 0
    assert not (tmp_path / "x").exists()  # refused before anything was created


def test_set_values_are_coerced_to_the_option_types() -> None:
    options = train_options({"epochs": 2.0, "lr": "3e-5", "use_features": "false",
                             "threads": None, "warmup": 0})  # fmt: skip
    assert options["epochs"] == 2 and isinstance(options["epochs"], int)
    assert options["lr"] == pytest.approx(3e-5) and options["use_features"] is False
    assert options["threads"] is None
    assert options["warmup"] == 0.0 and isinstance(options["warmup"], float)
    assert train_options({"threads": 2})["threads"] == 2


def test_report_on_a_sqlite_runs_file_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "exlite"
    folder.mkdir()
    con = sqlite3.connect(folder / "runs.duckdb")
    con.execute("CREATE TABLE t (x INTEGER)")
    con.commit()
    con.close()
    empty = tmp_path / "exempty"
    empty.mkdir()
    (empty / "runs.duckdb").write_bytes(b"")
    for where, kind in ((folder, "a SQLite database"), (empty, "an empty file")):
        result = runner.invoke(app, ["experiment", "report", str(where)])
        assert result.exit_code == 1, result.output
        assert f"runs.duckdb: not a DuckDB store file ({kind})" in result.output
        assert "extension" not in result.output and "Traceback" not in result.output
        assert result.output.strip().count("\n") == 0
