"""`pkharvest train|evaluate|tag`: the multi-task PK NER model."""

from __future__ import annotations

from pkharvest.cli import app, console, handle_errors  # noqa: F401
