"""`pkharvest search|units`: PubMed query to measurements; unit normalisation."""

from __future__ import annotations

import json
import sys

import typer
from rich.table import Table

from pkharvest.cli import app, console, handle_errors, utf8_argument

# --------------------------------------------------------------------------------------------
# `pkharvest units` -- unit normalisation (pkharvest.normalise.units)
# --------------------------------------------------------------------------------------------


@app.command("units")
@handle_errors
def units(
    texts: list[str] = typer.Argument(
        ..., metavar="TEXT", help='Unit spellings as written in papers, e.g. "ng·h/mL" "l/h".'
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help='Print one JSON list of {"input", "unit", "factor", "error"} objects instead of a '
        "table.",
    ),
) -> None:
    """Normalise unit spellings to the canonical unit of their PK quantity kind.

    FACTOR is what a value in the given unit is multiplied by to express it in the canonical
    unit (e.g. "ng/mL" -> 0.001 mg/L). Units that cannot be normalised show the reason.
    """
    from pkharvest.normalise.units import KINDS, parse_unit

    results = [parse_unit(utf8_argument(t, "TEXT")) for t in texts]
    if as_json:
        payload = [
            {"input": r.input, "unit": r.unit, "factor": r.factor, "error": r.error}
            for r in results
        ]
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return
    table = Table(title="Unit normalisation")
    table.add_column("input")
    table.add_column("canonical unit")
    table.add_column("factor", justify="right")
    table.add_column("quantity kind")
    table.add_column("error", style="red")
    for r in results:
        table.add_row(
            r.input,
            r.unit or "",
            f"{r.factor:.6g}" if r.factor is not None else "",
            KINDS[r.kind].description if r.kind else "",
            r.error or "",
        )
    console.print(table)


# --------------------------------------------------------------------------------------------
# `pkharvest search`
# --------------------------------------------------------------------------------------------
