"""Progress events as the command line shows them: a bar on a terminal, plain lines in a file
or a pipe (pkharvest.cli.progress), and `pkharvest train` reporting through them."""

from __future__ import annotations

import io

from rich.console import Console
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.cli.progress import ProgressView
from pkharvest.progress import ProgressEvent

runner = CliRunner()


def _training_events(steps: int) -> list[ProgressEvent]:
    events = [ProgressEvent("training", total=steps, info={"epoch": 0, "epochs": 2, "step": 0})]
    for step in range(1, steps + 1):
        events.append(ProgressEvent("training", advance=1, total=steps,
                                    info={"epoch": 1 + (step > steps // 2), "epochs": 2,
                                          "step": step, "loss": 1.0 / step}))
    events.append(ProgressEvent("training", total=steps, done=True,
                                info={"epoch": 2, "epochs": 2, "step": steps}))
    return events


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_every_interval_when_not_a_terminal() -> None:
    out = io.StringIO()
    clock = _Clock()
    with ProgressView(Console(file=out, force_terminal=False, width=200), interval=30.0,
                      clock=clock) as view:
        view(ProgressEvent("sets", message="train 10 sentences"))
        for event in _training_events(10):
            clock.now += 10.0  # ten seconds a step: a line every third step
            view(event)
    lines = out.getvalue().splitlines()
    assert lines[0] == "train 10 sentences"
    progress = lines[1:]
    assert progress[0].startswith("training: epoch 1/2 · step 1/10 · loss 1.0000 · elapsed ")
    assert "ETA 1m30s" in progress[0]  # 10 s for 1 step, 9 to go
    assert progress[-1].startswith("training: epoch 2/2 · step 10/10 · loss 0.1000")
    assert "ETA" not in progress[-1]
    assert 3 <= len(progress) <= 5  # the first, every 30 s, the last; never one per step
    assert "\x1b[" not in out.getvalue()  # no terminal control sequences in a log


def test_a_terminal_gets_a_bar_not_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with ProgressView(console, transient=False) as view:
        for event in _training_events(4):
            view(event)
    text = out.getvalue()
    assert "training:" not in text and "ETA" not in text
    assert "━" in text or "epoch" in text  # rich's bar (drawn with control sequences)
    assert "\x1b[" in text


def test_train_prints_progress_lines_when_stderr_is_not_a_terminal(tiny_corpus, tmp_path):
    res = runner.invoke(app, ["train", "--corpus", str(tiny_corpus), "--out",
                              str(tmp_path / "m"), "--epochs", "1", "--batch-size", "8",
                              "--max-length", "64"])
    assert res.exit_code == 0, res.output
    assert "training: epoch 1/1 · step 1/" in res.output
    assert "elapsed" in res.output and "saved to" in res.output
    assert "test 5 sentences (view full," in res.output


def test_study_runs_as_lines_and_bar_descriptions() -> None:
    # what run_study reports: the task's total with the first run, each next run's key alone
    # (no total, no advance), and each stored run with its score as a message
    events = [
        ProgressEvent("runs", total=2, info={"run": "pk-f0.5-none-s0", "index": 0}),
        ProgressEvent("runs", advance=1, total=2, message="pk-f0.5-none-s0: test F1 0.5000, 9 s",
                      info={"run": "pk-f0.5-none-s0", "index": 0}),
        ProgressEvent("runs", info={"run": "pk-f0.5-none-s1", "index": 1}),
        ProgressEvent("runs", advance=1, total=2, message="pk-f0.5-none-s1: test F1 0.6000, 9 s",
                      info={"run": "pk-f0.5-none-s1", "index": 1}, done=True),
    ]
    out, scores = io.StringIO(), io.StringIO()
    clock = _Clock()
    with ProgressView(Console(file=out, force_terminal=False, width=200),
                      Console(file=scores, force_terminal=False, width=200), clock=clock) as view:
        for event in events:
            clock.now += 9.0
            view(event)
    assert scores.getvalue().splitlines() == ["pk-f0.5-none-s0: test F1 0.5000, 9 s",
                                              "pk-f0.5-none-s1: test F1 0.6000, 9 s"]
    lines = out.getvalue().splitlines()
    assert [ln.split(" · ")[0] for ln in lines] == ["runs: 1/2", "runs: 2/2"]

    bar = io.StringIO()
    terminal = Console(file=bar, force_terminal=True, width=100)
    with ProgressView(terminal, transient=False) as view:
        for event in events[:3]:
            view(event)
        assert [t.description for t in view.bars.tasks] == ["pk-f0.5-none-s1"]
