"""Typed records of the pooling stage: a study row as reported, its log-scale effect, and a
pooled result."""

from __future__ import annotations

from dataclasses import dataclass, field

from pkharvest.errors import PkHarvestError

STATISTICS = ("mean", "geometric_mean", "median")
DEVIATION_TYPES = ("sd", "se", "cv", "iqr", "range", "ci95")
METHODS = ("REML", "DL", "PM")


class PoolError(PkHarvestError):
    """Input to pooling is malformed or cannot be pooled (names the file:line, row or field)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}", field=field)
        self.path = path
        self.line = line


@dataclass(frozen=True)
class StudyRow:
    """One study group's summary of a PK parameter, as reported.

    ``statistic`` is mean, geometric_mean or median; ``deviation_type`` one of sd, se, cv
    (percent), iqr, range, ci95 (or None). ``deviation`` holds sd/se/cv, ``low``/``high`` the
    bounds of an iqr, range or ci95. ``where`` locates the row for messages (``file:line`` or a
    measurement id); ``facets`` holds the attributes a pool may be split by (population,
    species, route, group...)."""

    study: str
    group: str = ""
    statistic: str | None = None
    estimate: float | None = None
    deviation_type: str | None = None
    deviation: float | None = None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    unit: str | None = None
    where: str | None = None
    facets: dict[str, str | None] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class StudyEffect:
    """A study row on the log scale: ``y`` is the mean of the log parameter (value in
    ``unit``, the canonical unit of quantity ``kind``), ``v`` its sampling variance.
    Excluded rows have ``included`` False and a ``reason``; ``weight`` (percent of the
    random-effects weights) is filled in by pooling."""

    row: StudyRow
    y: float | None
    v: float | None
    included: bool
    reason: str | None = None
    unit: str | None = None
    kind: str | None = None
    weight: float | None = None


@dataclass(frozen=True)
class PoolResult:
    """A random-effects pool of the included studies, back on the parameter's scale.

    ``mu`` and ``se`` are on the log scale; ``estimate``, ``ci_*`` and ``pi_*`` are exp() of
    the log-scale values; ``tau2`` is on the log scale; ``i2`` is a percentage. With ``k`` 0
    every number is None."""

    method: str
    k: int
    unit: str | None
    mu: float | None
    se: float | None
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    tau2: float | None
    i2: float | None
    q: float | None
    q_p: float | None
    pi_low: float | None
    pi_high: float | None
    studies: tuple[StudyEffect, ...]
    subgroup: str | None = None
