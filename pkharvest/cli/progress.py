"""Progress of the library's long calls (:mod:`pkharvest.progress` events) as the command line
shows it: rich progress bars when the console is a terminal, otherwise (stderr sent to a file
or a pipe, a cron job, a CI log) a plain line every so often, which a log keeps readable where
a redrawn bar would leave thousands of control sequences."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from pkharvest.progress import ProgressEvent

#: Seconds between two progress lines when the console is not a terminal.
LINE_INTERVAL_S = 30.0


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


@dataclass
class _Task:
    total: int | None = None
    completed: int = 0
    started: float = field(default_factory=time.monotonic)
    last_line: float | None = None
    bar_id: Any = None


def _describe(name: str, info: dict[str, Any]) -> str:
    if "run" in info:  # a study's run (``experiment run``)
        return str(info["run"])
    if "epochs" in info and info.get("epoch"):
        member = f" (network {info['member']})" if "member" in info else ""
        return f"epoch {info['epoch']}/{info['epochs']}{member}"
    return name


class ProgressView:
    """A :class:`pkharvest.progress.ProgressSink` that draws on ``console``: bars on a
    terminal, a line per task every ``interval`` seconds (and at its first and last step)
    elsewhere. Events with a ``message`` print it on ``messages`` (default ``console``).
    ``console=None`` shows messages only (``--quiet``). Use as a context manager."""

    def __init__(self, console: Console | None, messages: Console | None = None, *,
                 interval: float = LINE_INTERVAL_S,
                 columns: tuple[ProgressColumn, ...] | None = None,
                 transient: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.messages = messages or console
        self.interval = interval
        self.clock = clock
        self.tasks: dict[str, _Task] = {}
        self.bars: Progress | None = None
        if console is not None and console.is_terminal:
            self.bars = Progress(*(columns or (
                TextColumn("{task.description}", markup=False), BarColumn(),
                MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())),
                console=console, transient=transient)

    def __enter__(self) -> ProgressView:
        if self.bars is not None:
            self.bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.bars is not None:
            self.bars.stop()

    def __call__(self, event: ProgressEvent, /) -> None:
        if event.message and self.messages is not None:
            target = (self.bars.console if self.bars is not None
                      and self.messages is self.console else self.messages)
            target.print(event.message, highlight=False, markup=False)
        if self.console is None:
            return
        task = self.tasks.get(event.task)
        if not event.advance and event.total is None and not event.done:
            # only news of what the task does now (a study's next run): the bar's description
            if task is not None and task.bar_id is not None and self.bars is not None:
                self.bars.update(task.bar_id, description=_describe(event.task, dict(event.info)))
            return
        if task is None or (not event.advance and not event.done and task.completed
                            and event.total is not None):
            # a task (re)starts: a new training run (an ensemble's next network), a new file
            if task is not None and task.bar_id is not None and self.bars is not None:
                self.bars.remove_task(task.bar_id)
            task = self.tasks[event.task] = _Task(total=event.total, started=self.clock())
        if event.total is not None:
            task.total = event.total
        task.completed += event.advance
        info = dict(event.info)
        if self.bars is not None:
            if task.bar_id is None:
                task.bar_id = self.bars.add_task(_describe(event.task, info), total=task.total)
            self.bars.update(task.bar_id, advance=event.advance, total=task.total,
                             description=_describe(event.task, info))
            if event.done:
                self.bars.remove_task(task.bar_id)
                del self.tasks[event.task]
            return
        now = self.clock()
        first = task.last_line is None and task.completed > 0
        due = task.last_line is not None and now - task.last_line >= self.interval
        last = event.done or (task.total is not None and task.completed >= task.total)
        if (first or due or last) and task.completed > 0 and task.last_line != -1.0:
            self.console.print(self._line(event.task, task, info, now), highlight=False,
                               markup=False, soft_wrap=True)
            task.last_line = -1.0 if last else now  # the last line is printed once
        if event.done:
            del self.tasks[event.task]

    @staticmethod
    def _line(name: str, task: _Task, info: dict[str, Any], now: float) -> str:
        elapsed = now - task.started
        parts = []
        if "epochs" in info and info.get("epoch"):
            parts.append(f"epoch {info['epoch']}/{info['epochs']}")
            parts.append(f"step {task.completed}/{task.total}")
        else:
            parts.append(f"{task.completed}/{task.total}" if task.total else str(task.completed))
        if "loss" in info:
            parts.append(f"loss {info['loss']:.4f}")
        parts.append(f"elapsed {_clock(elapsed)}")
        if task.total and 0 < task.completed < task.total:
            parts.append(f"ETA {_clock(elapsed / task.completed * (task.total - task.completed))}")
        return f"{name}: " + " · ".join(parts)


def training_progress(console: Console | None, messages: Console | None) -> ProgressView:
    """The view of ``pkharvest train``: what the run learns from on ``messages``, the
    training steps on ``console`` (``None``: no bar, no lines)."""
    return ProgressView(console, messages)


def download_progress(console: Console) -> ProgressView:
    """The view of ``corpus fetch``: a bar per file (bytes, speed, time left) while it downloads
    when ``console`` is a terminal; nothing otherwise (the command lists the files when done)."""
    return ProgressView(console if console.is_terminal else None, columns=(
        TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn()))
