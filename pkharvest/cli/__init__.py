"""The ``pkharvest`` command line: thin Typer commands over the library.

Each command group lives in its own module and registers itself on ``app``; domain errors
(:class:`pkharvest.errors.PkHarvestError`) become one-line messages with an exit code.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from pkharvest import __version__
from pkharvest.errors import PkHarvestError, UsageError

app = typer.Typer(
    name="pkharvest",
    help="Harvest pharmacokinetic parameters from PubMed into a DuckDB store.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Markup off: what the consoles print is user and article text (queries, sentences, SQL
# results, file names), where "[ng/mL]" or "[/x]" must print as written, never be read as a
# style tag; styling is given as rich Text styles instead.
err_console = Console(stderr=True, markup=False)
console = Console(markup=False)


def _version(value: bool) -> None:
    if value:
        console.print(f"pkharvest {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Harvest pharmacokinetic parameters from PubMed into a DuckDB store."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def fail(exc: PkHarvestError) -> typer.Exit:
    """Print a domain error as one line on stderr and return the Exit to raise."""
    from pkharvest.cli.fields import cli_message

    err_console.print(Text.assemble(("Error:", "bold red"), f" {cli_message(exc)}"),
                      highlight=False, soft_wrap=True)
    return typer.Exit(code=exc.exit_code)


def utf8_argument(value: str, option: str) -> str:
    """A command-line text as given, refused (UsageError naming ``option``) when its bytes
    were not UTF-8: Python keeps such bytes as lone surrogates, which the tokenizer, DuckDB and
    Pint cannot take."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        shown = value.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
        raise UsageError(f"not UTF-8 text: '{shown}'", option=option) from None
    return value


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command so that a PkHarvestError ends it with a one-line message."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PkHarvestError as exc:
            raise fail(exc) from None

    return wrapper


# Command modules register their commands on `app` when imported (one module per group).
from pkharvest.cli import (  # noqa: E402
    commands_bulk,
    commands_corpus,
    commands_experiment,
    commands_model,
    commands_pipeline,
    commands_pool,
    commands_review,
    commands_search,
    commands_store,
)

__all__ = [
    "app",
    "commands_bulk",
    "commands_corpus",
    "commands_experiment",
    "commands_model",
    "commands_pipeline",
    "commands_pool",
    "commands_review",
    "commands_search",
    "commands_store",
    "console",
    "err_console",
    "handle_errors",
    "main",
]


def main() -> None:
    try:
        app()
    except PkHarvestError as exc:  # pragma: no cover - commands catch their own
        from pkharvest.cli.fields import cli_message

        err_console.print(f"Error: {cli_message(exc)}")
        sys.exit(exc.exit_code)
