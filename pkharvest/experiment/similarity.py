"""Task interaction in a trained multi-task model: cosine similarity of the tasks' gradients on
the shared encoder.

Definition (also in docs/experiments.md): for each task i with unweighted loss L_i,

    g_i = (1/N) Σ_{b=1..N} ∇_θ L_i(b)

where θ are the trainable parameters of the shared encoder (``network.shared_parameters()``
with ``requires_grad``; frozen embeddings are left out), flattened into one vector, and b runs
over the first N batches of the dev set in order (dropout off). The similarity of tasks i and
j is cos(g_i, g_j) = g_i·g_j / (‖g_i‖ ‖g_j‖); it is NaN where a gradient is zero (e.g. a task
with nothing to learn in those batches). Positive: the tasks pull the shared encoder the same
way; negative: they conflict.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from typing import Any

import torch

log = logging.getLogger(__name__)

DEFAULT_BATCHES = 8
DEFAULT_BATCH_SIZE = 16


def task_gradients(
    network: Any,
    batches: Sequence[dict[str, torch.Tensor]],
    tasks: Sequence[str] | None = None,
) -> dict[str, torch.Tensor]:
    """Mean over ``batches`` of each task's loss gradient on the shared encoder parameters,
    flattened (float64 accumulators). ``network`` needs ``task_losses(batch)`` and
    ``shared_parameters()``; it is put in eval mode for the call and restored after."""
    params = [p for p in network.shared_parameters() if p.requires_grad]
    sums: dict[str, torch.Tensor] = {}
    was_training = network.training
    network.eval()
    try:
        for batch in batches:
            losses = network.task_losses(batch)
            names = [t for t in (tasks or losses) if t in losses]
            for k, task in enumerate(names):
                grads = torch.autograd.grad(
                    losses[task], params, retain_graph=k < len(names) - 1, allow_unused=True
                )
                flat = torch.cat(
                    [
                        (g if g is not None else torch.zeros_like(p)).reshape(-1).double()
                        for g, p in zip(grads, params, strict=True)
                    ]
                )
                sums[task] = sums[task] + flat if task in sums else flat
    finally:
        network.train(was_training)
    n = max(1, len(batches))
    return {t: v / n for t, v in sums.items()}


def cosine_matrix(gradients: dict[str, torch.Tensor]) -> dict[tuple[str, str], float]:
    """``(task_a, task_b) -> cos`` for every unordered pair, in the order of ``gradients``."""
    out: dict[tuple[str, str], float] = {}
    for a, b in itertools.combinations(gradients, 2):
        ga, gb = gradients[a], gradients[b]
        denom = float(ga.norm() * gb.norm())
        out[(a, b)] = float(ga @ gb) / denom if denom > 0 else math.nan
    return out


def gradient_similarity(
    tagger: Any,
    examples: Sequence[Any],
    *,
    max_batches: int = DEFAULT_BATCHES,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[dict[tuple[str, str], float], int]:
    """Pairwise gradient cosine of a trained tagger's tasks over the first ``max_batches``
    batches of ``examples`` (the dev set). Returns (similarities, batches used); empty when
    the model has a single head, ``examples`` is empty or ``max_batches`` is 0."""
    heads = tuple(tagger.config.heads)
    if len(heads) < 2 or max_batches <= 0 or not examples:
        return {}, 0
    batches = list(itertools.islice(tagger.batches(examples, batch_size=batch_size), max_batches))
    grads = task_gradients(tagger.network, batches, tasks=heads)
    sims = cosine_matrix(grads)
    log.info("gradient cosine over %d batch(es): %s", len(batches),
             ", ".join(f"{a}-{b} {c:.3f}" for (a, b), c in sims.items()))  # fmt: skip
    return sims, len(batches)
