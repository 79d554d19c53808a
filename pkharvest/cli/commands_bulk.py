"""`pkharvest bulk`: PubMed baseline/update XML files (pubmedYYnNNNN.xml.gz) into a store.

Exit codes as `search`: 0 success; 1 a malformed file, model or store error (files finished
before it stay stored); 2 a usage error; 3 the store is locked by another run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from pkharvest.cli import app, console, handle_errors
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
        None, "--model", help="Trained model folder (default: PKHARVEST_MODEL or model/default)."
        " With --engine ray every node reads it at this path."),
    precision: str = typer.Option(
        DEFAULT_PRECISION, "--precision",
        help="Inference precision: int8 (the encoder's Linear layers quantised) or fp32."),
    threshold: float = typer.Option(
        DEFAULT_THRESHOLD, "--threshold", help="bCLS probability a sentence needs to be tagged."),
    engine: str = typer.Option(
        "local", "--engine",
        help="local: this machine (--workers processes); ray: Ray actors (pip install "
        "'pkharvest[ray]')."),
    workers: int = typer.Option(
        1, "--workers", min=1,
        help="Taggers working in parallel, each loading the model once (local: processes; "
        "ray: actors of one CPU). 1 with the local engine tags in this process."),
    address: str | None = typer.Option(
        None, "--address",
        help="Ray cluster to join (auto: the running one); default: start a local Ray."),
    threads: int | None = typer.Option(
        None, "--threads", min=1,
        help="Torch threads per tagger (default: one per core with one local worker, else 1)."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Sentences per batch."),
    chunk: int = typer.Option(
        200, "--chunk", min=1, help="Articles parsed and tagged together (one task a chunk)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Tag every article of PubMed baseline/update files and store the measurements.

    Files are applied in name order, each in one store transaction with its manifest entry
    (name, size, SHA-256, counts, model version); a re-run skips the files already applied
    with the same model, and a killed run resumes with the unfinished file. A DeleteCitation
    removes that PMID's rows and a record in a later file replaces the earlier version.
    """
    from pkharvest.bulk import ModelSpec, baseline_files, run_bulk
    from pkharvest.bulk.workers import check_engine
    from pkharvest.cli.commands_pipeline import _progress
    from pkharvest.errors import UsageError
    from pkharvest.model.tagger import check_precision
    from pkharvest.screen import validate_threshold
    from pkharvest.store import Store

    check_precision(precision)
    validate_threshold(threshold)
    check_engine(engine, workers, address)
    files = baseline_files(paths)  # usage errors before the store or the model
    single = engine == "local" and workers == 1
    spec = ModelSpec(model or default_model_dir(), precision, threshold, batch_size,
                     threads if threads is not None else (None if single else 1))
    if not spec.model_dir.exists():  # said before a pool or Ray starts
        raise UsageError(f"no trained model at {spec.model_dir}", field="model")

    with Store(db) as store, _progress(not as_json) as progress:
        summary = run_bulk(files, store, spec, engine=engine, workers=workers, address=address,
                           chunk=chunk, progress=progress)
    if as_json:
        out = {"db": str(db), "engine": engine, "workers": workers,
               "model_version": summary.model_version, "counts": summary.counts(),
               "files": [vars(f) for f in summary.files]}
        sys.stdout.write(json.dumps(out, default=str) + "\n")
        return
    c = summary.counts()
    skipped = f", {c['skipped']} already applied" if c["skipped"] else ""
    console.print(f"{c['files']} files{skipped}, {c['articles']} articles ({c['deleted']} "
                  f"deleted), {c['sentences_kept']}/{c['sentences']} sentences tagged, "
                  f"{c['measurements']} measurements in {c['seconds']:.1f} s → {db}",
                  highlight=False)
