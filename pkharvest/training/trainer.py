"""Training the multi-task PK NER model: configuration, loop, early stopping, determinism."""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from pkharvest.corpus.records import VIEWS, Example
from pkharvest.corpus.splits import DEFAULT_PROPORTIONS
from pkharvest.errors import UsageError
from pkharvest.model.config import ALL_HEADS, DEFAULT_ENCODER, ModelConfig
from pkharvest.model.network import EnsembleTagger
from pkharvest.model.tagger import (
    PKTagger,
    check_device,
    check_model_folder,
    resolve_device,
    to_device,
)
from pkharvest.model.weighting import WEIGHTINGS, LossWeighting
from pkharvest.progress import ProgressEvent, ProgressSink, report
from pkharvest.training.evaluate import evaluate, get_score

logger = logging.getLogger(__name__)

_DIGITS = "0123456789"


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults are the tuned project set-up (see
    docs/model.md); :meth:`reference` gives the reference set-up of the method description.

    ``lr`` is the encoder learning rate, ``head_lr`` the one of the heads, feature projection
    and loss-weighting parameters. ``epochs`` is a maximum; ``min_steps`` raises it on small
    data so that at least that many optimiser steps are scheduled. ``patience`` counts dev
    evaluations without a strict-F1 gain; evaluations happen every ``eval_steps`` optimiser
    steps (rounded up to whole epochs). ``augment`` is the probability that a training sentence
    has its digits replaced by random digits (same length, so spans stay put) in an epoch;
    ``mention_swap`` the probability that a training sentence has each of its PK mentions
    replaced by another PK mention of the training data (mention replacement, Dai & Adel 2020).
    ``split``, ``fraction`` and ``refit`` describe how the data was prepared (recorded; applied
    by :func:`pkharvest.training.sets.training_sets`): with ``refit`` at fraction 1 the dev
    split joins the training data and the whole schedule runs without early stopping.
    ``average_last`` > 0 averages the weights reached at the end of each of the schedule's last
    N epochs (checkpoint averaging, as in stochastic weight averaging, Izmailov et al. 2018,
    here under the decaying learning rate); with a dev split the average is scored like an
    epoch and kept only when it beats the best one, and a run that stops early before those
    epochs keeps its best epoch. ``ensemble`` > 1 trains that many networks, with seeds
    ``seed``, ``seed + 1`` ..., one after the other on the same data, and saves them as one
    seed ensemble that averages their word log-probabilities (``ensemble`` times the training
    and tagging time; docs/results.md gives what it buys). ``device`` is where training runs:
    ``cpu`` (the default; same seed and data give the same weights on the same machine and
    thread count), ``cuda`` / ``cuda:N``, or ``auto`` (a GPU when torch sees one). GPU runs
    are faster but not bit-for-bit reproducible.
    """

    view: str = "full"
    split: tuple[float, float, float] = DEFAULT_PROPORTIONS
    fraction: float = 1.0
    weighting: str = "fixed"
    seed: int = 13
    encoder: str = DEFAULT_ENCODER
    batch_size: int = 8
    lr: float = 2e-4
    head_lr: float = 2e-3
    epochs: int = 30
    min_steps: int = 320
    patience: int = 4
    eval_steps: int = 40
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 128
    dropout: float = 0.1
    heads: tuple[str, ...] = ALL_HEADS
    use_features: bool = True
    constrained_decoding: bool = True
    drop_unlinked_units: bool = True
    drop_unlinked_parameters: bool = True
    augment: float = 0.0
    mention_swap: float = 0.0
    grad_clip: float = 1.0
    freeze_embeddings: bool = True
    threads: int | None = None
    refit: bool = True
    average_last: int = 0
    ensemble: int = 1
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.split = tuple(float(x) for x in self.split)  # type: ignore[assignment]
        self.heads = tuple(self.heads)
        self.validate()

    def validate(self) -> None:
        def bad(name: str, msg: str) -> UsageError:
            return UsageError(msg, field=name)

        if self.view not in VIEWS:
            raise bad("view", f"unknown view {self.view!r}; choose from {', '.join(VIEWS)}")
        if self.weighting not in WEIGHTINGS:
            raise bad("weighting", f"unknown weighting {self.weighting!r}; choose from "
                      f"{', '.join(WEIGHTINGS)}")
        if len(self.split) != 3 or any(x < 0 for x in self.split) or \
                abs(sum(self.split) - 1.0) > 1e-6:
            raise bad("split", f"need three non-negative proportions summing to 1, got "
                      f"{self.split}")
        if not 0.0 < self.fraction <= 1.0:
            raise bad("fraction", f"must be in (0, 1], got {self.fraction}")
        for name in ("batch_size", "epochs", "eval_steps"):
            if getattr(self, name) < 1:
                raise bad(name, f"must be at least 1, got "
                          f"{getattr(self, name)}")
        for name in ("patience", "min_steps", "average_last"):
            if getattr(self, name) < 0:
                raise bad(name, f"must be >= 0, got "
                          f"{getattr(self, name)}")
        for name in ("lr", "head_lr"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise bad(name, f"must be in (0, 1), got "
                          f"{getattr(self, name)}")
        if not 0.0 <= self.warmup < 1.0:
            raise bad("warmup", f"must be a fraction of the steps in [0, 1), got {self.warmup}")
        if self.weight_decay < 0:
            raise bad("weight_decay", f"must be >= 0, got {self.weight_decay}")
        if not 0.0 <= self.augment <= 1.0:
            raise bad("augment", f"must be a probability, got {self.augment}")
        if not 0.0 <= self.mention_swap <= 1.0:
            raise bad("mention_swap", f"must be a probability, got {self.mention_swap}")
        if self.threads is not None and self.threads < 1:
            raise bad("threads", f"must be at least 1, got {self.threads}")
        if self.grad_clip < 0:
            raise bad("grad_clip", f"must be >= 0, got {self.grad_clip}")
        if not self.encoder:
            raise bad("encoder", "must not be empty")
        check_device(self.device)
        # ModelConfig checks heads, max_length, dropout (its errors name those fields).
        self.model_config()

    def model_config(self) -> ModelConfig:
        """The network to build. ``weighting="none"`` is the single-task baseline: only the NER
        head is built (untrained auxiliary heads would give meaningless sentence scores; the
        tagger then derives them from the entities)."""
        heads = ("ner",) if self.weighting == "none" else self.heads
        return ModelConfig(
            labels=VIEWS[self.view], encoder=self.encoder, view=self.view, heads=heads,
            max_length=self.max_length, dropout=self.dropout, use_features=self.use_features,
            constrained_decoding=self.constrained_decoding,
            drop_unlinked_units=self.drop_unlinked_units,
            drop_unlinked_parameters=self.drop_unlinked_parameters, members=self.ensemble,
        )

    @classmethod
    def reference(cls, **overrides: Any) -> TrainConfig:
        """The reference set-up: batch 32, max length 256, dropout 0.1, AdamW 3e-5 (encoder and
        heads alike) with 10 % warm-up and linear decay, weight decay 0.01, early stopping with
        patience 3 (evaluated every epoch) on the dev split, no extra steps, features or
        augmentation."""
        base = dict(batch_size=32, max_length=256, dropout=0.1, lr=3e-5, head_lr=3e-5,
                    warmup=0.1, weight_decay=0.01, patience=3, epochs=20, min_steps=0,
                    eval_steps=1, use_features=False, augment=0.0, freeze_embeddings=False,
                    refit=False)
        base.update(overrides)
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["split"] = list(self.split)
        d["heads"] = list(self.heads)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


@dataclass
class TrainResult:
    tagger: PKTagger
    history: list[dict[str, Any]]
    best_epoch: int
    epochs_run: int
    dev_scores: dict[str, Any]
    wall_time_s: float
    config: TrainConfig | None = None
    steps: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover
        pass


def augment_digits(example: Example, rng: random.Random) -> Example:
    """A copy of ``example`` whose digits are replaced by random digits (a leading digit
    stays non-zero). Lengths are unchanged, so spans and tokens keep their offsets."""
    text = list(example.text)
    for i, ch in enumerate(text):
        if ch in _DIGITS:
            lead = i == 0 or not text[i - 1].isdigit()
            text[i] = rng.choice(_DIGITS[1:] if lead and ch != "0" else _DIGITS)
    return replace(example, text="".join(text))


def swap_mentions(example: Example, pool: Sequence[str], rng: random.Random,
                  label: str = "PK") -> Example:
    """A copy of ``example`` whose ``label`` spans each get a text drawn from ``pool`` (other
    mentions of that label), with every span shifted accordingly. The copy is for the training
    loss only: it carries no tokens or relations, and its spans' token indices are -1."""
    if not pool or not any(sp.label == label for sp in example.spans):
        return example
    text, shift, spans = example.text, 0, []
    pieces: list[str] = []
    cursor = 0
    for sp in sorted(example.spans, key=lambda x: x.start):
        if sp.start < cursor:  # overlapping spans: leave the example alone
            return example
        new = rng.choice(pool) if sp.label == label else text[sp.start : sp.end]
        pieces.append(text[cursor : sp.start])
        start = sp.start + shift
        pieces.append(new)
        shift += len(new) - (sp.end - sp.start)
        spans.append(replace(sp, start=start, end=start + len(new), token_start=-1,
                             token_end=-1))
        cursor = sp.end
    pieces.append(text[cursor:])
    return replace(example, text="".join(pieces), spans=spans, tokens=[], relations=[])


