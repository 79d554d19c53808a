"""Combining the per-task losses of the multi-task model.

Schemes (see docs/model.md):

* ``none`` — single-task baseline: only the NER loss (auxiliary heads are not trained).
* ``fixed`` — heuristic fixed weights :data:`FIXED_WEIGHTS` (NER 1.0, mtCLS 0.3, bCLS 0.1,
  mCLS 0.1): the token-level auxiliary task is closest to NER and gets the larger share; the two
  sentence-level tasks keep a high loss after NER has converged and, with equal weights, pull the
  shared encoder away from NER (measured on dev:
  docs/experiments/log/2026-11-25-first-model.md).
* ``uncertainty`` — Kendall, Gal & Cipolla (2018): one learned ``s_i = log σ_i²`` per task,
  ``L = Σ_i exp(−s_i)·L_i + s_i`` (``s_i`` starts at 0).
* ``hybrid`` — NER fixed at weight 1, the auxiliary tasks uncertainty-weighted with a floor:
  their ``s_i`` start at and are clamped to ``≥ log 4`` (:data:`HYBRID_FLOOR`), so that an
  auxiliary task never weighs more than 0.25:
  ``L = L_ner + Σ_aux exp(−max(s_i, log 4))·L_i + max(s_i, log 4)``. Plain uncertainty weighting
  let the auxiliary losses dominate the shared encoder on this small corpus. After each
  optimiser step the trainer projects ``s_i`` back onto the floor (:meth:`LossWeighting.project_`):
  an auxiliary loss below 4 pushes ``s_i`` under the floor, where the clamp passes no gradient,
  and without the projection ``s_i`` would stay there even once the loss grows.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

WEIGHTINGS: tuple[str, ...] = ("none", "fixed", "uncertainty", "hybrid")
FIXED_WEIGHTS: dict[str, float] = {"ner": 1.0, "mtcls": 0.3, "bcls": 0.1, "mcls": 0.1}
# Hybrid: auxiliary s_i >= log(4), i.e. an auxiliary weight never exceeds 0.25 (see docstring).
HYBRID_FLOOR = math.log(4.0)


def uncertainty_loss(losses: Tensor, log_vars: Tensor) -> Tensor:
    """Kendall et al. (2018): ``Σ exp(−s_i)·L_i + s_i`` for ``losses`` and ``log_vars`` s_i."""
    return (torch.exp(-log_vars) * losses + log_vars).sum()


class LossWeighting(nn.Module):
    """Turns a ``{task: loss}`` dict into one scalar. Learned parameters (``log_vars``, one per
    weighted task) exist only for ``uncertainty`` and ``hybrid``."""

    def __init__(self, scheme: str, tasks: tuple[str, ...]) -> None:
        super().__init__()
        if scheme not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {scheme!r}; choose from {WEIGHTINGS}")
        if "ner" not in tasks:
            raise ValueError("the ner task is always present")
        self.scheme = scheme
        self.tasks = tuple(tasks)
        if scheme == "uncertainty":
            self.learned = self.tasks
        elif scheme == "hybrid":
            self.learned = tuple(t for t in self.tasks if t != "ner")
        else:
            self.learned = ()
        start = HYBRID_FLOOR if scheme == "hybrid" else 0.0
        self.log_vars = nn.Parameter(torch.full((len(self.learned),), start))

    def active_tasks(self) -> tuple[str, ...]:
        """Tasks whose loss contributes (``none`` trains NER alone)."""
        return ("ner",) if self.scheme == "none" else self.tasks

    def weights(self) -> dict[str, float]:
        """The current effective weight of each active task (for logging/history)."""
        if self.scheme == "none":
            return {"ner": 1.0}
        if self.scheme == "fixed":
            return {t: FIXED_WEIGHTS[t] for t in self.tasks}
        out = {"ner": 1.0}
        for t, s in zip(self.learned, self.log_vars.detach(), strict=True):
            if self.scheme == "hybrid":
                s = torch.clamp(s, min=HYBRID_FLOOR)
            out[t] = float(torch.exp(-s))
        return out

    @torch.no_grad()
    def project_(self) -> None:
        """Keep ``hybrid``'s ``s_i`` on or above the floor (call after each optimiser step)."""
        if self.scheme == "hybrid":
            self.log_vars.clamp_(min=HYBRID_FLOOR)

    def forward(self, losses: dict[str, Tensor]) -> Tensor:
        missing = [t for t in self.active_tasks() if t not in losses]
        if missing:
            raise ValueError(f"missing task losses {missing}")
        if self.scheme == "none":
            return losses["ner"]
        if self.scheme == "fixed":
            zero = losses["ner"].new_zeros(())  # on the losses' device
            return sum((FIXED_WEIGHTS[t] * losses[t] for t in self.tasks), zero)
        stacked = torch.stack([losses[t] for t in self.learned])
        if self.scheme == "uncertainty":
            return uncertainty_loss(stacked, self.log_vars)
        s = torch.clamp(self.log_vars, min=HYBRID_FLOOR)
        return losses["ner"] + uncertainty_loss(stacked, s)
