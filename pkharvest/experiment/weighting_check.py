"""Does each loss weighting train as intended at a small training fraction? A check to make
before spending the study's budget.

For each weighting, one short run at the grid's matched data (view, fraction, seed) records
per epoch the unweighted task losses L_i (epoch means), the effective weights w_i (``fixed``:
the constants; ``uncertainty``: exp(−s_i); ``hybrid``: NER 1, auxiliary exp(−max(s_i, log 4)))
and the learned log-variances s_i = −log w_i; from them

* the **weighted loss shares** w_i·L_i / Σ_j w_j·L_j — the part of the objective that reaches
  the shared encoder (the ``+ s_i`` terms of the uncertainty loss have no encoder gradient);
* the **weighted gradient shares** on the shared encoder, ‖w_i·ḡ_i‖ / Σ_j ‖w_j·ḡ_j‖ with ḡ_i the
  mean gradient of the unweighted L_i over the first training batches
  (:func:`pkharvest.experiment.similarity.task_gradients`), before training and after it;
* the **sentence-level share**: the sum of the bCLS and mCLS shares.

The figures are descriptive; a weighting is "dominated by the sentence-level tasks" here when
that share exceeds one half (they then weigh more than NER and mtCLS together).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pkharvest.corpus.records import Example
from pkharvest.experiment.grid import HEADS, RunSpec

log = logging.getLogger(__name__)

SENTENCE_TASKS: tuple[str, ...] = ("bcls", "mcls")
DOMINATED = 0.5
"""Sentence-level share above which a weighting counts as dominated by those tasks."""


def shares(values: Mapping[str, float]) -> dict[str, float]:
    """Each value over their sum (NaN for all when the sum is not positive)."""
    total = sum(values.values())
    if not total > 0:
        return {t: math.nan for t in values}
    return {t: v / total for t, v in values.items()}


def loss_shares(task_losses: Mapping[str, float], weights: Mapping[str, float]) -> dict[str, float]:
    """Weighted loss shares w_i·L_i / Σ_j w_j·L_j over the tasks present in both."""
    return shares({t: weights[t] * task_losses[t] for t in task_losses if t in weights})


def sentence_share(task_shares: Mapping[str, float]) -> float:
    """Sum of the sentence-level tasks' shares (bCLS + mCLS)."""
    return float(sum(task_shares.get(t, 0.0) for t in SENTENCE_TASKS))


def log_variances(weights: Mapping[str, float], learned: Sequence[str]) -> dict[str, float]:
    """s_i = −log w_i of the learned tasks (for ``hybrid``, the clamped, effective s_i)."""
    return {t: -math.log(weights[t]) for t in learned if weights.get(t, 0.0) > 0}


def learned_tasks(weighting: str, heads: Sequence[str] = HEADS) -> tuple[str, ...]:
    """The tasks whose s_i is learned: all for ``uncertainty``, the auxiliary ones for
    ``hybrid``, none otherwise: :class:`pkharvest.model.weighting.LossWeighting` decides."""
    from pkharvest.model.weighting import LossWeighting

    return LossWeighting(weighting, tuple(heads)).learned


@dataclass
class EpochFigures:
    epoch: int
    step: int
    task_losses: dict[str, float]
    weights: dict[str, float]
    log_vars: dict[str, float]
    loss_shares: dict[str, float]

    @property
    def sentence_share(self) -> float:
        return sentence_share(self.loss_shares)


@dataclass
class WeightingFigures:
    """What one check run of a weighting measured."""

    weighting: str
    n_train: int
    steps: int
    wall_time_s: float
    dev_f1: float | None
    epochs: list[EpochFigures] = field(default_factory=list)
    initial_weights: dict[str, float] = field(default_factory=dict)
    gradient_shares_start: dict[str, float] = field(default_factory=dict)
    gradient_shares_end: dict[str, float] = field(default_factory=dict)

    @property
    def log_var_change(self) -> dict[str, float]:
        """s_i at the end minus s_i before training, per learned task."""
        learned = learned_tasks(self.weighting, tuple(self.initial_weights))
        if not self.epochs or not learned:
            return {}
        start = log_variances(self.initial_weights, learned)
        end = self.epochs[-1].log_vars
        return {t: end[t] - start[t] for t in learned if t in end and t in start}

    @property
    def dominated(self) -> bool:
        """Whether the sentence-level tasks hold more than half of the last epoch's weighted
        loss or of the final weighted gradient."""
        last = self.epochs[-1].sentence_share if self.epochs else 0.0
        grad = sentence_share(self.gradient_shares_end)
        return bool(last > DOMINATED or grad > DOMINATED)


