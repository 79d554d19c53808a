"""CliRunner tests of `pkharvest experiment run|report` (no training: the runs are stored)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_experiment_report import _fill
from test_experiment_store import make_record
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
    _fill(tmp_path)
    out = tmp_path / "rep"
    result = runner.invoke(app, ["experiment", "report", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "(120 run(s), 6 figure(s))" in said
    assert "Repeated-measures ANOVA" in (out / "report.md").read_text()
    bad = runner.invoke(app, ["experiment", "report", str(tmp_path / "empty")])
    assert bad.exit_code == 2 and "no runs.duckdb" in bad.output
