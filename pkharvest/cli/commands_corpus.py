"""`pkharvest corpus ...`: fetch published corpora, inspect a corpus file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from pkharvest.cli import app, console, err_console, handle_errors
from pkharvest.cli.progress import download_progress
from pkharvest.corpus.reader import apply_view, corpus_stats, read_corpus_report
from pkharvest.corpus.records import VIEWS
from pkharvest.corpus.zenodo import DEFAULT_ZENODO_URL, ENV_ZENODO_URL, RECORDS, fetch_corpus
from pkharvest.errors import UsageError

corpus_app = typer.Typer(
    help="Annotated PK corpora: download the published ones, inspect a corpus file.",
    no_args_is_help=True,
)
app.add_typer(corpus_app, name="corpus")


@corpus_app.command("fetch")
@handle_errors
def fetch(
    name: str = typer.Argument(
        ..., help=f"Which corpus: {' or '.join(RECORDS)} (Zenodo records "
        f"{', '.join(f'{k}={v}' for k, v in RECORDS.items())})."),
    dest: Path | None = typer.Option(
        None, "--dest", help="Folder to download into (default: <cache>/corpora/NAME)."),
    zenodo_url: str | None = typer.Option(
        None, "--zenodo-url", envvar=ENV_ZENODO_URL,
        help=f"Zenodo base URL (default: {DEFAULT_ZENODO_URL})."),
    force: bool = typer.Option(False, "--force", help="Download again even if up to date."),
) -> None:
    """Download a published corpus from Zenodo, verifying its MD5 checksums."""
    if name not in RECORDS:
        raise UsageError(f"unknown corpus {name!r} (expected one of {', '.join(RECORDS)})",
                         option="NAME")
    with download_progress(err_console) as view:
        paths = fetch_corpus(name, dest=dest, base_url=zenodo_url, force=force, progress=view)
    for p in paths:
        console.print(str(p), highlight=False, soft_wrap=True)


@corpus_app.command("stats")
@handle_errors
def stats(
    path: Path | None = typer.Argument(
        None, help="A Prodigy JSONL corpus (default: PKHARVEST_CORPUS, the shared sentences or "
        "a fetched PRED dev split)."),
    view: str = typer.Option(
        "full", "--view", help=f"Labels to count: {' or '.join(VIEWS)} (pk keeps PK spans)."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Skip malformed lines (with a warning) instead of stopping."),
) -> None:
    """Count sentences, articles, spans per label and relations of a corpus file."""
    if view not in VIEWS:
        raise UsageError(f"unknown view {view!r} (expected one of {', '.join(VIEWS)})",
                         option="--view")
    report = read_corpus_report(path, errors="skip" if skip_bad else "strict")
    st = corpus_stats(apply_view(report.examples, view))
    console.print(f"{report.path} (view: {view})", highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("sentences", str(st.sentences))
    table.add_row("  with spans", str(st.positives))
    table.add_row("  without spans", str(st.negatives))
    table.add_row("articles", str(st.articles))
    for label, n in st.label_counts.items():
        if label in VIEWS[view] or n:
            table.add_row(f"spans {label}", str(n))
    for label, n in st.relation_counts.items():
        table.add_row(f"relations {label}", str(n))
    if report.rejected:
        table.add_row("rejected/ignored lines", str(report.rejected))
    if report.skipped:
        table.add_row("malformed lines skipped", str(len(report.skipped)))
    console.print(table)
