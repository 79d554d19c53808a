"""`pkharvest query|export|show|refresh`: the parameter store.

Exit codes: 0 success; 1 store error (missing, corrupt or foreign file, store locked or in use,
a query that fails); 2 usage error (bad option, unknown query or ``--param``, unknown PMID).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from pkharvest import records
from pkharvest.cli import app, console, err_console, handle_errors, utf8_argument
from pkharvest.errors import UsageError
from pkharvest.normalise.parameters import resolve_parameter_name
from pkharvest.store import EXPORT_FORMATS, ArticleView, Store, list_queries

QUERY_FORMATS = ("table", "csv", "json")
LABEL_STYLES: dict[str, str] = {
    "PK": "bold cyan",
    "VALUE": "bold green",
    "UNITS": "bold yellow",
    "RANGE": "bold magenta",
    "COMPARE": "bold red",
}
DEFAULT_LABEL_STYLE = "bold underline"

_DB_HELP = "The DuckDB store file."


def parse_params(items: list[str]) -> dict[str, str]:
    """``key=value`` strings to a dict (UsageError naming ``--param`` when malformed)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"expected key=value, got {item!r}", option="--param")
        if key in out:
            raise UsageError(f"parameter {key!r} given twice", option="--param")
        out[key] = value
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


def _print_queries() -> None:
    # One block per query (name, parameters, the whole description wrapped to the terminal):
    # a description cut at its first ". " lost everything after an "e.g." or "i.e.".
    console.print(Text("Queries (queries/*.sql)", style="bold"))
    for spec in list_queries():
        params = ", ".join(p.name if p.required else f"{p.name}={p.default!r}" for p in spec.params)
        console.print()
        console.print(Text(spec.name, style="bold"))
        console.print(Padding(Text(f"parameters: {params or 'none'}"), (0, 0, 0, 2)))
        console.print(Padding(Text(spec.description), (0, 0, 0, 2)))


_CURATED_HELP = ("Only reviewed values: accepted ones and corrected ones with their corrections "
                 "(`pkharvest review`); `measurements` and the views over it read the "
                 "curated_measurements view.")


@app.command("query")
@handle_errors
def query_cmd(
    query: str | None = typer.Argument(
        None,
        metavar="NAME|FILE",
        help="A query of queries/ by name (e.g. parameter_summary) or a .sql file;"
        " leave out to list the queries.",
    ),
    db: Path | None = typer.Option(None, "--db", help=_DB_HELP),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Query parameter key=value (repeat); values are bound."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    curated: bool = typer.Option(False, "--curated", help=_CURATED_HELP),
) -> None:
    """Run a ready-made or own SQL query on the store (read-only) and print the result."""
    if fmt not in QUERY_FORMATS:
        raise UsageError(f"must be one of {', '.join(QUERY_FORMATS)}", option="--format")
    params = parse_params(param)
    if "parameter" in params:  # any spelling the vocabulary knows: "clearance" is the key CL
        params["parameter"] = _parameter_key(params["parameter"], "--param parameter")
    if query is None:
        _print_queries()
        return
    if db is None:
        raise UsageError("give the store file to query", option="--db")
    with Store(db, read_only=True) as store:
        if curated:
            store.use_curated()
        columns, rows = store.run_query(query, params)
    if fmt == "json":
        records = [{c: _json_value(v) for c, v in zip(columns, r, strict=True)} for r in rows]
        typer.echo(json.dumps(records, indent=2, ensure_ascii=False, default=str))
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in r] for r in rows])
        typer.echo(buf.getvalue(), nl=False)
    else:
        print_table(f"{query} ({len(rows)} rows)", columns, [[_cell(v) for v in r] for r in rows])


def _parameter_key(name: str, option: str) -> str:
    """The stored key for a parameter name a user typed, said on stderr when it differs."""
    try:
        key = resolve_parameter_name(name).key
    except UsageError as exc:
        raise UsageError(exc.message, option=option) from None
    if key != name:
        err_console.print(f"{option} {name!r}: parameter key {key}", highlight=False)
    return key


def print_table(title: str, columns: list[str], rows: list[list[str]],
                caption: str | None = None) -> None:
    """A table when it fits the console; otherwise one block of ``column  value`` lines per
    row (psql's expanded display), since a wide summary squeezed into 80 columns folds every
    cell to a letter or two."""
    table = Table(title=title, caption=caption)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*r)
    natural = Measurement.get(console, console.options.update(max_width=10_000), table).maximum
    if natural <= console.width:
        console.print(table)
        return
    console.print(Text(f"{title}, one block per row (the table is wider than the console)",
                       style="italic"))
    for i, r in enumerate(rows, 1):
        block = Table.grid(padding=(0, 2))
        block.add_column(style="bold", no_wrap=True)
        block.add_column(overflow="fold")
        for c, v in zip(columns, r, strict=True):
            block.add_row(c, v)
        console.print(Text(f"-[ row {i} ]-", style="dim"))
        console.print(block)
    if caption:
        console.print(Text(caption, style="italic"))