def _optimizer(tagger: PKTagger, weighting: LossWeighting, config: TrainConfig
               ) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    encoder = tagger.network.encoder
    # the word-piece embedding table, whatever the architecture calls it
    frozen = ({id(p) for p in encoder.get_input_embeddings().parameters()}
              if config.freeze_embeddings else set())
    for name, p in encoder.named_parameters():
        if id(p) in frozen:
            p.requires_grad_(False)
            continue
        (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)
    heads = list(tagger.network.head_parameters())
    groups = [
        {"params": decay, "lr": config.lr, "weight_decay": config.weight_decay},
        {"params": no_decay, "lr": config.lr, "weight_decay": 0.0},
        {"params": heads, "lr": config.head_lr, "weight_decay": config.weight_decay},
    ]
    if weighting.learned:
        groups.append({"params": [weighting.log_vars], "lr": config.head_lr,
                       "weight_decay": 0.0})
    return torch.optim.AdamW(groups)


def train(
    train_examples: Sequence[Example],
    dev_examples: Sequence[Example],
    config: TrainConfig,
    out_dir: str | Path | None = None,
    progress: ProgressSink | None = None,
) -> TrainResult:
    """Fine-tune a multi-task tagger on ``train_examples``, early-stopping on the strict micro
    F1 of ``dev_examples`` (without dev examples: the last epoch is kept). The best weights are
    restored; with ``out_dir`` the model folder is written there. Same seed and data ⇒ same
    weights (on the same machine and thread count). ``progress`` hears a ``"training"`` event
    before the first step (``total`` = scheduled steps) and after every optimiser step
    (``info``: epoch, epochs, step, loss of the step); reporting does not touch the
    computation.

    :func:`pkharvest.training.workflow.run` wraps this with the data preparation, the test
    scores and the saving that ``pkharvest train`` performs."""
    if not train_examples:
        raise UsageError("no training examples", field="corpus")
    if out_dir is not None:
        check_model_folder(out_dir)  # refuse a folder it would overwrite before training
    if config.ensemble > 1:
        return _train_ensemble(train_examples, dev_examples, config, out_dir, progress)
    started = time.perf_counter()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    device = resolve_device(config.device)
    tagger = PKTagger.create(config.model_config()).to(device)
    net = tagger.network
    weighting = LossWeighting(config.weighting, tagger.config.heads).to(device)
    active = weighting.active_tasks()
    rng = random.Random(config.seed)
    gen = torch.Generator().manual_seed(config.seed)

    base_windows = [w for s in tagger.encode(train_examples) for w in s.windows]
    pool = sorted({ex.text[sp.start : sp.end] for ex in train_examples for sp in ex.spans
                   if sp.label == "PK"}) if config.mention_swap > 0 else []
    steps_per_epoch = math.ceil(len(base_windows) / config.batch_size)
    epochs = max(config.epochs, math.ceil(config.min_steps / steps_per_epoch))
    eval_every = max(1, math.ceil(config.eval_steps / steps_per_epoch))
    total_steps = epochs * steps_per_epoch
    optimizer = _optimizer(tagger, weighting, config)
    warm = int(config.warmup * total_steps)

    def lr_lambda(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    logger.info("training on %d windows (%d sentences), %d epochs x %d steps, %s",
                len(base_windows), len(train_examples), epochs, steps_per_epoch,
                f"dev F1 every {eval_every} epoch(s)" if dev_examples
                else "no dev set: the last epoch is kept")

    history: list[dict[str, Any]] = []
    best_f1, best_epoch, best_state, best_scores = -1.0, 0, None, {}
    bad_evals, step, epochs_run = 0, 0, 0
    averaged: torch.optim.swa_utils.AveragedModel | None = None

    def dev_f1() -> tuple[float, dict[str, Any]]:
        scores = evaluate(tagger, dev_examples)
        return get_score(scores, "ner.strict.micro.f1"), scores

    report(progress, ProgressEvent("training", total=total_steps,
                                    info={"epoch": 0, "epochs": epochs, "step": 0}))
    for epoch in range(1, epochs + 1):
        net.train()
        if config.augment > 0 or config.mention_swap > 0:
            epoch_examples = [augment_digits(ex, rng) if rng.random() < config.augment
                              else ex for ex in train_examples]
            if config.mention_swap > 0:
                epoch_examples = [
                    swap_mentions(ex, pool, rng) if rng.random() < config.mention_swap
                    else ex for ex in epoch_examples]
            windows = [w for s in tagger.encode(epoch_examples) for w in s.windows]
        else:
            windows = base_windows
        batches = _length_bucketed(windows, config.batch_size, gen)
        sums: dict[str, float] = {t: 0.0 for t in active}
        total_loss = 0.0
        for idx in batches:
            batch = to_device(tagger.collate([windows[i] for i in idx]), device)
            losses = net.task_losses(batch)
            loss = weighting({t: losses[t] for t in active})
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(
                    [p for p in net.parameters() if p.requires_grad], config.grad_clip)
            optimizer.step()
            weighting.project_()
            scheduler.step()
            step += 1
            step_loss = float(loss.detach())
            total_loss += step_loss
            for t in active:
                sums[t] += float(losses[t].detach())
            if progress:
                progress(ProgressEvent("training", advance=1, total=total_steps,
                                       info={"epoch": epoch, "epochs": epochs, "step": step,
                                             "loss": step_loss}))
        epochs_run = epoch
        if config.average_last and epoch > epochs - config.average_last:
            if averaged is None:
                averaged = torch.optim.swa_utils.AveragedModel(net, use_buffers=False)
            averaged.update_parameters(net)
        n_b = max(1, len(batches))
        record: dict[str, Any] = {
            "epoch": epoch, "step": step, "loss": total_loss / n_b,
            "task_losses": {t: v / n_b for t, v in sums.items()},
            "weights": weighting.weights(),
        }
        if dev_examples and (epoch % eval_every == 0 or epoch == epochs):
            f1, scores = dev_f1()
            record["dev_f1"] = f1
            if f1 > best_f1:
                best_f1, best_epoch, best_scores = f1, epoch, scores
                best_state = copy.deepcopy(net.state_dict())
                bad_evals = 0
            else:
                bad_evals += 1
            logger.info("epoch %d loss %.4f dev strict F1 %.4f", epoch, record["loss"], f1)
        history.append(record)
        if dev_examples and config.patience and bad_evals >= config.patience:
            logger.info("early stop after epoch %d (best %d)", epoch, best_epoch)
            break
    report(progress, ProgressEvent("training", total=total_steps, done=True,
                                    info={"epoch": epochs_run, "epochs": epochs, "step": step}))
    averaged_epochs = 0
    if averaged is not None:
        # The mean is one more candidate: without a dev split it replaces the last epoch,
        # with one it must beat the best epoch's dev F1 like any epoch.
        n = int(averaged.n_averaged)
        mean_state = averaged.module.state_dict()
        keep = not dev_examples
        if dev_examples:
            net.load_state_dict(mean_state)
            f1, scores = dev_f1()
            logger.info("mean of the last %d epochs: dev strict F1 %.4f", n, f1)
            keep = f1 > best_f1
            if keep:
                best_f1, best_scores = f1, scores
        if keep:
            best_state, best_epoch, averaged_epochs = mean_state, epochs_run, n
            logger.info("kept the mean of the weights of epochs %d-%d", epochs_run - n + 1,
                        epochs_run)
    if best_state is not None:
        net.load_state_dict(best_state)
    else:
        best_epoch = epochs_run
    net.eval()
    wall = time.perf_counter() - started
    tagger.metrics = {"train_config": config.to_dict(), "dev": best_scores,
                      "best_epoch": best_epoch, "epochs_run": epochs_run, "steps": step,
                      "averaged_epochs": averaged_epochs,
                      "wall_time_s": wall, "n_train": len(train_examples),
                      "n_dev": len(dev_examples)}
    if out_dir is not None:
        tagger.save(out_dir)
    return TrainResult(tagger=tagger, history=history, best_epoch=best_epoch,
                       epochs_run=epochs_run, dev_scores=best_scores, wall_time_s=wall,
                       config=config, steps=step)


def _train_ensemble(
    train_examples: Sequence[Example],
    dev_examples: Sequence[Example],
    config: TrainConfig,
    out_dir: str | Path | None,
    progress: ProgressSink | None,
) -> TrainResult:
    """``config.ensemble`` single networks (seeds ``seed``, ``seed + 1`` ...), each trained
    as :func:`train` trains one, joined into one seed-ensemble tagger."""
    started = time.perf_counter()
    results = []
    for i in range(config.ensemble):
        logger.info("ensemble member %d of %d (seed %d)", i + 1, config.ensemble, config.seed + i)
        results.append(train(train_examples, dev_examples,
                             config.with_(ensemble=1, seed=config.seed + i), progress=progress))
    first = results[0]
    model_config = replace(first.tagger.config, members=config.ensemble)
    tagger = PKTagger(model_config, EnsembleTagger(model_config, [r.tagger.network
                                                                  for r in results]),
                      first.tagger.tokenizer)
    tagger.network.eval()
    dev_scores = evaluate(tagger, dev_examples) if dev_examples else {}
    wall = time.perf_counter() - started
    members = [{"seed": r.config.seed, "best_epoch": r.best_epoch, "epochs_run": r.epochs_run,
                "steps": r.steps, "wall_time_s": r.wall_time_s,
                "averaged_epochs": r.tagger.metrics["averaged_epochs"],
                "dev_f1": get_score(r.dev_scores, "ner.strict.micro.f1") if r.dev_scores
                else None} for r in results]
    # the first member's metrics (epochs, data sizes), with what the ensemble changes
    tagger.metrics = {**first.tagger.metrics, "train_config": config.to_dict(),
                      "dev": dev_scores, "steps": sum(r.steps for r in results),
                      "members": members, "wall_time_s": wall}
    if out_dir is not None:
        tagger.save(out_dir)
    history = [{**record, "member": i} for i, r in enumerate(results) for record in r.history]
    return TrainResult(tagger=tagger, history=history, best_epoch=first.best_epoch,
                       epochs_run=first.epochs_run, dev_scores=dev_scores, wall_time_s=wall,
                       config=config, steps=sum(r.steps for r in results))


def _length_bucketed(windows: Sequence[Any], batch_size: int, gen: torch.Generator
                     ) -> list[list[int]]:
    """Batches of windows of similar length (less padding: CPU time is the bottleneck), in a
    shuffled order. Lengths are jittered by up to 8 pieces so that batches vary by epoch."""
    lengths = torch.tensor([len(w.input_ids) for w in windows], dtype=torch.float)
    keys = lengths + 8.0 * torch.rand(len(windows), generator=gen)
    order = torch.argsort(keys, stable=True).tolist()
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [chunks[i] for i in torch.randperm(len(chunks), generator=gen).tolist()]

