"""`pkharvest bulk`: PubMed baseline/update XML files (pubmedYYnNNNN.xml.gz) into a store.

Exit codes as `search`: 0 success; 1 a malformed file, model or store error (files finished
before it stay stored); 2 a usage error; 3 the store is locked by another run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from pkharvest.cli import app, console, err_console, handle_errors
from pkharvest.model.config import DEFAULT_PRECISION
from pkharvest.paths import default_model_dir
from pkharvest.screen import DEFAULT_THRESHOLD


@app.command("bulk")
@handle_errors
def bulk(
    paths: list[Path] = typer.Argument(
        ..., help="Baseline/update files (.xml.gz or .xml) or folders holding them."),
    db: Path = typer.Option(..., "--db", help="DuckDB store file (created if new)."),
    model: Path | None = typer.Option(
        None, "--model", help="Trained model folder (default: PKHARVEST_MODEL or model/default)."),
    precision: str = typer.Option(
        DEFAULT_PRECISION, "--precision",
        help="Inference precision: int8 (the encoder's Linear layers quantised) or fp32."),
    threshold: float = typer.Option(
        DEFAULT_THRESHOLD, "--threshold", help="bCLS probability a sentence needs to be tagged."),
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="Torch threads (default: one per core)."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Sentences per batch."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Tag every article of PubMed baseline/update files and store the measurements.

    Files are processed in name order, each in one store transaction; a DeleteCitation removes
    that PMID's rows and a record in a later file replaces the earlier version.
    """
    from pkharvest.bulk import baseline_files, run_bulk
    from pkharvest.model.tagger import check_precision, set_threads
    from pkharvest.pipeline import Extractor, load_tagger
    from pkharvest.store import Store

    check_precision(precision)
    files = baseline_files(paths)  # usage errors before the store or the model
    set_threads(threads)
    extractor = Extractor(load_tagger(model or default_model_dir(), precision),
                          threshold=threshold, batch_size=batch_size)

    def progress(name: str, done: int, total: int, articles: int) -> None:
        if not as_json:
            err_console.print(f"[{done}/{total}] {name}: {articles} articles", highlight=False)

    with Store(db) as store:
        summary = run_bulk(files, store, extractor, progress=progress)
    if as_json:
        out = {"db": str(db), "counts": summary.counts(),
               "files": [vars(f) for f in summary.files]}
        sys.stdout.write(json.dumps(out, default=str) + "\n")
        return
    c = summary.counts()
    console.print(f"{c['files']} files, {c['articles']} articles ({c['deleted']} deleted), "
                  f"{c['sentences_kept']}/{c['sentences']} sentences tagged, "
                  f"{c['measurements']} measurements → {db}")
