"""A tiny real study end to end: training, interruption, resume, report (slow)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.experiment.grid import build_grid
from pkharvest.experiment.runner import run_study
from pkharvest.experiment.runstore import RunStore
from pkharvest.progress import ProgressEvent

N_SENTENCES = 120  # a slice of the shared corpus, written to a temp file at test time
OPTIONS = {"epochs": 1, "min_steps": 0, "max_length": 64, "eval_steps": 1}
CLI_OPTIONS = ["--epochs", "1", "--min-steps", "0", "--max-length", "64", "--set",
               "eval_steps=1", "--similarity-batches", "1"]  # fmt: skip


class _Stop(Exception):
    pass


@pytest.mark.slow
def test_tiny_study_interrupt_resume_report(tmp_path: Path, corpus_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    lines = corpus_path.read_text(encoding="utf-8").splitlines(keepends=True)
    corpus.write_text("".join(lines[:N_SENTENCES]), encoding="utf-8")
    out = tmp_path / "study"
    grid = build_grid(["pk"], [0.5], ["none", "fixed"], [0, 1])

    events: list[ProgressEvent] = []

    def stop_after_first(event: ProgressEvent) -> None:
        events.append(event)
        if "record" in event.info:
            raise _Stop  # an interruption right after the first run was stored

    with pytest.raises(_Stop):
        run_study(corpus, out, grid, OPTIONS, similarity_batches=1, progress=stop_after_first)
    assert [(e.task, e.advance, e.total) for e in events] == [("runs", 0, 4), ("runs", 1, 4)]
    assert events[1].message.startswith(f"{grid[0].key}: test F1 ")
    assert len(RunStore(out).runs()) == 1

    args = ["experiment", "run", "--out", str(out), "--corpus", str(corpus), "--views", "pk",
            "--fractions", "0.5", "--weightings", "none,fixed", "--seeds", "2", *CLI_OPTIONS]
    result = CliRunner().invoke(app, args)  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "1 already stored, 3 trained now" in said

    store = RunStore(out)
    runs = store.runs().set_index("run_key")
    assert sorted(runs.index) == sorted(s.key for s in grid)
    assert (runs["epochs_run"] == 1).all() and (runs["n_train"] > 0).all()
    for seed in (0, 1):  # matched seeds: both configurations saw the same examples
        same = runs[runs["seed"] == seed]
        assert same[["train_hash", "dev_hash", "test_hash"]].nunique().max() == 1
    assert runs.groupby("seed")["test_hash"].first().nunique() == 2  # seeds split differently
    f1 = store.scores("ner.strict.micro.f1").set_index("run_key")["value"]
    assert ((f1 >= 0) & (f1 <= 1)).all() and len(f1) == 4
    assert "ner.strict.per_label.PK.f1" in store.metrics()
    assert len(store.scores("ner.strict.micro.f1", split="dev")) == 4
    sims = store.similarities()
    assert set(sims["weighting"]) == {"fixed"}  # "none" trains NER alone: no interaction
    assert len(sims) == 2 * 6 and (sims["n_batches"] == 1).all()
    assert all(math.isnan(c) or -1.0 <= c <= 1.0 for c in sims["cosine"])

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "4 already stored, 0 trained" in " ".join(again.output.split())

    rep = CliRunner().invoke(app, ["experiment", "report", str(out)])
    assert rep.exit_code == 0, rep.output
    text = (out / "report.md").read_text()
    assert "| configuration | 0.5 |" in text
    assert "subjects used (seed): 0, 1" in text and "| configuration |" in text
    assert (out / "f1_vs_fraction_pk.png").exists() and (out / "task_similarity_pk.png").exists()
