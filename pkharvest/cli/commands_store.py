"""`pkharvest query|export|show|refresh`: the parameter store."""

from __future__ import annotations

from pkharvest.cli import app, console, handle_errors  # noqa: F401
