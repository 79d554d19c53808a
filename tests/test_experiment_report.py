"""The report writer on a real run store filled with constructed runs."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from conftest import fill_study

from pkharvest.errors import UsageError
from pkharvest.experiment.report import REPORT_FILE, write_report
from pkharvest.experiment.runstore import RunStore


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    fill_study(folder)
    return folder


def test_report_has_tables_figures_and_the_known_effect(filled: Path, tmp_path: Path) -> None:
    report = write_report(filled, out_dir=tmp_path)
    text = (tmp_path / REPORT_FILE).read_text()
    assert report.path == tmp_path / REPORT_FILE
    # per view, fraction and seed: "none" + "uncertainty" and its three ablations
    assert report.n_runs == 2 * 3 * 4 * (1 + 4)
    for view in ("pk", "full"):
        for name in (f"f1_vs_fraction_{view}.png", f"seed_sd_{view}.png",
                     f"task_similarity_{view}.png"):  # fmt: skip
            png = tmp_path / name
            assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert f"]({name})" in text
    # main table: one row per configuration, one column per fraction, mean ± sd (n)
    assert "| configuration | 1 | 0.5 | 0.1 |" in text
    assert re.search(r"\| uncertainty \| 0\.\d{4} ± 0\.\d{4} \(4\) \|", text)
    # the ANOVA table and the constructed effect, read back from the result
    assert "| source | F | df | df error | p | ε (GG) | p (GG) | partial η² |" in text
    anova = report.anovas["pk"]
    assert anova.subjects_used == [0, 1, 2, 3]
    assert anova.row("configuration").p < 0.001 and anova.row("configuration").df_den == 3
    assert anova.row("fraction").p < 0.001
    # ablation table: three removed heads per weighting, each about -0.02
    assert "| weighting | removed head |" in text
    for head in ("mtcls", "bcls", "mcls"):
        assert re.search(rf"\| uncertainty \| {head} \| [\d.]+ \| [\d.]+ \| -0\.0[12]\d\d \|",
                         text)  # fmt: skip
    assert "matched seeds: yes" in text
    assert "| ner–mtcls |" in text and "subject = run" in text
    assert "ner.strict.per_label.PK.f1" in text and "bcls.f1" in text
    assert "### Training length and early stopping" in text
    assert re.search(r"\| uncertainty \| 1 \| 4 \| 3\.0 \| 2\.0 \| – \| 0/0 \| 2 \|", text)


def test_incomplete_grid_restricts_the_anova_and_says_so(tmp_path: Path) -> None:
    fill_study(tmp_path, drop_seed_cells=True)
    report = write_report(tmp_path)
    text = report.path.read_text()
    assert report.anovas["pk"].subjects_used == [0, 1, 2]
    assert "restricted to the 3 complete seed(s); left out 1 with missing cells: 3" in text


def test_report_of_an_empty_or_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no runs\.duckdb"):
        write_report(tmp_path)
    RunStore(tmp_path)
    with pytest.raises(UsageError, match="no finished run"):
        write_report(tmp_path)


def test_unknown_metric_is_named(filled: Path) -> None:
    with pytest.raises(UsageError, match=r"no stored test score named 'ner\.nope'"):
        write_report(filled, metric="ner.nope")


def test_report_has_seed_stability_and_paired_differences(filled: Path, tmp_path: Path) -> None:
    report = write_report(filled, out_dir=tmp_path)
    text = (tmp_path / REPORT_FILE).read_text()
    assert "### Seed stability and paired differences to single-task" in text
    assert "| fraction | configurations | runs | Levene W | p | Brown–Forsythe W | p |" in text
    for view in ("pk", "full"):
        for name in (f"seed_sd_vs_fraction_{view}.png", f"paired_diff_{view}.png"):
            assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert f"]({name})" in text
        tables = report.stability[view]
        # the constructed gain: uncertainty = none + 0.05 (noise sd 0.005, matched seeds)
        diffs = tables["paired_differences"].set_index("fraction")
        assert set(diffs["configuration"]) == {"uncertainty"} and (diffs["n"] == 4).all()
        assert ((diffs["ci_low"] > 0.03) & (diffs["ci_high"] < 0.07)).all()
        assert diffs["diff"].to_numpy() == pytest.approx([0.05] * 3, abs=0.01)
        ratios = tables["variance_ratios"]
        assert len(ratios) == 3 and (ratios["ratio"] > 0).all()
        assert len(tables["variance_tests"]) == 3  # one row per fraction
    # the table row: fraction, configuration, n, none, mean, Δ, [CI], p, p (Holm)
    assert re.search(r"\| 1 \| uncertainty \| 4 \| [\d.]+ \| [\d.]+ \| \+0\.0[456]\d\d \| "
                     r"\[\+0\.0\d{3}, \+0\.0\d{3}\] \|", text)  # fmt: skip


def test_stopping_summary_counts_runs_that_stopped_before_their_schedule() -> None:
    import json

    import pandas as pd

    from pkharvest.experiment.report import scheduled_epochs, stopping_summary

    config = {"epochs": 30, "min_steps": 320}
    # 35 steps an epoch: 30 epochs; 1 step an epoch: raised to 320 epochs
    assert scheduled_epochs(config, [{"epoch": 2, "step": 70}]) == 30
    assert scheduled_epochs(config, [{"epoch": 200, "step": 200}]) == 320
    assert math.isnan(scheduled_epochs(config, [{"epoch": 1, "loss": 1.0}]))

    def run(key: str, fraction: float, epochs_run: int, per_epoch: int) -> dict:
        return {"run_key": key, "configuration": "fixed", "fraction": fraction,
                "epochs_run": epochs_run, "best_epoch": epochs_run - 3,
                "wall_time_s": 10.0 * epochs_run, "config_json": json.dumps(config),
                "history_json": json.dumps([{"epoch": epochs_run,
                                             "step": epochs_run * per_epoch}])}  # fmt: skip

    runs = pd.DataFrame([run("a", 1.0, 12, 35), run("b", 1.0, 30, 35),
                         run("c", 0.025, 160, 1)])  # fmt: skip
    out = stopping_summary(runs).set_index("fraction")
    assert out.loc[1.0, "n"] == 2 and out.loc[1.0, "stopped"] == 1 and out.loc[1.0, "known"] == 2
    assert out.loc[1.0, "epochs_run"] == 21 and out.loc[1.0, "scheduled"] == 30
    assert out.loc[0.025, "stopped"] == 1 and out.loc[0.025, "scheduled"] == 320
