"""Random-effects meta-analysis of log-scale study effects, as R metafor's ``rma`` computes it.

Written here rather than taken from ``statsmodels.stats.meta_analysis``: statsmodels has no
REML estimator (metafor's default), and the three estimators below are a few lines each for an
intercept-only model. Each follows metafor's definitions:

* REML: Fisher scoring on the restricted likelihood with step halving that keeps τ² ≥ 0, as
  ``rma(method="REML")`` does, started at the Hedges estimate (metafor's start) and iterated to
  a much tighter threshold than metafor's default (1e-5) so that results are stable to 1e-10;
* DL (DerSimonian–Laird): the method-of-moments estimate, truncated at 0;
* PM (Paule–Mandel): the τ² at which the generalised Q equals k − 1 (0 when Q(0) < k − 1),
  found with Brent's method.

Pooled μ = Σw*y/Σw* with w* = 1/(v + τ²), SE = 1/√Σw*, z-based 95% CI, Cochran's Q with the
fixed-effect weights (df k − 1), I² = 100·τ²/(τ² + s²) with s² = (k − 1)Σw/((Σw)² − Σw²)
(metafor's "typical" within-study variance), 95% prediction interval μ ± z·√(SE² + τ²).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import chi2

from pkharvest.pool.records import METHODS, PoolError
from pkharvest.pool.transform import Z975

logger = logging.getLogger(__name__)

REML_THRESHOLD = 1e-12
REML_MAXITER = 1000
LL0_TOL = 1e-10


@dataclass(frozen=True)
class REFit:
    """A random-effects fit on the log scale; ``weights`` are percentages (sum 100)."""

    method: str
    k: int
    mu: float
    se: float
    tau2: float
    i2: float
    q: float
    q_p: float
    pi_low: float
    pi_high: float
    ci_low: float
    ci_high: float
    weights: tuple[float, ...]


def _tau2_dl(y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / v
    mu = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - mu) ** 2))
    c = float(np.sum(w) - np.sum(w * w) / np.sum(w))
    return max(0.0, (q - (len(y) - 1)) / c)


def _reml_ll(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    """The restricted log-likelihood of the intercept-only model, up to a constant."""
    w = 1.0 / (v + tau2)
    mu = np.sum(w * y) / np.sum(w)
    rss = float(np.sum(w * (y - mu) ** 2))
    return -0.5 * float(np.sum(np.log(v + tau2))) - 0.5 * math.log(float(np.sum(w))) - 0.5 * rss


def _tau2_reml(y: np.ndarray, v: np.ndarray) -> float:
    k = len(y)
    # metafor's starting value: the Hedges (HE) estimate, truncated at 0
    tau2 = max(0.0, float(np.var(y, ddof=1) - np.mean(v)))
    for _ in range(REML_MAXITER):
        w = 1.0 / (v + tau2)
        sw, sw2, sw3 = float(np.sum(w)), float(np.sum(w * w)), float(np.sum(w**3))
        mu = float(np.sum(w * y)) / sw
        ypp_y = float(np.sum(w * w * (y - mu) ** 2))  # Y'PPY with P = W - ww'/Σw
        tr_p = sw - sw2 / sw
        tr_pp = sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2
        adj = (ypp_y - tr_p) / tr_pp
        while tau2 + adj < 0.0:  # step halving, as metafor, keeps τ² ≥ 0
            adj /= 2.0
        new = tau2 + adj
        if abs(new - tau2) < REML_THRESHOLD:
            new = max(0.0, new)
            # metafor's ll0check: a maximum below the likelihood at τ² = 0 is a local one
            if new > REML_THRESHOLD and _reml_ll(y, v, 0.0) - _reml_ll(y, v, new) > LL0_TOL:
                logger.warning("REML stuck at a local maximum (tau2 = %g); tau2 set to 0", new)
                return 0.0
            return new
        tau2 = new
    raise PoolError(f"REML did not converge in {REML_MAXITER} iterations (k = {k})")


def _q_gen(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    w = 1.0 / (v + tau2)
    mu = np.sum(w * y) / np.sum(w)
    return float(np.sum(w * (y - mu) ** 2))


def _tau2_pm(y: np.ndarray, v: np.ndarray) -> float:
    df = len(y) - 1
    if _q_gen(y, v, 0.0) <= df:
        return 0.0
    hi = max(1.0, float(np.var(y, ddof=1)))
    while _q_gen(y, v, hi) > df:  # the generalised Q decreases in τ²
        hi *= 2.0
    return float(brentq(lambda t: _q_gen(y, v, t) - df, 0.0, hi, xtol=1e-15, rtol=1e-15))


def random_effects(y: Sequence[float], v: Sequence[float], method: str = "REML") -> REFit:
    """Fit the random-effects model to effects ``y`` with sampling variances ``v`` (k ≥ 1).

    With k = 1, τ² is 0 (as metafor fixes it), Q is 0 with p 1 and I² is 0."""
    if method not in METHODS:
        raise PoolError(f"unknown method {method!r} (one of {', '.join(METHODS)})",
                        field="method")
    ya, va = np.asarray(y, dtype=float), np.asarray(v, dtype=float)
    k = len(ya)
    if k == 0:
        raise PoolError("no study to pool")
    if k == 1:
        tau2 = 0.0
    elif method == "DL":
        tau2 = _tau2_dl(ya, va)
    elif method == "PM":
        tau2 = _tau2_pm(ya, va)
    else:
        tau2 = _tau2_reml(ya, va)
    w = 1.0 / va
    mu_fe = float(np.sum(w * ya) / np.sum(w))
    q = float(np.sum(w * (ya - mu_fe) ** 2))
    q_p = float(chi2.sf(q, k - 1)) if k > 1 else 1.0
    if k > 1:
        s2 = (k - 1) * float(np.sum(w)) / (float(np.sum(w)) ** 2 - float(np.sum(w * w)))
        i2 = 100.0 * tau2 / (tau2 + s2)
    else:
        i2 = 0.0
    wr = 1.0 / (va + tau2)
    mu = float(np.sum(wr * ya) / np.sum(wr))
    se = 1.0 / math.sqrt(float(np.sum(wr)))
    half_pi = Z975 * math.sqrt(se * se + tau2)
    weights = tuple(float(x) for x in 100.0 * wr / np.sum(wr))
    logger.debug("%s: k=%d mu=%g se=%g tau2=%g", method, k, mu, se, tau2)
    return REFit(
        method=method, k=k, mu=mu, se=se, tau2=tau2, i2=i2, q=q, q_p=q_p,
        ci_low=mu - Z975 * se, ci_high=mu + Z975 * se,
        pi_low=mu - half_pi, pi_high=mu + half_pi, weights=weights,
    )
