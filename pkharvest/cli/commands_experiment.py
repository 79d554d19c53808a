"""`pkharvest experiment run|report`: the low-resource study."""

from __future__ import annotations

from pkharvest.cli import app, console, handle_errors  # noqa: F401
