"""`pkharvest experiment cv`: grouped k-fold cross-validation over train + dev, resumable."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.corpus.reader import read_corpus
from pkharvest.corpus.splits import DEFAULT_PROPORTIONS, DEFAULT_SEED, split_by_article
from pkharvest.experiment.cv import cv_folds

runner = CliRunner()
TINY_CLI = ["--epochs", "1", "--max-length", "64", "--batch-size", "8", "--set", "eval_steps=1",
            "--set", "threads=1"]  # fmt: skip


def test_folds_group_articles_and_cover_train_and_dev_once(tiny_corpus: Path) -> None:
    examples = read_corpus(tiny_corpus)
    pool, folds = cv_folds(examples, 2)
    split = split_by_article(examples, DEFAULT_PROPORTIONS, DEFAULT_SEED)
    assert len(pool) == len(split.train) + len(split.dev)
    assert sorted(i for f in folds for i in f) == list(range(len(pool)))
    articles = [{pool[i].article_id for i in f} for f in folds]
    assert not articles[0] & articles[1]  # no article in two folds


def test_cv_command_scores_each_seed_and_the_ensemble_and_resumes(tiny_corpus: Path,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "cv"
    args = ["experiment", "cv", "--out", str(out), "--corpus", str(tiny_corpus), "--folds", "2",
            "--seeds", "1,2", *TINY_CLI]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [j["seed"] for j in summary["jobs"]] == [1, 2]
    for job in summary["jobs"]:
        assert len(job["per_fold_micro"]) == 2
        assert 0.0 <= job["micro"] <= 1.0
    assert summary["ensemble"] is not None and 0.0 <= summary["ensemble"]["micro"] <= 1.0
    said = " ".join(result.output.split())
    assert f"out-of-fold micro F1 {summary['micro_mean']:.4f}" in said
    assert "seed ensemble: micro" in said

    kept = {p: p.stat().st_mtime_ns for p in out.rglob("oof.safetensors")}
    assert len(kept) == 4  # 2 seeds × 2 folds
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("oof.safetensors")} == kept
    rerun = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert _scores(rerun) == _scores(summary)  # the kept folds scored again; only time differs


def _scores(summary: dict) -> dict:
    return {**summary, "jobs": [{k: v for k, v in j.items() if k != "wall_s"}
                                for j in summary["jobs"]]}


def test_cv_command_names_the_bad_option(tiny_corpus: Path, tmp_path: Path) -> None:
    base = ["experiment", "cv", "--out", str(tmp_path), "--corpus", str(tiny_corpus)]
    result = runner.invoke(app, [*base, "--folds", "1"])
    assert result.exit_code == 2, result.output
    assert "--folds: must be at least 2" in " ".join(result.output.split())
    result = runner.invoke(app, [*base, "--set", "colour=red"])
    assert result.exit_code == 2, result.output
    assert "--set: unknown training option 'colour'" in " ".join(result.output.split())
    result = runner.invoke(app, [*base, "--seeds", "a,b"])
    assert result.exit_code == 2, result.output
    assert "--seeds" in result.output
    assert not list(tmp_path.iterdir())  # nothing trained or written


def test_cv_help() -> None:
    result = runner.invoke(app, ["experiment", "cv", "--help"])
    assert result.exit_code == 0
    assert "--folds" in result.output and "cross-validation" in result.output
