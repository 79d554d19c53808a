"""`pkharvest search|refresh`: from a PubMed query to linked, normalised PK measurements.

Exit codes (fit for cron and systemd timers): 0 success; 1 a fetch, model or store error (what
was stored before it stays); 2 a usage error (bad option); 3 the store is locked by another run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pkharvest.cli import app, console, err_console, handle_errors, utf8_argument
from pkharvest.errors import UsageError
from pkharvest.filter import DEFAULT_THRESHOLD
from pkharvest.model.config import DEFAULT_PRECISION
from pkharvest.paths import default_model_dir
from pkharvest.records import Measurement

DEFAULT_DB = "pkharvest.duckdb"
TABLE_ROWS = 50


# Options shared by `search` and `refresh` (Typer reads these as plain defaults).
_MODEL_OPT = typer.Option(
    None,
    "--model",
    help="Trained model folder (default: PKHARVEST_MODEL or the project's model/default).",
)
_URL_OPT = typer.Option(
    None, "--eutils-url", help="E-utilities base URL (env PKHARVEST_EUTILS_URL; default NCBI's)."
)
_EMAIL_OPT = typer.Option(None, "--email", help="Contact e-mail for NCBI (NCBI_EMAIL).")
_API_KEY_OPT = typer.Option(None, "--api-key", help="NCBI API key (NCBI_API_KEY).")
_RECORD_OPT = typer.Option(None, "--record", help="Keep every raw response here.")
_REPLAY_OPT = typer.Option(None, "--replay", help="Run offline from a recording.")
_THRESHOLD_OPT = typer.Option(
    DEFAULT_THRESHOLD, "--threshold", help="bCLS probability a sentence needs to be tagged."
)
_FETCH_BATCH_OPT = typer.Option(
    100,
    "--fetch-batch",
    min=1,
    max=10000,
    help="Articles per EFetch request and per store transaction.",
)
_JSON_OPT = typer.Option(False, "--json", help="Print one JSON object, no table.")
_PRECISION_OPT = typer.Option(
    DEFAULT_PRECISION,
    "--precision",
    help="Inference precision: int8 (the encoder's Linear layers quantised; faster on a CPU) or "
    "fp32 (the weights as trained). The store records which one produced its rows.",
)


@contextmanager
def _progress(enabled: bool) -> Iterator:
    """A rich progress bar fed by the pipeline's (stage, advance, total) callback."""
    if not enabled:
        yield lambda stage, advance, total: None
        return
    bars = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )
    tasks: dict[str, int] = {}

    def update(stage: str, advance: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], advance=advance, total=total)

    with bars:
        yield update


def _client(eutils_url, email, api_key, record, replay):  # type: ignore[no-untyped-def]
    from pkharvest.fetch import EutilsClient

    if record is not None and replay is not None:
        raise UsageError("use either --record or --replay, not both", option="--replay")
    if replay is not None and not Path(replay).is_dir():
        raise UsageError(f"no recording folder at {replay}", option="--replay")
    return EutilsClient(
        base_url=eutils_url, email=email, api_key=api_key, record_dir=record, replay_dir=replay
    )


