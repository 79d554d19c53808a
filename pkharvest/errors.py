"""Domain exceptions. The CLI turns each into a one-line message (and an exit code).

Every error says *what* was wrong and *where* (file and line, PMID, the field or parameter that
holds the bad value) so that a user can fix the input without reading a traceback. The library
names fields (``field="batch_size"``); the command line shows the option a field comes from
(``pkharvest.cli.fields``).
"""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its class name when it has none): libraries
    such as DuckDB and huggingface_hub write messages over several lines, while an error
    reported to a user is one line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PkHarvestError(Exception):
    """Base class of every error pkharvest reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, field: str | None = None,
                 option: str | None = None) -> None:
        super().__init__(message)
        #: the dataclass field or parameter that holds the bad value (library errors)
        self.field = field
        #: the command-line option or argument (errors raised by the command line itself)
        self.option = option

    @property
    def message(self) -> str:
        """The message without the field or option in front."""
        return super().__str__()

    def __str__(self) -> str:  # pragma: no cover - trivial
        where = self.option or self.field
        return f"{where}: {self.message}" if where else self.message


class UsageError(PkHarvestError):
    """An option, argument or field has an invalid value (names it)."""

    exit_code = 2


class CorpusError(PkHarvestError):
    """A corpus file is missing or malformed."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class ModelError(PkHarvestError):
    """A model folder is missing, incomplete or incompatible."""


class FetchError(PkHarvestError):
    """E-utilities (or another remote source) could not be reached or returned bad data."""


class StoreError(PkHarvestError):
    """The DuckDB store is corrupt, foreign, locked or a write failed."""


class NormalisationError(PkHarvestError):
    """A unit or parameter could not be normalised (used internally; stored as a reason)."""


class StoreLockedError(StoreError):
    """Another run holds the store's lock (exit code 3, so cron/systemd can tell it apart)."""

    exit_code = 3
