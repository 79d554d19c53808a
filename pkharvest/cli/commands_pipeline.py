"""`pkharvest search|refresh`: from a PubMed query to linked, normalised PK measurements.

Exit codes (fit for cron and systemd timers): 0 success; 1 a fetch, model or store error (what
was stored before it stays); 2 a usage error (bad option); 3 the store is locked by another run.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pkharvest.cli import app, console, err_console, handle_errors, utf8_argument
from pkharvest.cli.commands_store import print_table
from pkharvest.cli.progress import ProgressView
from pkharvest.errors import UsageError
from pkharvest.harvest_options import HarvestOptions
from pkharvest.model.config import DEFAULT_PRECISION
from pkharvest.pipeline import (
    DEFAULT_FETCH_BATCH,
    DEFAULT_MAX_RESULTS,
    DEFAULT_REFRESH_OVERLAP_DAYS,
)
from pkharvest.records import Measurement
from pkharvest.screen import DEFAULT_THRESHOLD

DEFAULT_DB = "pkharvest.duckdb"
TABLE_ROWS = 50


def harvest_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` the options of :class:`HarvestOptions` (model, E-utilities access,
    threshold, fetch batch), written once here for ``search`` and ``refresh``: the command
    declares ``options: HarvestOptions`` and receives them as one object."""
    shared = [
        ("model", Path | None, typer.Option(
            None, "--model",
            help="Trained model folder (default: PKHARVEST_MODEL or the project's "
            "model/default).")),
        ("eutils_url", str | None, typer.Option(
            None, "--eutils-url",
            help="E-utilities base URL (env PKHARVEST_EUTILS_URL; default NCBI's).")),
        ("email", str | None, typer.Option(
            None, "--email", help="Contact e-mail for NCBI (NCBI_EMAIL).")),
        ("api_key", str | None, typer.Option(
            None, "--api-key", help="NCBI API key (NCBI_API_KEY).")),
        ("record", Path | None, typer.Option(
            None, "--record", help="Keep every raw response here.")),
        ("replay", Path | None, typer.Option(
            None, "--replay", help="Run offline from a recording.")),
        ("threshold", float, typer.Option(
            DEFAULT_THRESHOLD, "--threshold",
            help="bCLS probability a sentence needs to be tagged.")),
        ("fetch_batch", int, typer.Option(
            DEFAULT_FETCH_BATCH, "--fetch-batch", min=1, max=10000,
            help="Articles per EFetch request and per store transaction.")),
        ("precision", str, typer.Option(
            DEFAULT_PRECISION, "--precision",
            help="Inference precision: fp32 (the weights as trained) or int8 (the encoder's "
            "Linear layers quantised; faster on a CPU). The store records which one produced "
            "its rows.")),
    ]
    names = [name for name, _, _ in shared]
    own = inspect.signature(command, eval_str=True)
    params = [p for p in own.parameters.values() if p.name != "options"]
    added = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=option,
                               annotation=kind) for name, kind, option in shared]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        options = HarvestOptions(**{name: kwargs.pop(name) for name in names})
        return command(*args, options=options, **kwargs)

    # the command's own parameters first, then the shared ones, --json last
    tail = [p for p in params if p.name == "as_json"]
    ordered = [p for p in params if p.name != "as_json"] + added + tail
    wrapper.__signature__ = own.replace(parameters=ordered)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in ordered}
    return wrapper


_JSON_OPT = typer.Option(False, "--json", help="Print one JSON object, no table.")


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressView | None]:
    """The pipeline's progress events as rich bars on stderr (lines when it is not a
    terminal); nothing with ``--json``."""
    if not enabled:
        yield None
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with ProgressView(err_console, columns=columns, transient=False) as view:
        yield view


def _print_measurements(measurements: list[Measurement], title: str) -> None:
    """The measurements as a table when it fits the console, else one block per row (as
    ``query`` does): at 80 columns eight columns would break PMIDs and drug names."""
    columns = ["PMID", "drug", "parameter", "as written", "value", "unit", "canonical", "flags"]
    rows = []
    for m in measurements[:TABLE_ROWS]:
        canonical = ""
        if m.value_canonical is not None:
            canonical = f"{m.value_canonical:.4g} {m.unit or ''}"
        elif m.value_low_canonical is not None and m.value_high_canonical is not None:
            canonical = f"{m.value_low_canonical:.4g}–{m.value_high_canonical:.4g} {m.unit or ''}"
        rows.append([m.pmid, m.drug or "", m.parameter or "?", m.parameter_text,
                     m.value_text or "", m.unit_text or "", canonical, ", ".join(m.flags)])
    caption = None
    if len(measurements) > TABLE_ROWS:
        caption = f"first {TABLE_ROWS} of {len(measurements)}; query the store for all"
    print_table(title, columns, rows, caption)


