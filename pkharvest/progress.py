"""One progress protocol for the long-running library calls (training, search / refresh,
studies, cross-validation, corpus downloads).

A library function that reports progress takes ``progress: ProgressSink | None`` and calls it
with :class:`ProgressEvent` values; it never draws anything itself (no rich, no printing). The
command line turns the events into progress bars on a terminal and into periodic lines
otherwise (``pkharvest.cli.progress``); a test or a script can pass any callable, e.g.
``events.append``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a task.

    ``task`` names what progresses (``"training"``, ``"articles"``, ``"runs"``, ``"folds"`` or
    a file being downloaded); ``advance`` is how many units were done since the last event of
    that task (0 for an event that only announces the task or its ``total``); ``total`` is the
    number of units when known. ``message`` is a line worth showing as it is (a finished run's
    score); ``info`` carries task-specific figures (training: ``epoch``, ``epochs``, ``step``,
    ``loss``). ``done`` marks the task's last event.
    """

    task: str
    advance: int = 0
    total: int | None = None
    message: str = ""
    info: Mapping[str, Any] = field(default_factory=dict)
    done: bool = False


class ProgressSink(Protocol):
    """What a library function calls with its progress events."""

    def __call__(self, event: ProgressEvent, /) -> None: ...


def report(progress: ProgressSink | None, event: ProgressEvent) -> None:
    """Send ``event`` to ``progress`` when there is one (``None`` and ``False``: nobody
    listens)."""
    if progress:
        progress(event)
