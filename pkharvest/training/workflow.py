"""One training run from start to finish: split → downsample or refit → train → score on the
held-out test split → save (model folder with ``metrics.json``).

``pkharvest train``, ``bench/bench_model.py``, the study runner
(:mod:`pkharvest.experiment.runner`) and the tests' trained-model fixture all call
:func:`run`; :func:`train_config` is the one place that turns the training options as a user
gives them (``None``: not given) into a :class:`TrainConfig`, with the reference set-up and the
refit / fraction rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pkharvest.corpus.records import Example
from pkharvest.corpus.splits import DEFAULT_SEED
from pkharvest.errors import UsageError
from pkharvest.model.tagger import PKTagger, check_model_folder
from pkharvest.progress import ProgressEvent, ProgressSink, report
from pkharvest.training.evaluate import evaluate
from pkharvest.training.sets import TrainingSets, training_sets
from pkharvest.training.trainer import TrainConfig, TrainResult, train


@dataclass
class TrainedModel:
    """What :func:`run` produced: the trained ``tagger``, the training loop's ``result``, the
    ``sets`` it learnt from and was scored on, the ``test`` scores (empty without a test split)
    and the model ``folder`` (``None`` when nothing was saved)."""

    tagger: PKTagger
    result: TrainResult
    sets: TrainingSets
    test: dict[str, Any]
    folder: Path | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        """The model's metrics (``metrics.json`` of the folder): training configuration, dev
        and test scores, epochs, wall time."""
        return self.tagger.metrics


def train_config(*, reference: bool = False, **options: Any) -> TrainConfig:
    """The :class:`TrainConfig` of a training run from the options a user gave (``None``
    values are options not given, which keep the set-up's defaults):

    * ``reference=True`` starts from :meth:`TrainConfig.reference` instead of the tuned
      defaults; there a given ``lr`` also sets ``head_lr`` (the reference set-up uses one rate);
    * an ``epochs`` given explicitly turns off the minimum-steps rule (``min_steps=0``);
    * below ``fraction`` 1 the dev split is kept for early stopping, so ``refit`` is recorded
      as off, and asking for it is an error (field ``refit``).
    """
    given = {key: value for key, value in options.items() if value is not None}
    if "epochs" in given:
        given["min_steps"] = 0
    if given.get("fraction", 1.0) < 1.0:
        if given.get("refit"):
            raise UsageError("refitting on the dev split needs --fraction 1 (subsampled runs "
                             "keep the dev split for early stopping)", field="refit")
        given["refit"] = False  # recorded as it is applied (training_sets)
    if reference and "lr" in given:
        given["head_lr"] = given["lr"]
    return TrainConfig.reference(**given) if reference else TrainConfig(**given)


def run(
    config: TrainConfig,
    data: Sequence[Example] | TrainingSets | str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    split_seed: int = DEFAULT_SEED,
    progress: ProgressSink | None = None,
) -> TrainedModel:
    """Train one model of ``config`` and score it on the held-out test split.

    ``data`` is a corpus file (``None``: the default corpus), the corpus's examples (the
    configuration's view is applied to either), or :class:`TrainingSets` already prepared (the
    study runner's matched seeds); from examples, :func:`training_sets` splits by article with
    ``split_seed`` and downsamples or refits. With ``out_dir`` the model folder (weights,
    config, tokenizer, ``metrics.json`` with the test scores, model card) is written there; the
    folder is checked before any training time is spent. ``progress`` hears a ``"sets"`` event
    (``message``: what the run learns from) and then the training events of
    :func:`pkharvest.training.trainer.train`.
    """
    from pkharvest.corpus.reader import apply_view, read_corpus

    target = check_model_folder(out_dir) if out_dir is not None else None
    if isinstance(data, TrainingSets):
        sets = data
    else:
        examples = (read_corpus(data) if data is None or isinstance(data, (str, Path))
                    else data)
        sets = training_sets(apply_view(examples, config.view), config, split_seed)
    report(progress, ProgressEvent("sets", message=f"{sets.describe()} (view {config.view}, "
                                                   f"weighting {config.weighting})"))
    result = train(sets.train, sets.dev, config, progress=progress)
    tagger = result.tagger
    test: dict[str, Any] = {}
    if sets.test:
        test = evaluate(tagger, sets.test)
        tagger.metrics["test"] = test
        tagger.metrics["n_test"] = len(sets.test)
    folder = tagger.save(target) if target is not None else None
    return TrainedModel(tagger=tagger, result=result, sets=sets, test=test, folder=folder)