@app.command("search")
@handle_errors
@harvest_options
def search(
    query: str = typer.Argument(..., help='PubMed query, e.g. "vancomycin clearance".'),
    db: Path = typer.Option(Path(DEFAULT_DB), "--db", help="DuckDB store file (created if new)."),
    max_results: int = typer.Option(
        DEFAULT_MAX_RESULTS, "--max-results", min=1, help="Most PMIDs to process."),
    full_text: bool = typer.Option(
        False, "--full-text",
        help="Also read the PubMed Central open-access full text of articles with a PMC id: "
        "body sentences and PK tables (remembered with the saved search, so refresh does the "
        "same)."),
    as_json: bool = _JSON_OPT,
    *,
    options: HarvestOptions,
) -> None:
    """Search PubMed and store every PK parameter value found in the abstracts (with
    --full-text also in the open-access full text: body sentences and PK table cells).

    Articles already processed with the same model are skipped, so re-running a search (or
    resuming a killed one) adds no duplicates. An article outside the PMC open-access subset
    keeps its abstract and is stored with full-text status "unavailable".
    """
    from pkharvest.pipeline import check_query, run_search
    from pkharvest.store import Store

    check_query(utf8_argument(query, "QUERY"))  # before the store is created
    extractor = options.extractor()
    client = options.client()
    with Store(db) as store, _progress(not as_json) as progress:
        summary = run_search(
            query,
            store,
            client,
            extractor,
            max_results=max_results,
            search_options={"max_results": max_results},
            fetch_batch=options.fetch_batch,
            progress=progress,
            full_text=full_text,
        )
    if as_json:
        out = {
            "query": query,
            "db": str(db),
            "run_id": summary.run_id,
            "counts": summary.counts(),
            "measurements": [asdict(m) for m in summary.measurements],
        }
        sys.stdout.write(json.dumps(out, ensure_ascii=False, default=str) + "\n")
        return
    _print_measurements(summary.measurements, f"PK measurements for {query!r}")
    c = summary.counts()
    console.print(
        f"{c['hits']} hits, {c['articles_fetched']} articles processed "
        f"({c['articles_skipped']} already in the store), {c['sentences_kept']}/{c['sentences']} "
        f"sentences tagged, {c['measurements']} measurements → {db}"
    )
    if summary.full_text:
        console.print(_full_text_line(c))


def _full_text_line(c: dict[str, Any]) -> str:
    """The summary line of what the full text added."""
    malformed = c["fulltext_malformed"]
    return (
        f"full text: {c['fulltext_open']} open, {c['fulltext_unavailable']} unavailable, "
        f"{c['fulltext_none']} without a PMC id"
        + (f", {malformed} malformed (asked again next run)" if malformed else "")
        + f"; {c['fulltext_body_sentences']} body sentences, {c['fulltext_body_measurements']} "
        f"body measurements, {c['fulltext_tables']} tables, {c['fulltext_table_measurements']} "
        "table measurements"
    )


@app.command("refresh")
@handle_errors
@harvest_options
def refresh(
    db: Path = typer.Option(..., "--db", help="DuckDB store whose saved searches to refresh."),
    overlap_days: int = typer.Option(
        DEFAULT_REFRESH_OVERLAP_DAYS, "--overlap-days",
        help="Re-query this many days before each search's last run."
    ),
    as_json: bool = _JSON_OPT,
    *,
    options: HarvestOptions,
) -> None:
    """Re-run every saved search of the store for records added since it last ran.

    Meant for cron / systemd timers: exit 0 on success, 1 on a fetch/model/store error, 2 on a
    usage error, 3 when another run holds the store's lock.
    """
    from pkharvest.pipeline import refresh_searches
    from pkharvest.store import Store

    if not db.exists():
        raise UsageError(f"no store at {db}; run `pkharvest search` first", option="--db")
    extractor = options.extractor()
    client = options.client()
    with Store(db) as store, _progress(not as_json) as progress:
        summaries = refresh_searches(
            store,
            client,
            extractor,
            overlap_days=overlap_days,
            fetch_batch=options.fetch_batch,
            progress=progress,
        )
    if as_json:
        out = [{"query": s.query, "run_id": s.run_id, "counts": s.counts()} for s in summaries]
        sys.stdout.write(json.dumps(out, ensure_ascii=False, default=str) + "\n")
        return
    table = Table(title=f"Refreshed {len(summaries)} saved search(es)")
    for col in ("query", "hits", "new articles", "measurements", "from tables"):
        table.add_column(col)
    for s in summaries:
        c = s.counts()
        from_tables = str(c["fulltext_table_measurements"]) if s.full_text else "–"
        table.add_row(s.query, str(c["hits"]), str(c["articles_fetched"]), str(c["measurements"]),
                      from_tables)
    console.print(table)
