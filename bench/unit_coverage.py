"""Frequency-weighted coverage of unit normalisation over the unit spellings of the PK literature.

Reads ``unit_mention_freqs.csv`` (columns: index, unit_mention, frequency) from the shared
dictionaries folder and reports the share of mention frequency that
:func:`pkharvest.normalise.units.parse_unit` turns into a canonical unit, then lists the spellings
it does not cover (most frequent first).

Usage::

    .venv/bin/python bench/unit_coverage.py [CSV] [--show N]

CSV defaults to ``$PKHARVEST_UNIT_FREQS``, else
``<shared>/data/pk-dictionaries/unit_mention_freqs.csv`` (shared = ``$PKHARVEST_SHARED`` or
``../shared``).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pkharvest.normalise.units import UnitResult, parse_unit
from pkharvest.paths import shared_dir

ENV_FREQS = "PKHARVEST_UNIT_FREQS"
FREQS_RELPATH = Path("data") / "pk-dictionaries" / "unit_mention_freqs.csv"


@dataclass
class Coverage:
    total: int = 0
    covered: int = 0
    uncovered: list[tuple[str, int, UnitResult]] = field(default_factory=list)
    results: list[tuple[str, int, UnitResult]] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.covered / self.total if self.total else 0.0


def default_path() -> Path:
    if os.environ.get(ENV_FREQS):
        return Path(os.environ[ENV_FREQS])
    return shared_dir() / FREQS_RELPATH


def read_freqs(path: Path) -> list[tuple[str, int]]:
    """(spelling, frequency) rows of the CSV."""
    rows: list[tuple[str, int]] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh):
            rows.append((rec["unit_mention"], int(rec["frequency"])))
    return rows


def coverage(rows: list[tuple[str, int]]) -> Coverage:
    cov = Coverage()
    for spelling, freq in rows:
        res = parse_unit(spelling)
        cov.total += freq
        cov.results.append((spelling, freq, res))
        if res.ok:
            cov.covered += freq
        else:
            cov.uncovered.append((spelling, freq, res))
    cov.uncovered.sort(key=lambda t: -t[1])
    return cov


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", type=Path, default=None)
    ap.add_argument("--show", type=int, default=50, help="uncovered spellings to list")
    ap.add_argument("--all", action="store_true", help="also list every covered spelling")
    args = ap.parse_args(argv)
    path = args.csv or default_path()
    if not path.exists():
        sys.stderr.write(
            f"unit frequency file not found: {path} (give a path or set {ENV_FREQS})\n"
        )
        return 2
    cov = coverage(read_freqs(path))
    n_sp = len(cov.results)
    n_cov = n_sp - len(cov.uncovered)
    sys.stdout.write(
        f"{path}\nspellings covered: {n_cov}/{n_sp}\n"
        f"frequency-weighted coverage: {cov.covered}/{cov.total} = {cov.share:.2%}\n"
    )
    if args.all:
        for spelling, freq, res in cov.results:
            if res.ok:
                sys.stdout.write(f"  {freq:5d}  {spelling!r:32} -> {res.factor:.6g} {res.unit}\n")
    sys.stdout.write(f"uncovered ({len(cov.uncovered)} spellings):\n")
    for spelling, freq, res in cov.uncovered[: args.show]:
        sys.stdout.write(f"  {freq:5d}  {spelling!r:32} {res.error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