@app.command("export")
@handle_errors
def export_cmd(
    db: Path = typer.Option(..., "--db", help=_DB_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="File to write (overwritten)."),
    fmt: str = typer.Option("parquet", "--format", "-f", help="parquet or csv."),
    drug: list[str] = typer.Option([], "--drug", help="Only this drug (repeat; any case)."),
    parameter: list[str] = typer.Option(
        [], "--parameter",
        help="Only this parameter (repeat): a key (CL) or any name the vocabulary knows"
        " (clearance, Vd, half-life).",
    ),
    curated: bool = typer.Option(False, "--curated", help=_CURATED_HELP),
) -> None:
    """Export measurements with their sentence, article and run provenance to Parquet or CSV."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"must be one of {', '.join(EXPORT_FORMATS)}", option="--format")
    keys = [_parameter_key(p, "--parameter") for p in parameter]
    with Store(db, read_only=True) as store:
        if curated:
            store.use_curated()
        n = store.export(out, fmt, drugs=drug, parameters=keys)
    console.print(f"Exported {n} measurement(s) to {out}", highlight=False)


def _sentence_text(text: str, view_mentions: tuple[Any, ...]) -> Text:
    rich_text = Text(text)
    for e in view_mentions:
        if 0 <= e.start < e.end <= len(text):
            rich_text.stylize(LABEL_STYLES.get(e.label, DEFAULT_LABEL_STYLE), e.start, e.end)
    return rich_text


def _render(view: ArticleView) -> None:
    a = view.article
    console.print(Text(a.title, style="bold"))
    where = ", ".join(str(x) for x in (a.journal, a.year) if x)
    console.print(
        Text(f"PMID {a.pmid}  {where}  {view.url}  model {view.model_version}", style="dim")
    )
    if a.fulltext_status is not None:
        console.print(Text(f"full text: {a.fulltext_status}  {a.pmcid or ''}", style="dim"))
    legend = Text("labels: ")
    for label, style in LABEL_STYLES.items():
        legend.append(label, style=style)
        legend.append(" ")
    console.print(legend)
    for s in view.sentences:
        score = "" if s.pk_score is None else f" pk={s.pk_score:.2f}"
        kept = "" if s.kept else " (filtered out)"
        console.print(Text(f"[{s.index}] {s.section}{score}{kept}", style="dim"))
        console.print(_sentence_text(s.text, s.mentions), soft_wrap=True)
        for m in s.measurements:
            console.print(_measurement_line(m), soft_wrap=True)
    for table in view.tables:
        _render_table(table, [m for m in view.table_measurements if m.table_id == table.table_id])


def _measurement_line(m: records.Measurement) -> Text:
    line = Text("    → ")
    line.append(m.parameter_text, style=LABEL_STYLES["PK"])
    if m.parameter:
        line.append(f" ({m.parameter})")
    line.append(" = ")
    line.append(f"{m.comparator or ''}{m.value_text or '?'}", style=LABEL_STYLES["VALUE"])
    if m.unit_text:
        line.append(" ")
        line.append(m.unit_text, style=LABEL_STYLES["UNITS"])
    if m.value_canonical is not None:
        line.append(f"  ⇒ {m.value_canonical:.6g} {m.unit or ''}")
    extras = [
        str(x)
        for x in (
            m.measurement_type,
            m.statistic,
            m.deviation_type,
            m.group_label and f"group {m.group_label}",
            m.n is not None and f"n={m.n}",
            m.drug and f"drug {m.drug}",
        )
        if x
    ]
    if extras:
        line.append("  " + ", ".join(extras), style="dim")
    study = _study_context(m)
    if study:
        line.append("  study: " + study, style="dim")
    if m.flags:
        line.append("  flags: " + "; ".join(m.flags), style="red")
    return line


def _study_context(m: records.Measurement) -> str:
    """The study context of a measurement, e.g. "elderly, patients, critical_illness, human,
    oral, dose 500 mg" (see pkharvest.study)."""
    parts = [m.age_group, m.population, *(m.conditions or []), m.species, m.route,
             m.dose_text and f"dose {m.dose_text}"]
    return ", ".join(str(p) for p in parts if p)


def _render_table(table: records.ArticleTable, measurements: list[records.Measurement]) -> None:
    """A stored full-text table: its header rows as the header, its body rows, its footnotes
    and the measurements read from its cells."""
    title = " ".join(x for x in (table.label, table.caption) if x) or table.table_id
    console.print(Text(f"[{title}] ({table.kind})", style="dim"))
    width = max((len(r) for r in table.grid), default=0)
    head = table.grid[: table.header_rows]
    grid = Table(show_lines=False)
    for c in range(width):
        grid.add_column(Text("\n".join(r[c] for r in head if c < len(r))))
    for r in table.grid[table.header_rows :]:
        grid.add_row(*(Text(x) for x in r), *([Text("")] * (width - len(r))))
    console.print(grid)
    for note in table.footnotes:
        console.print(Text(note, style="dim"), soft_wrap=True)
    for m in measurements:
        line = Text(f"    row {m.row}, col {m.col}")
        line.append_text(_measurement_line(m))
        console.print(line, soft_wrap=True)


@app.command("show")
@handle_errors
def show_cmd(
    pmid: str = typer.Argument(..., help="PubMed id of a stored article."),
    db: Path = typer.Option(..., "--db", help=_DB_HELP),
) -> None:
    """Show a stored article: sentences with entities coloured by label, measurements below,
    then its full-text tables.

    Each sentence is printed with its tagged entities coloured by label (PK, VALUE, UNITS,
    RANGE, COMPARE); the measurements linked in it are listed under it with their canonical
    value, unit, drug, flags and study context (age group, population, conditions, species,
    route, dose). Tables read from the full text (``search --full-text``) are
    printed as grids with their kind and footnotes, each followed by the measurements read from
    its cells (row and column in the body grid, statistic, group, n)."""
    utf8_argument(pmid, "PMID")
    with Store(db, read_only=True) as store:
        view = store.article_view(pmid.strip())
    if view is None:
        raise UsageError(f"{pmid} is not in store {db}", option="PMID")
    _render(view)
