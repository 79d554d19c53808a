"""`pkharvest experiment run|report`: the low-resource study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from pkharvest.cli import app, console, err_console, handle_errors
from pkharvest.cli.progress import ProgressView
from pkharvest.corpus.splits import DEFAULT_SPLIT
from pkharvest.errors import UsageError

experiment_app = typer.Typer(
    help="The low-resource study: train a grid of configurations, then report statistics.",
    no_args_is_help=True,
)
app.add_typer(experiment_app, name="experiment")


def _parse_set(values: list[str]) -> dict[str, Any]:
    """``--set key=value`` (value read as JSON where it parses, else as a string)."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"expected KEY=VALUE, got {item!r}", option="--set")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip().replace("-", "_")] = value
    return out


@experiment_app.command("run")
@handle_errors
def run(
    out: Path = typer.Option(..., "--out", help="Experiment folder (runs.duckdb is kept here)."),
    corpus: Path | None = typer.Option(
        None, "--corpus", help="Annotated corpus (Prodigy JSONL); default: the shared corpus."
    ),
    preset: str | None = typer.Option(
        None, "--preset",
        help="A predefined study: 'protocol' (the published protocol, 5 seeds; see "
        "docs/experiments.md). Sets the grid and its training options; training options "
        "given here override them.",
    ),
    views: str | None = typer.Option(
        None, "--views", help="Comma list of views: pk, full [default: pk,full]."
    ),
    fractions: str | None = typer.Option(
        None, "--fractions",
        help="Comma list of training fractions in (0, 1] [default: 1,0.75,0.5,0.25,0.1,0.075,"
        "0.05,0.025].",
    ),
    weightings: str | None = typer.Option(
        None, "--weightings",
        help="Comma list of loss weightings (none = NER alone) [default: all four].",
    ),
    seeds: str | None = typer.Option(
        None, "--seeds",
        help="Number of seeds (0..N-1), or a comma list of seeds (e.g. 3,7) [default: 10; "
        "a preset's own].",
    ),
    ablate: bool = typer.Option(
        False, "--ablate", help="Also train each multi-task configuration without each aux head."
    ),
    split: str = typer.Option(
        DEFAULT_SPLIT, "--split", help="Train,dev,test shares of the article-grouped split."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Maximum training epochs."),
    max_length: int | None = typer.Option(None, "--max-length", help="Word pieces per window."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Training batch size."),
    min_steps: int | None = typer.Option(
        None, "--min-steps", help="Minimum optimiser steps (raises epochs on small data)."
    ),
    patience: int | None = typer.Option(None, "--patience", help="Early-stopping patience."),
    encoder: str | None = typer.Option(None, "--encoder", help="Encoder name or path."),
    set_: list[str] = typer.Option(
        [], "--set", help="Any other training option as KEY=VALUE (repeatable), e.g. lr=3e-5."
    ),
    similarity_batches: int = typer.Option(
        8, "--similarity-batches", min=0,
        help="Dev batches for the task-gradient similarity of multi-task runs (0: skip).",
    ),
    shard: str | None = typer.Option(
        None, "--shard",
        help="Train only shard K of N of the grid (K/N, e.g. 1/3): N processes with the same "
        "command and --out, each its own K, train the grid side by side (e.g. on one GPU).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run",
        help="Train nothing: print the runs (per block), how many are stored, the scheduled "
        "optimiser steps and an upper-bound time.",
    ),
    step_seconds: float = typer.Option(
        0.55, "--step-seconds",
        help="Seconds per optimiser step for the --dry-run estimate (default: one thread of "
        "the 2-core development CPU).",
    ),
) -> None:
    """Train every run of the grid not already stored in OUT/runs.duckdb (resumable)."""
    from pkharvest.corpus.splits import parse_split
    from pkharvest.experiment.grid import (
        build_grid,
        parse_fractions,
        parse_seeds,
        parse_views,
        parse_weightings,
    )
    from pkharvest.experiment.protocol import get_preset
    from pkharvest.experiment.runner import run_study

    study = None
    options: dict[str, Any] = {}
    if preset is not None:
        study = get_preset(preset)
        given_grid = {"--views": views, "--fractions": fractions, "--weightings": weightings,
                      "--ablate": ablate or None}  # fmt: skip
        clash = [name for name, value in given_grid.items() if value is not None]
        if clash:
            raise UsageError(f"the preset sets the grid; leave out {', '.join(clash)}",
                             option="--preset")  # fmt: skip
        grid = study.grid(parse_seeds(seeds) if seeds else None)
        options.update(study.options)
    else:
        grid = build_grid(
            parse_views(views or "pk,full"),
            parse_fractions(fractions or "1,0.75,0.5,0.25,0.1,0.075,0.05,0.025"),
            parse_weightings(weightings or "none,fixed,uncertainty,hybrid"),
            parse_seeds(seeds or "10"), ablate=ablate,
        )  # fmt: skip
    options.update(_parse_set(set_))
    given = {"epochs": epochs, "max_length": max_length, "batch_size": batch_size,
             "min_steps": min_steps, "patience": patience, "encoder": encoder}  # fmt: skip
    options.update({k: v for k, v in given.items() if v is not None})
    if shard is not None:
        from pkharvest.experiment.grid import parse_shard, shard_grid

        grid = shard_grid(grid, *parse_shard(shard))
    if dry_run:
        _dry_run(out, corpus, grid, options, parse_split(split), similarity_batches, study,
                 step_seconds)  # fmt: skip
        return

    # the runs on stderr (a bar on a terminal, a line now and then elsewhere), each run's
    # score on stdout
    columns = (SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn())  # fmt: skip
    with ProgressView(err_console, console, columns=columns, transient=False) as view:
        summary = run_study(
            corpus, out, grid, options, split=parse_split(split),
            similarity_batches=similarity_batches, progress=view,
        )  # fmt: skip
    console.print(
        f"{summary.planned} run(s) in the grid: {summary.skipped} already stored, "
        f"{summary.trained} trained now ({summary.wall_time_s / 60:.1f} min). "
        f"Runs are in {out / 'runs.duckdb'}; `pkharvest experiment report {out}` summarises them."
    )


@experiment_app.command("cv")
@handle_errors
def cv(
    out: Path = typer.Option(..., "--out", help="Folder for the fold predictions (resumable)."),
    corpus: Path | None = typer.Option(
        None, "--corpus", help="Annotated corpus (Prodigy JSONL); default: the shared corpus."
    ),
    folds: int = typer.Option(5, "--folds", help="Number of article-grouped folds (>= 2)."),
    seeds: str = typer.Option("13", "--seeds", help="Comma list of training seeds, e.g. 13,2,1."),
    epochs: int | None = typer.Option(None, "--epochs", help="Training epochs."),
    max_length: int | None = typer.Option(None, "--max-length", help="Word pieces per window."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Training batch size."),
    encoder: str | None = typer.Option(None, "--encoder", help="Encoder name or path."),
    set_: list[str] = typer.Option(
        [], "--set", help="Any other training option as KEY=VALUE (repeatable), e.g. lr=3e-5."
    ),
) -> None:
    """Grouped k-fold cross-validation of one training configuration over the train + dev
    sentences (the test split is never touched): out-of-fold F1 per seed, and of the seed
    ensemble when several seeds are given."""
    from pkharvest.experiment.cv import SUMMARY_FILE, run_cv

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"expected a comma list of whole numbers, got {seeds!r}",
                         option="--seeds") from None
    options = _parse_set(set_)
    given = {"epochs": epochs, "max_length": max_length, "batch_size": batch_size,
             "encoder": encoder}  # fmt: skip
    options.update({k: v for k, v in given.items() if v is not None})
    columns = (SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn())  # fmt: skip
    with ProgressView(err_console, console, columns=columns, transient=False) as view:
        summary = run_cv(corpus, out, options, seed_list, folds, progress=view)
    console.print(f"{summary.sentences} train + dev sentences in {summary.folds} folds; "
                  f"out-of-fold micro F1 {summary.micro_mean:.4f} ± {summary.micro_sd:.4f} "
                  f"over {len(summary.jobs)} seed(s)", highlight=False)
    if summary.ensemble is not None:
        console.print(f"seed ensemble: micro {summary.ensemble['micro']:.4f}", highlight=False)
    console.print(f"Scores are in {out / SUMMARY_FILE}.", highlight=False, soft_wrap=True)


def _dry_run(
    out: Path, corpus: Path | None, grid: list, options: dict[str, Any], split: tuple,
    similarity_batches: int, study: Any, step_seconds: float,
) -> None:
    from pkharvest.experiment.protocol import plan_study

    plan = plan_study(corpus, out, grid, options, split=split,
                      similarity_batches=similarity_batches, preset=study,
                      step_seconds=step_seconds)  # fmt: skip
    for block, runs in plan.by_block().items():
        todo = [r for r in runs if not r.stored]
        steps = sum(r.steps for r in todo)
        console.print(
            f"{block}: {len(runs)} run(s), {len(runs) - len(todo)} stored, {len(todo)} to "
            f"train, {steps:,} scheduled step(s), at most {plan.seconds(todo) / 3600:.1f} h",
            highlight=False,
        )
    pending = plan.pending
    console.print(
        f"{len(plan.runs)} run(s) in the grid: {len(plan.runs) - len(pending)} already stored, "
        f"{len(pending)} to train, {sum(r.steps for r in pending):,} scheduled optimiser "
        f"steps; upper bound {plan.seconds() / 3600:.1f} h at {step_seconds:g} s a step "
        "(every run to the end of its schedule; early stopping ends runs sooner). "
        "Nothing was trained.",
        highlight=False,
    )


@experiment_app.command("report")
@handle_errors
def report(
    folder: Path = typer.Argument(..., help="Experiment folder holding runs.duckdb."),
    metric: str = typer.Option(
        "ner.strict.micro.f1", "--metric", help="Stored test score to analyse."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Where report.md and the figures go (default: FOLDER)."
    ),
) -> None:
    """Write FOLDER/report.md and PNG figures from the stored runs only.

    Curves of F1 vs training fraction, seed variance, repeated-measures ANOVA, ablations and
    task-gradient similarity."""
    from pkharvest.experiment.report import write_report

    result = write_report(folder, metric=metric, out_dir=out)
    console.print(
        f"Wrote {result.path} ({result.n_runs} run(s), {len(result.figures)} figure(s))."
    )
