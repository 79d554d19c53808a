"""Combining the per-task losses of the multi-task model.

Schemes (see docs/model.md):

* ``none`` — single-task baseline: only the NER loss (auxiliary heads are not trained).
* ``fixed`` — heuristic fixed weights :data:`FIXED_WEIGHTS` (NER 1.0, mtCLS 0.5, bCLS 0.2,
  mCLS 0.2): the token-level auxiliary task is closest to NER and gets the larger share; the two
  sentence-level tasks are easy and would otherwise dominate early training.
* ``uncertainty`` — Kendall, Gal & Cipolla (2018): one learned ``s_i = log σ_i²`` per task,
  ``L = Σ_i exp(−s_i)·L_i + s_i`` (``s_i`` starts at 0).
* ``hybrid`` — NER fixed at weight 1, the auxiliary tasks uncertainty-weighted, with their
  ``s_i`` clamped to ``≥ log(1)=0`` so that no auxiliary task can weigh more than NER:
  ``L = L_ner + Σ_aux exp(−max(s_i, 0))·L_i + max(s_i, 0)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

WEIGHTINGS: tuple[str, ...] = ("none", "fixed", "uncertainty", "hybrid")
FIXED_WEIGHTS: dict[str, float] = {"ner": 1.0, "mtcls": 0.5, "bcls": 0.2, "mcls": 0.2}
HYBRID_FLOOR = 0.0


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
        self.log_vars = nn.Parameter(torch.zeros(len(self.learned)))

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

    def forward(self, losses: dict[str, Tensor]) -> Tensor:
        missing = [t for t in self.active_tasks() if t not in losses]
        if missing:
            raise ValueError(f"missing task losses {missing}")
        if self.scheme == "none":
            return losses["ner"]
        if self.scheme == "fixed":
            return sum((FIXED_WEIGHTS[t] * losses[t] for t in self.tasks), torch.zeros(()))
        stacked = torch.stack([losses[t] for t in self.learned])
        if self.scheme == "uncertainty":
            return uncertainty_loss(stacked, self.log_vars)
        s = torch.clamp(self.log_vars, min=HYBRID_FLOOR)
        return losses["ner"] + uncertainty_loss(stacked, s)