def history_figures(history: Sequence[Mapping[str, Any]], weighting: str) -> list[EpochFigures]:
    """Per-epoch figures from a training history (``pkharvest.training.trainer.train``'s
    records: ``task_losses`` epoch means and the ``weights`` at the end of the epoch)."""
    out = []
    for record in history:
        losses = dict(record.get("task_losses", {}))
        weights = {t: float(w) for t, w in dict(record.get("weights", {})).items()}
        learned = learned_tasks(weighting, tuple(losses))
        out.append(
            EpochFigures(
                epoch=int(record["epoch"]), step=int(record.get("step", 0)),
                task_losses=losses, weights=weights,
                log_vars=log_variances(weights, learned),
                loss_shares=loss_shares(losses, weights),
            )
        )  # fmt: skip
    return out


def initial_weights(weighting: str, heads: Sequence[str] = HEADS) -> dict[str, float]:
    """The effective weights before the first step."""
    from pkharvest.model.weighting import LossWeighting

    return LossWeighting(weighting, tuple(heads)).weights()


def weighted_gradient_shares(
    tagger: Any, examples: Sequence[Example], weights: Mapping[str, float], *,
    max_batches: int = 4, batch_size: int = 8,
) -> dict[str, float]:
    """‖w_i·ḡ_i‖ shares on the shared encoder over the first ``max_batches`` batches of
    ``examples`` (eval mode), for the tasks in ``weights``."""
    import itertools

    from pkharvest.experiment.similarity import task_gradients

    batches = list(itertools.islice(tagger.batches(examples, batch_size=batch_size), max_batches))
    grads = task_gradients(tagger.network, batches, tasks=tuple(weights))
    return shares({t: float(weights[t]) * float(g.norm()) for t, g in grads.items()})


def check_weighting(
    examples: Sequence[Example],
    spec: RunSpec,
    dev: Sequence[Example],
    options: Mapping[str, Any] | None = None,
    *,
    gradient_batches: int = 4,
) -> WeightingFigures:
    """Train ``spec``'s weighting on ``examples`` (its matched training subset) with the
    training ``options`` (TrainConfig fields) and return the figures of the module doc. Dev
    is scored once, at the end (``options`` should not early-stop a check)."""
    from pkharvest.model.tagger import PKTagger
    from pkharvest.training.trainer import TrainConfig, seed_everything, train

    config = TrainConfig(
        view=spec.view, fraction=spec.fraction, weighting=spec.weighting, seed=spec.seed,
        heads=spec.heads, refit=False, **dict(options or {}),
    )  # fmt: skip
    heads = config.model_config().heads
    start_w = initial_weights(spec.weighting, heads)
    seed_everything(config.seed)
    fresh = PKTagger.create(config.model_config())
    grad_start = weighted_gradient_shares(fresh, examples, start_w, max_batches=gradient_batches)
    del fresh
    started = time.perf_counter()
    result = train(examples, dev, config)
    wall = time.perf_counter() - started
    epochs = history_figures(result.history, spec.weighting)
    end_w = epochs[-1].weights if epochs else start_w
    grad_end = weighted_gradient_shares(result.tagger, examples, end_w,
                                        max_batches=gradient_batches)  # fmt: skip
    dev_f1 = None
    if result.dev_scores:
        from pkharvest.training.evaluate import get_score

        dev_f1 = get_score(result.dev_scores, "ner.strict.micro.f1")
    return WeightingFigures(
        weighting=spec.weighting, n_train=len(examples), steps=result.steps, wall_time_s=wall,
        dev_f1=dev_f1, epochs=epochs, initial_weights=start_w,
        gradient_shares_start=grad_start, gradient_shares_end=grad_end,
    )  # fmt: skip
