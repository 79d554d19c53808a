"""The `protocol` preset, the plan of a grid and `experiment run --preset/--dry-run`."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_record
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.experiment.protocol import PROTOCOL, get_preset, plan_study, scheduled_steps
from pkharvest.experiment.runner import study_settings
from pkharvest.experiment.runstore import RunStore

runner = CliRunner()
FRACTIONS = {0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0}
WEIGHTINGS = {"none", "fixed", "uncertainty", "hybrid"}


def test_protocol_grid_is_the_published_protocol() -> None:
    grid = PROTOCOL.grid()
    assert len({s.key for s in grid}) == len(grid) == 5 * (32 + 16 + 6)
    assert PROTOCOL.seeds == 5 and dict(PROTOCOL.options) == {"patience": 3}
    full = [s for s in grid if s.view == "full" and not s.ablated]
    assert {(s.fraction, s.weighting) for s in full} == {(f, w) for f in FRACTIONS
                                                         for w in WEIGHTINGS}  # fmt: skip
    pk = [s for s in grid if s.view == "pk"]
    assert {s.fraction for s in pk} == {0.05, 0.1, 0.25, 1.0} and not any(s.ablated for s in pk)
    assert {s.weighting for s in pk} == WEIGHTINGS
    ablated = [s for s in grid if s.ablated]
    assert {(s.view, s.fraction, s.weighting) for s in ablated} == {
        ("full", 0.1, "uncertainty"), ("full", 1.0, "uncertainty")}
    assert {s.configuration for s in ablated} == {
        "uncertainty-no_mtcls", "uncertainty-no_bcls", "uncertainty-no_mcls"}
    # seed-major: every run of seed 0 before any of seed 1
    seeds = [s.seed for s in grid]
    assert seeds == sorted(seeds) and set(seeds) == set(range(5))
    assert len(PROTOCOL.grid(range(10))) == 10 * 54
    assert {PROTOCOL.block_of(s) for s in ablated} == {"ablation"}
    assert PROTOCOL.block_of(next(s for s in grid if s.view == "pk")) == "pk"
    assert get_preset("protocol") is PROTOCOL


def test_scheduled_steps_follow_the_trainer() -> None:
    options = {"batch_size": 8, "epochs": 30, "min_steps": 320, "eval_steps": 40}
    # 280 sentences: 35 steps an epoch x 30 epochs; an evaluation every 2 epochs
    assert scheduled_steps(280, options) == (1050, 15)
    # 7 sentences: one step an epoch, raised to 320 epochs; an evaluation every 40 epochs
    assert scheduled_steps(7, options) == (320, 8)


def test_plan_counts_stored_runs_and_refuses_other_settings(tmp_path: Path,
                                                            corpus_path: Path) -> None:
    grid = PROTOCOL.grid([0])
    split = (0.7, 0.15, 0.15)
    store = RunStore(tmp_path)
    store.check_settings(study_settings(corpus_path, split, 8, PROTOCOL.options))
    for spec in grid[:5]:
        store.add(make_record(spec, 0.5))
    plan = plan_study(corpus_path, tmp_path, grid, PROTOCOL.options, split=split,
                      similarity_batches=8, preset=PROTOCOL, step_seconds=1.0)  # fmt: skip
    assert len(plan.runs) == 54 and len(plan.pending) == 49
    one = next(r for r in plan.runs if r.spec.fraction == 1.0 and r.spec.view == "full")
    small = next(r for r in plan.runs if r.spec.fraction == 0.025)
    assert small.n_train < one.n_train and small.steps == 320 and one.steps > 320
    assert plan.seconds([one]) > one.steps  # steps at 1 s, plus evaluations and overhead
    with pytest.raises(Exception, match="other settings"):
        plan_study(corpus_path, tmp_path, grid, {"patience": 4}, split=split,
                   similarity_batches=8)  # fmt: skip
    assert len(RunStore(tmp_path).runs()) == 5


def test_cli_dry_run_prints_counts_and_creates_nothing(tmp_path: Path, corpus_path: Path) -> None:
    out = tmp_path / "proto"
    args = ["experiment", "run", "--preset", "protocol", "--out", str(out), "--corpus",
            str(corpus_path), "--dry-run"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "full: 160 run(s), 0 stored, 160 to train" in said
    assert "pk: 80 run(s)" in said and "ablation: 30 run(s)" in said
    assert "270 run(s) in the grid: 0 already stored, 270 to train" in said
    assert "Nothing was trained" in said and not out.exists()
    ten = runner.invoke(app, [*args, "--seeds", "10", "--step-seconds", "2"])
    assert ten.exit_code == 0 and "540 run(s) in the grid" in " ".join(ten.output.split())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--preset", "protocol", "--views", "pk"], "--preset: the preset sets the grid; "
         "leave out --views"),
        (["--preset", "protocol", "--ablate"], "leave out --ablate"),
        (["--preset", "nope"], "--preset: unknown preset 'nope' (known: protocol)"),
        (["--step-seconds", "0"], "--step-seconds: must be > 0"),
    ],
)
def test_cli_preset_errors_are_one_line(tmp_path: Path, corpus_path: Path, extra: list[str],
                                        message: str) -> None:  # fmt: skip
    args = ["experiment", "run", "--out", str(tmp_path / "x"), "--corpus", str(corpus_path),
            "--dry-run", *extra]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output and not (tmp_path / "x").exists()


def test_shards_partition_the_grid_and_stay_seed_major() -> None:
    from pkharvest.experiment.grid import parse_shard, shard_grid

    grid = PROTOCOL.grid()
    shards = [shard_grid(grid, k, 3) for k in (1, 2, 3)]
    keys = [s.key for part in shards for s in part]
    assert sorted(keys) == sorted(s.key for s in grid) and len(set(keys)) == len(grid)
    assert all([s.seed for s in part] == sorted(s.seed for s in part) for part in shards)
    assert shard_grid(grid, 1, 1) == grid
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "1", "a/b", "1/0"):
        with pytest.raises(Exception, match="K/N"):
            parse_shard(bad)


def test_cli_shard_dry_run_and_bad_shard(tmp_path: Path, corpus_path: Path) -> None:
    args = ["experiment", "run", "--preset", "protocol", "--out", str(tmp_path / "x"),
            "--corpus", str(corpus_path), "--dry-run", "--shard"]  # fmt: skip
    result = runner.invoke(app, [*args, "2/3"])
    assert result.exit_code == 0, result.output
    assert "90 run(s) in the grid" in " ".join(result.output.split())
    bad = runner.invoke(app, [*args, "3/2"])
    assert bad.exit_code == 2 and "--shard: expected K/N" in bad.output


def test_store_waits_for_another_process_lock(tmp_path: Path, monkeypatch) -> None:
    import subprocess
    import sys
    import time

    from pkharvest.errors import StoreError
    from pkharvest.experiment import runstore

    store = RunStore(tmp_path)
    path = tmp_path / "runs.duckdb"
    holder = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', "
              "flush=True); time.sleep(float(sys.argv[2]))")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", holder, str(path), "2"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "held"
        started = time.monotonic()
        assert store.runs().empty  # waits for the other process to let go
        assert time.monotonic() - started > 0.5
    finally:
        proc.wait(timeout=30)
    proc = subprocess.Popen([sys.executable, "-c", holder, str(path), "5"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "held"
        monkeypatch.setattr(runstore, "LOCK_WAIT_S", 0.3)
        with pytest.raises(StoreError, match="lock"):
            store.runs()
    finally:
        proc.kill()
        proc.wait(timeout=30)
