"""The one table from the fields the library's errors name (``PkHarvestError.field``: a
dataclass field or parameter) to the command-line option or argument a user sets them with.

A field without an entry is shown as the library names it (a training option of
``experiment run --set``, an environment variable)."""

from __future__ import annotations

from pkharvest.errors import PkHarvestError

FIELD_OPTIONS: dict[str, str] = {
    "address": "--address",
    "augment": "--augment",
    "average_last": "--average-last",
    "batch_size": "--batch-size",
    "chunk": "--chunk",
    "corpus": "--corpus",
    "db": "--db",
    "dest": "--dest",
    "engine": "--engine",
    "device": "--device",
    "drug": "--drug",
    "encoder": "--encoder",
    "ensemble": "--ensemble",
    "epochs": "--epochs",
    "eutils_url": "--eutils-url",
    "fetch_batch": "--fetch-batch",
    "folds": "--folds",
    "format": "--format",
    "fraction": "--fraction",
    "fractions": "--fractions",
    "input": "--input",
    "lr": "--lr",
    "max_length": "--max-length",
    "max_results": "--max-results",
    "mention_swap": "--mention-swap",
    "method": "--method",
    "metric": "--metric",
    "min_steps": "--min-steps",
    "model": "--model",
    "options": "--set",
    "out": "--out",
    "overlap_days": "--overlap-days",
    "param": "--param",
    "paths": "PATH",
    "parameter": "--parameter",
    "patience": "--patience",
    "plot": "--plot",
    "precision": "--precision",
    "preset": "--preset",
    "query": "QUERY",
    "record": "--record",
    "refit": "--refit",
    "replay": "--replay",
    "seed": "--seed",
    "seeds": "--seeds",
    "shard": "--shard",
    "similarity_batches": "--similarity-batches",
    "split": "--split",
    "threads": "--threads",
    "step_seconds": "--step-seconds",
    "threshold": "--threshold",
    "view": "--view",
    "views": "--views",
    "weighting": "--weighting",
    "workers": "--workers",
    "weightings": "--weightings",
    "zenodo_url": "--zenodo-url",
}


def option_for(field: str) -> str:
    """The option (or argument) that sets ``field``; the field itself when none does."""
    return FIELD_OPTIONS.get(field, field)


def cli_message(exc: PkHarvestError) -> str:
    """``exc`` as the command line reports it: the option in front of the message."""
    where = exc.option or (option_for(exc.field) if exc.field else None)
    return f"{where}: {exc.message}" if where else exc.message
