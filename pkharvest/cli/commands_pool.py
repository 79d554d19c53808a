"""`pkharvest pool`: random-effects pooling of a PK parameter across studies (log scale).

Exit codes: 0 success; 1 input that cannot be pooled (malformed CSV line, mixed quantity kinds,
store error); 2 usage error (bad option, no such drug or parameter).
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from pkharvest.cli import app, console, handle_errors, utf8_argument
from pkharvest.errors import UsageError

FORMATS = ("table", "csv", "json")
CSV_BY = ("group", "unit")
SUMMARY_FIELDS = (
    "method", "k", "unit", "estimate", "ci_low", "ci_high", "tau2", "i2", "q", "q_p",
    "pi_low", "pi_high",
)  # fmt: skip


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def result_json(r: Any, with_subgroup: bool) -> dict[str, Any]:
    """The JSON object of one pooled result (``subgroup`` first when pooled by subgroup)."""
    out: dict[str, Any] = {"subgroup": r.subgroup} if with_subgroup else {}
    for f in SUMMARY_FIELDS:
        v = getattr(r, f)
        out[f] = _num(v) if isinstance(v, float) else v
    out["studies"] = [
        {
            "study": s.row.study,
            "group": s.row.group,
            "y": _num(s.y),
            "v": _num(s.v),
            "weight": _num(s.weight),
            "included": s.included,
            "reason": s.reason,
        }
        for s in r.studies
    ]
    return out


def _g(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}"


def _print_table(results: list[Any]) -> None:
    from pkharvest.pool.transform import Z975

    for r in results:
        title = f"{r.method} pool" + (f" — {r.subgroup}" if r.subgroup is not None else "")
        unit = f" ({r.unit})" if r.unit and r.unit != r.subgroup else ""
        table = Table(title=title + unit)
        for col, just in (("study", "left"), ("group", "left"), ("n", "right"),
                          ("statistic", "left"), ("geo. mean", "right"), ("95% CI", "right"),
                          ("weight %", "right")):  # fmt: skip
            table.add_column(col, justify=just,  # type: ignore[arg-type]
                             no_wrap=col in ("n", "geo. mean", "95% CI", "weight %"))
        for s in r.studies:
            est = ci = ""
            if s.included:
                half = Z975 * math.sqrt(s.v)
                est = _g(math.exp(s.y))
                ci = f"{_g(math.exp(s.y - half))}–{_g(math.exp(s.y + half))}"
            table.add_row(
                s.row.study, s.row.group, "" if s.row.n is None else str(s.row.n),
                s.row.statistic or "", est, ci,
                f"{s.weight:.1f}" if s.included and s.weight is not None else "excluded",
            )
        console.print(table)
        for s in r.studies:
            if not s.included:
                console.print(f"excluded {s.row.study} ({s.row.where}): {s.reason}",
                              soft_wrap=True)
        if r.k:
            console.print(
                f"pooled {_g(r.estimate)} {r.unit} [95% CI {_g(r.ci_low)}, {_g(r.ci_high)}], "
                f"prediction interval [{_g(r.pi_low)}, {_g(r.pi_high)}]\n"
                f"k = {r.k}, tau2 = {_g(r.tau2)}, I2 = {r.i2:.1f}%, Q = {_g(r.q)} "
                f"(p = {_g(r.q_p)})",
                soft_wrap=True,
            )
        else:
            console.print("no study can be pooled")


def _print_csv(results: list[Any], with_subgroup: bool) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow((("subgroup",) if with_subgroup else ()) + SUMMARY_FIELDS)
    for r in results:
        row = [getattr(r, f) for f in SUMMARY_FIELDS]
        writer.writerow(([r.subgroup] if with_subgroup else []) +
                        ["" if v is None else v for v in row])
    sys.stdout.write(buf.getvalue())


@app.command("pool")
@handle_errors
def pool_command(
    input_csv: Path | None = typer.Option(
        None, "--input", help="CSV of study summaries curated by hand (header: "
        "study,group,statistic,estimate,deviation_type,deviation,low,high,n,unit).",
        dir_okay=False,
    ),
    db: Path | None = typer.Option(None, "--db", help="The DuckDB store file to pool from."),
    drug: str | None = typer.Option(None, "--drug", help="Drug name (with --db)."),
    parameter: str | None = typer.Option(
        None, "--parameter", help="PK parameter, any spelling the vocabulary knows, e.g. CL, "
        "clearance, t1/2 (with --db)."
    ),
    by: str | None = typer.Option(
        None, "--by", help="Pool each subgroup apart: population, species, route or unit "
        "(--db); group or unit (--input)."
    ),
    method: str = typer.Option(
        "REML", "--method", help="Estimator of the between-study variance: REML, DL "
        "(DerSimonian-Laird) or PM (Paule-Mandel)."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Write a forest plot (PNG, SVG, PDF)."),
    fmt: str = typer.Option("table", "--format", help="Output: table, csv or json."),
    include_flagged: bool = typer.Option(
        False, "--include-flagged",
        help="Also pool stored values whose flags leave them out by default (in_vitro, cited,"
        " drug_from_query, negative_value, unit problems; not covariate) (--db).",
    ),
) -> None:
    """Pool a PK parameter across studies with a random-effects model on the log scale.

    Each study's mean, geometric mean or median with its SD, SE, CV%, IQR, range or 95% CI is
    turned into the mean and variance of the log parameter in one canonical unit; rows without
    n or dispersion are excluded and listed with the reason. Prints the pooled geometric
    estimate with its 95% CI and prediction interval, tau2, I2 and Q (see docs/pooling.md).
    """
    from pkharvest.pool import METHODS, pool
    from pkharvest.pool.plot import forest_plot

    method = method.upper()
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r} (one of {', '.join(METHODS)})",
                         option="--method")
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})",
                         option="--format")
    if (input_csv is None) == (db is None):
        raise UsageError("give either --input CSV or --db with --drug and --parameter",
                         option="--input")
    if input_csv is not None:
        for opt, val in (("--drug", drug), ("--parameter", parameter)):
            if val is not None:
                raise UsageError("only with --db", option=opt)
        if by is not None and by not in CSV_BY:
            raise UsageError(f"with --input, one of {', '.join(CSV_BY)}", option="--by")
        from pkharvest.pool.studies import read_studies_csv

        rows = read_studies_csv(input_csv)
        title = input_csv.name
    else:
        assert db is not None
        from pkharvest.pool.stored import STORE_BY, read_store_rows

        if drug is None or not drug.strip():
            raise UsageError("required with --db", option="--drug")
        if parameter is None or not parameter.strip():
            raise UsageError("required with --db", option="--parameter")
        if by is not None and by not in STORE_BY:
            raise UsageError(f"with --db, one of {', '.join(STORE_BY)}", option="--by")
        rows, key = read_store_rows(
            db, utf8_argument(drug, "--drug"), utf8_argument(parameter, "--parameter"),
            include_flagged=include_flagged,
        )
        title = f"{drug.strip()}: {key}"
    results = pool(rows, method, by=by)
    if plot is not None:
        forest_plot(results, plot, title=title)
    with_subgroup = by is not None
    if fmt == "json":
        payload: Any = [result_json(r, True) for r in results] if with_subgroup else \
            result_json(results[0], False)
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        _print_csv(results, with_subgroup)
    else:
        _print_table(results)
