"""The training, early-stopping and test sentences of a run, from a corpus and a TrainConfig.

One rule, applied by :func:`pkharvest.training.workflow.run` for ``pkharvest train``, the
benchmarks and the tests:

* the corpus is split by article (:func:`~pkharvest.corpus.splits.split_by_article`, split
  seed 13 by default, so every training seed sees the same test articles);
* below ``fraction`` 1 the training split is downsampled (class balance kept) and the dev split
  is held out for early stopping — the low-resource experiments of the method;
* at ``fraction`` 1 with ``config.refit`` (the project default) the dev split joins the training
  data and the whole schedule runs without early stopping: grouped cross-validation showed
  that the extra articles are worth more than choosing the epoch on them
  (docs/experiments/log/). The test split is held out either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pkharvest.corpus.records import Example
from pkharvest.corpus.sample import downsample
from pkharvest.corpus.splits import DEFAULT_SEED, split_by_article
from pkharvest.training.trainer import TrainConfig


@dataclass(frozen=True)
class TrainingSets:
    """``train`` is what the model learns from, ``dev`` what it early-stops on (empty when
    refitting), ``test`` the held-out articles; ``refit`` says whether the dev split was
    joined to the training data."""

    train: list[Example]
    dev: list[Example]
    test: list[Example]
    refit: bool

    def describe(self) -> str:
        train = f"train {len(self.train)}" + (" (train + dev splits)" if self.refit else "")
        dev = "no early stopping" if self.refit else f"dev {len(self.dev)}"
        return f"{train} · {dev} · test {len(self.test)} sentences"


def training_sets(examples: Sequence[Example], config: TrainConfig,
                  split_seed: int = DEFAULT_SEED) -> TrainingSets:
    """Split ``examples`` (already in the config's view) for a training run of ``config``:
    article-grouped split by ``config.split``, then downsampling by ``config.fraction`` or,
    at fraction 1 with ``config.refit``, the dev split joined to the training split."""
    parts = split_by_article(examples, config.split, split_seed)
    if config.fraction < 1.0:
        train = downsample(parts.train, config.fraction, config.seed)
        return TrainingSets(train, parts.dev, parts.test, refit=False)
    if config.refit and parts.dev:
        return TrainingSets(parts.train + parts.dev, [], parts.test, refit=True)
    return TrainingSets(parts.train, parts.dev, parts.test, refit=False)
