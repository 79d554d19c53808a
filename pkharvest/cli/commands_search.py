"""`pkharvest search|units`: PubMed query to measurements; unit normalisation."""

from __future__ import annotations

from pkharvest.cli import app, console, handle_errors  # noqa: F401
