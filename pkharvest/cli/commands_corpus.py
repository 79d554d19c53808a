"""`pkharvest corpus ...`: fetch published corpora, inspect a corpus file."""

from __future__ import annotations

from pkharvest.cli import app, console, handle_errors  # noqa: F401
