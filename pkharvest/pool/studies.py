"""Reading study summaries curated by hand from a CSV file.

The header is ``study,group,statistic,estimate,deviation_type,deviation,low,high,n,unit`` (in
any order). Empty cells are missing values. A line that cannot be read (a number that is no
number, an unknown statistic or deviation type, a unit Pint cannot read) raises
:class:`PoolError` naming ``file:line`` and the column; values that can be read but not pooled
(no n, no dispersion) are left to pooling, which excludes them with the reason.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from pkharvest.normalise.units import parse_unit
from pkharvest.pool.records import DEVIATION_TYPES, STATISTICS, PoolError, StudyRow

COLUMNS = (
    "study", "group", "statistic", "estimate", "deviation_type", "deviation", "low", "high",
    "n", "unit",
)  # fmt: skip


def _float(text: str, column: str, path: str, line: int) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise PoolError(f"column {column}: not a number: {text!r}", path=path, line=line) from None
    if not math.isfinite(value):
        raise PoolError(f"column {column}: not a finite number: {text!r}", path=path, line=line)
    return value


def _int(text: str, column: str, path: str, line: int) -> int | None:
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise PoolError(
            f"column {column}: not a whole number: {text!r}", path=path, line=line
        ) from None
    if value < 1:
        raise PoolError(f"column {column}: must be at least 1: {text!r}", path=path, line=line)
    return value


def _choice(text: str, column: str, allowed: tuple[str, ...], path: str, line: int) -> str | None:
    value = text.lower()
    if not value:
        return None
    if value not in allowed:
        raise PoolError(
            f"column {column}: {text!r} is not one of {', '.join(allowed)}", path=path, line=line
        )
    return value


def read_studies_csv(path: str | Path) -> list[StudyRow]:
    """The study rows of a CSV file (see the module docstring); ``facets["group"]`` is the
    group column."""
    name = str(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            try:
                header = next(reader)
            except StopIteration:
                raise PoolError("empty file (expected a header line)", path=name) from None
            header = [h.strip().lower() for h in header]
            missing = [c for c in COLUMNS if c not in header]
            unknown = [h for h in header if h not in COLUMNS]
            if missing or unknown or len(set(header)) != len(header):
                detail = "; ".join(
                    p for p in (
                        f"missing {', '.join(missing)}" if missing else "",
                        f"unknown {', '.join(unknown)}" if unknown else "",
                        "a column named twice" if len(set(header)) != len(header) else "",
                    ) if p
                )  # fmt: skip
                raise PoolError(
                    f"header: {detail} (expected {','.join(COLUMNS)})", path=name, line=1
                )
            rows: list[StudyRow] = []
            for cells in reader:
                line = reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    raise PoolError(
                        f"{len(cells)} fields, expected {len(header)}", path=name, line=line
                    )
                d = {h: c.strip() for h, c in zip(header, cells, strict=True)}
                if not d["study"]:
                    raise PoolError("column study: empty", path=name, line=line)
                unit = d["unit"] or None
                if unit is not None:
                    parsed = parse_unit(unit)
                    if not parsed.ok:
                        raise PoolError(
                            f"column unit: {unit!r}: {parsed.error}", path=name, line=line
                        )
                rows.append(
                    StudyRow(
                        study=d["study"],
                        group=d["group"],
                        statistic=_choice(d["statistic"], "statistic", STATISTICS, name, line),
                        estimate=_float(d["estimate"], "estimate", name, line),
                        deviation_type=_choice(
                            d["deviation_type"], "deviation_type", DEVIATION_TYPES, name, line
                        ),
                        deviation=_float(d["deviation"], "deviation", name, line),
                        low=_float(d["low"], "low", name, line),
                        high=_float(d["high"], "high", name, line),
                        n=_int(d["n"], "n", name, line),
                        unit=unit,
                        where=f"{name}:{line}",
                        facets={"group": d["group"] or None},
                    )
                )
    except FileNotFoundError:
        raise PoolError("no such file", path=name, field="input") from None
    except IsADirectoryError:
        raise PoolError("is a directory, not a CSV file", path=name, field="input") from None
    except UnicodeDecodeError as exc:
        raise PoolError(f"not UTF-8 text (byte {exc.start})", path=name) from None
    except csv.Error as exc:
        raise PoolError(f"malformed CSV: {exc}", path=name) from None
    if not rows:
        raise PoolError("no study rows after the header", path=name)
    return rows