def _table(measurements: list[Measurement], title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for col in ("PMID", "drug", "parameter", "as written", "value", "unit", "canonical", "flags"):
        table.add_column(col, overflow="fold")
    for m in measurements[:TABLE_ROWS]:
        canonical = ""
        if m.value_canonical is not None:
            canonical = f"{m.value_canonical:.4g} {m.unit or ''}"
        elif m.value_low_canonical is not None and m.value_high_canonical is not None:
            canonical = f"{m.value_low_canonical:.4g}–{m.value_high_canonical:.4g} {m.unit or ''}"
        table.add_row(
            m.pmid,
            m.drug or "",
            m.parameter or "?",
            m.parameter_text,
            m.value_text or "",
            m.unit_text or "",
            canonical,
            ", ".join(m.flags),
        )
    if len(measurements) > TABLE_ROWS:
        table.caption = f"first {TABLE_ROWS} of {len(measurements)}; query the store for all"
    return table


def _extractor(model: Path | None, threshold: float,  # type: ignore[no-untyped-def]
               precision: str = DEFAULT_PRECISION):
    from pkharvest.model.tagger import check_precision
    from pkharvest.pipeline import Extractor, load_tagger

    check_precision(precision)
    return Extractor(load_tagger(model or default_model_dir(), precision), threshold=threshold)


@app.command("search")
@handle_errors
def search(
    query: str = typer.Argument(..., help='PubMed query, e.g. "vancomycin clearance".'),
    db: Path = typer.Option(Path(DEFAULT_DB), "--db", help="DuckDB store file (created if new)."),
    model: Path | None = _MODEL_OPT,
    max_results: int = typer.Option(200, "--max-results", min=1, help="Most PMIDs to process."),
    eutils_url: str | None = _URL_OPT,
    email: str | None = _EMAIL_OPT,
    api_key: str | None = _API_KEY_OPT,
    record: Path | None = _RECORD_OPT,
    replay: Path | None = _REPLAY_OPT,
    threshold: float = _THRESHOLD_OPT,
    fetch_batch: int = _FETCH_BATCH_OPT,
    precision: str = _PRECISION_OPT,
    as_json: bool = _JSON_OPT,
) -> None:
    """Search PubMed and store every PK parameter value found in the abstracts.

    Articles already processed with the same model are skipped, so re-running a search (or
    resuming a killed one) adds no duplicates.
    """
    from pkharvest.pipeline import check_query, run_search
    from pkharvest.store import Store

    check_query(utf8_argument(query, "QUERY"), option="QUERY")  # before the store is created
    extractor = _extractor(model, threshold, precision)
    client = _client(eutils_url, email, api_key, record, replay)
    with Store(db) as store, _progress(not as_json) as progress:
        summary = run_search(
            query,
            store,
            client,
            extractor,
            max_results=max_results,
            search_options={"max_results": max_results},
            fetch_batch=fetch_batch,
            progress=progress,
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
    console.print(_table(summary.measurements, f"PK measurements for {query!r}"))
    c = summary.counts()
    console.print(
        f"{c['hits']} hits, {c['articles_fetched']} articles processed "
        f"({c['articles_skipped']} already in the store), {c['sentences_kept']}/{c['sentences']} "
        f"sentences tagged, {c['measurements']} measurements → {db}"
    )


@app.command("refresh")
@handle_errors
def refresh(
    db: Path = typer.Option(..., "--db", help="DuckDB store whose saved searches to refresh."),
    model: Path | None = _MODEL_OPT,
    eutils_url: str | None = _URL_OPT,
    email: str | None = _EMAIL_OPT,
    api_key: str | None = _API_KEY_OPT,
    record: Path | None = _RECORD_OPT,
    replay: Path | None = _REPLAY_OPT,
    threshold: float = _THRESHOLD_OPT,
    overlap_days: int = typer.Option(
        7, "--overlap-days", help="Re-query this many days before each search's last run."
    ),
    fetch_batch: int = _FETCH_BATCH_OPT,
    precision: str = _PRECISION_OPT,
    as_json: bool = _JSON_OPT,
) -> None:
    """Re-run every saved search of the store for records added since it last ran.

    Meant for cron / systemd timers: exit 0 on success, 1 on a fetch/model/store error, 2 on a
    usage error, 3 when another run holds the store's lock.
    """
    from pkharvest.pipeline import refresh_searches
    from pkharvest.store import Store

    if not db.exists():
        raise UsageError(f"no store at {db}; run `pkharvest search` first", option="--db")
    extractor = _extractor(model, threshold, precision)
    client = _client(eutils_url, email, api_key, record, replay)
    with Store(db) as store, _progress(not as_json) as progress:
        summaries = refresh_searches(
            store,
            client,
            extractor,
            overlap_days=overlap_days,
            fetch_batch=fetch_batch,
            progress=progress,
        )
    if as_json:
        out = [{"query": s.query, "run_id": s.run_id, "counts": s.counts()} for s in summaries]
        sys.stdout.write(json.dumps(out, ensure_ascii=False, default=str) + "\n")
        return
    table = Table(title=f"Refreshed {len(summaries)} saved search(es)")
    for col in ("query", "hits", "new articles", "measurements"):
        table.add_column(col)
    for s in summaries:
        c = s.counts()
        table.add_row(s.query, str(c["hits"]), str(c["articles_fetched"]), str(c["measurements"]))
    console.print(table)
