"""Random-effects pooling of PK parameter summaries across studies, on the log scale.

``pool(rows, method, by)`` transforms each :class:`StudyRow` to the log scale
(:mod:`pkharvest.pool.transform`), splits the rows into subgroups (``by`` names a facet, or
``"unit"``), refuses a subgroup whose included rows are of quantity kinds that do not convert
into each other (per kg and absolute, mass and molar), and fits the random-effects model
(:mod:`pkharvest.pool.meta`). Pooled values are exp() of the log-scale results, in the
canonical unit of the kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from pkharvest.normalise.units import KINDS
from pkharvest.pool.meta import REFit, random_effects
from pkharvest.pool.records import (
    DEVIATION_TYPES,
    METHODS,
    STATISTICS,
    PoolError,
    PoolResult,
    StudyEffect,
    StudyRow,
)
from pkharvest.pool.transform import log_effect

__all__ = [
    "DEVIATION_TYPES",
    "METHODS",
    "STATISTICS",
    "PoolError",
    "PoolResult",
    "REFit",
    "StudyEffect",
    "StudyRow",
    "log_effect",
    "pool",
    "pool_effects",
    "random_effects",
]

NO_VALUE = "(none)"


def _row_name(e: StudyEffect) -> str:
    return e.row.where or e.row.study


def pool_effects(
    effects: Sequence[StudyEffect], method: str = "REML", subgroup: str | None = None
) -> PoolResult:
    """Pool already transformed effects (one subgroup). Raises PoolError when the included
    effects are of more than one quantity kind."""
    included = [e for e in effects if e.included]
    kinds: dict[str, StudyEffect] = {}
    for e in included:
        kinds.setdefault(e.kind or "", e)
    if len(kinds) > 1:
        parts = [f"{e.unit} ({KINDS[k].description if k in KINDS else k}, {_row_name(e)})"
                 for k, e in kinds.items()]
        label = f" in subgroup {subgroup}" if subgroup is not None else ""
        raise PoolError(
            f"cannot pool values of different kinds{label}: {' and '.join(parts)}; "
            "pool each kind apart with --by unit"
        )
    if not included:
        return PoolResult(
            method=method, k=0, unit=None, mu=None, se=None, estimate=None, ci_low=None,
            ci_high=None, tau2=None, i2=None, q=None, q_p=None, pi_low=None, pi_high=None,
            studies=tuple(effects), subgroup=subgroup,
        )
    fit = random_effects([e.y for e in included], [e.v for e in included], method)  # type: ignore[misc]
    weights = iter(fit.weights)
    studies = tuple(
        StudyEffect(e.row, e.y, e.v, e.included, e.reason, e.unit, e.kind, next(weights))
        if e.included
        else e
        for e in effects
    )
    return PoolResult(
        method=method,
        k=fit.k,
        unit=included[0].unit,
        mu=fit.mu,
        se=fit.se,
        estimate=math.exp(fit.mu),
        ci_low=math.exp(fit.ci_low),
        ci_high=math.exp(fit.ci_high),
        tau2=fit.tau2,
        i2=fit.i2,
        q=fit.q,
        q_p=fit.q_p,
        pi_low=math.exp(fit.pi_low),
        pi_high=math.exp(fit.pi_high),
        studies=studies,
        subgroup=subgroup,
    )


def _subgroup_of(e: StudyEffect, by: str) -> str:
    value = e.unit if by == "unit" else e.row.facets.get(by)
    return value if value not in (None, "") else NO_VALUE  # type: ignore[return-value]


def pool(
    rows: Iterable[StudyRow], method: str = "REML", by: str | None = None
) -> list[PoolResult]:
    """Pool study rows with the random-effects ``method`` (REML, DL or PM): one result, or one
    per subgroup (in order of first appearance) when ``by`` names a facet of the rows or is
    ``"unit"``."""
    if method not in METHODS:
        raise PoolError(f"unknown method {method!r} (one of {', '.join(METHODS)})",
                        field="method")
    effects = [log_effect(r) for r in rows]
    if by is None:
        return [pool_effects(effects, method)]
    groups: dict[str, list[StudyEffect]] = {}
    for e in effects:
        groups.setdefault(_subgroup_of(e, by), []).append(e)
    return [pool_effects(g, method, subgroup=name) for name, g in groups.items()]
