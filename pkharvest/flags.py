"""Which flags leave a stored value out of summaries and pooling by default.

A flag is ``name`` or ``name:detail`` (``negative_value:CL``). Every flag says that a value may
not be what a reader takes it for -- read from another study (``cited``), an in-vitro or
stability figure (``in_vitro``), a drug taken only from the search query (``drug_from_query``),
a sign impossible for the parameter (``negative_value``), a unit that did not parse or fit --
so a flagged value is left out of the ``parameter_summary`` view and of ``pkharvest pool``
unless asked for. The exception are the flags named in :data:`KEPT_FLAGS`: they describe a value
without doubting it (``covariate``: a creatinine clearance is a correct value of its own
parameter, only not a PK parameter of the drug, and is summarised under its own key).

A flag this list does not know (one written by a newer version, or by hand) leaves the value out.
This module is the one definition: the store's views and ``queries/pool_measurements.sql`` use
:func:`left_out_sql` through the ``left_out_by_flags`` column of the ``evidence`` view.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["KEPT_FLAGS", "flag_name", "left_out", "left_out_sql"]

# Flag names that do not leave a value out (see the module doc).
KEPT_FLAGS: tuple[str, ...] = ("covariate",)


def flag_name(flag: str) -> str:
    """The name of a flag: the part before the first ``:``."""
    return flag.split(":", 1)[0]


def left_out(flags: Iterable[str] | None) -> bool:
    """Whether a value with ``flags`` is left out of summaries and pooling by default."""
    return any(flag_name(f) not in KEPT_FLAGS for f in flags or () if f is not None)


def left_out_sql(column: str = "flags") -> str:
    """A DuckDB boolean expression over a ``VARCHAR[]`` flags column: :func:`left_out`."""
    kept = ", ".join("'" + name.replace("'", "''") + "'" for name in KEPT_FLAGS)
    return (f"(len([f FOR f IN coalesce({column}, []) "
            f"IF split_part(f, ':', 1) NOT IN ({kept})]) > 0)")
