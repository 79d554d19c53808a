"""Grouped k-fold cross-validation over the train + dev part of the default article split: the
method that chose the project's defaults, with the test split never touched.

Folds: scikit-learn's ``StratifiedGroupKFold`` (groups = articles, strata = sentences with /
without a PK span, ``random_state=0``) over the train + dev sentences of
``split_by_article(..., DEFAULT_PROPORTIONS, DEFAULT_SEED)``. For one training configuration and
one seed (a *job*), a model trains on all other folds for the whole schedule (``refit``, the
default at full data) and keeps, for every sentence of the held-out fold, its word scores
(:meth:`~pkharvest.model.tagger.PKTagger.word_scores`) in ``JOB/foldK/oof.safetensors``; a
fold already kept is not trained again. Scores pool the out-of-fold predictions of the product's
decoding: strict micro and per-label F1, per-fold micro F1 and, when the model tags values, the
record F1 of what the search pipeline would store from those sentences. Several seeds' word
scores averaged give the seed ensemble's figures.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import statistics
import time
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from sklearn.model_selection import StratifiedGroupKFold

from pkharvest.corpus.reader import apply_view, read_corpus
from pkharvest.corpus.records import Example
from pkharvest.corpus.splits import DEFAULT_PROPORTIONS, DEFAULT_SEED, split_by_article
from pkharvest.errors import UsageError
from pkharvest.experiment.runner import coerce_option
from pkharvest.model.tagger import PKTagger, WordScores
from pkharvest.progress import ProgressEvent, ProgressSink, report
from pkharvest.records import Sentence
from pkharvest.scoring import gold_records, measurement_records, score_records
from pkharvest.training.metrics import span_scores
from pkharvest.training.trainer import TrainConfig, train

log = logging.getLogger(__name__)

OOF_FILE = "oof.safetensors"
OOF_META = "oof.json"
RESULT_FILE = "result.json"
SUMMARY_FILE = "summary.json"
DEFAULT_FOLDS = 5


def cv_folds(examples: Sequence[Example], n_folds: int = DEFAULT_FOLDS
             ) -> tuple[list[Example], list[list[int]]]:
    """The train + dev sentences of the default article split of ``examples`` and ``n_folds``
    grouped, PK-stratified folds of them (indices into that pool)."""
    if n_folds < 2:
        raise UsageError(f"must be at least 2, got {n_folds}", field="folds")
    examples = apply_view(list(examples), "full")
    split = split_by_article(examples, DEFAULT_PROPORTIONS, DEFAULT_SEED)
    pool = split.train + split.dev
    strata = [int(any(s.label == "PK" for s in e.spans)) for e in pool]
    groups = [e.article_id for e in pool]
    if len(set(groups)) < n_folds:
        raise UsageError(f"{n_folds} folds need at least {n_folds} articles in train + dev, "
                         f"the corpus has {len(set(groups))}", field="folds")
    kfold = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=0)
    return pool, [list(te) for _, te in kfold.split(np.zeros(len(pool)), strata, groups)]


def cv_config(options: Mapping[str, Any] | None = None, seed: int = 13) -> TrainConfig:
    """The training configuration of one job: ``options`` (TrainConfig fields, values as a
    user gives them) at ``seed``, refit on all other folds; ``epochs`` given ⇒ ``min_steps``
    0 unless given too. An unknown or bad option raises :class:`UsageError` (field
    ``options``)."""
    options = dict(options or {})
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    hints = typing.get_type_hints(TrainConfig)
    for key in options:
        if key in ("seed", "refit"):
            raise UsageError(f"{key!r} is set by the cross-validation, not an option",
                             field="options")
        if key not in names:
            raise UsageError(f"unknown training option {key!r}", field="options")
    values = {key: coerce_option(key, value, hints[key]) for key, value in options.items()}
    if "epochs" in values:
        values.setdefault("min_steps", 0)
    return TrainConfig(**{**values, "seed": seed, "refit": True})


def save_oof(folder: Path, scores: Sequence[WordScores]) -> None:
    """Keep one fold's out-of-fold word scores in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for i, s in enumerate(scores):
        tensors[f"ner.{i}"], tensors[f"mtcls.{i}"] = s.ner.contiguous(), s.mtcls.contiguous()
    save_file(tensors, str(folder / OOF_FILE))
    meta = [{"text": s.text, "word_offsets": s.word_offsets, "bcls": s.bcls, "mcls": s.mcls}
            for s in scores]
    (folder / OOF_META).write_text(json.dumps(meta), encoding="utf-8")


def load_oof(folder: Path) -> list[WordScores]:
    """The word scores :func:`save_oof` kept in ``folder``."""
    tensors = load_file(str(folder / OOF_FILE))
    meta = json.loads((folder / OOF_META).read_text(encoding="utf-8"))
    return [WordScores(m["text"], [tuple(o) for o in m["word_offsets"]], tensors[f"ner.{i}"],
                       tensors[f"mtcls.{i}"], m["bcls"], m["mcls"]) for i, m in enumerate(meta)]


def mean_scores(members: Sequence[Sequence[WordScores]]) -> list[WordScores]:
    """Average the word scores of several models, sentence by sentence (log-probabilities:
    a geometric mean of the NER distributions; window bCLS / mCLS outputs pooled)."""
    out = []
    for group in zip(*members, strict=True):
        first = group[0]
        out.append(WordScores(
            first.text, first.word_offsets,
            torch.stack([g.ner for g in group]).mean(0),
            torch.stack([g.mtcls for g in group]).mean(0),
            [b for g in group for b in g.bcls], [m for g in group for m in g.mcls]))
    return out


def train_folds(pool: Sequence[Example], folds: Sequence[Sequence[int]], config: TrainConfig,
                job_dir: Path, progress: ProgressSink | None = None) -> None:
    """Train a model per fold on the other folds and keep its out-of-fold word scores under
    ``job_dir/foldK``; a fold already kept is skipped. Reports task ``"folds"``."""
    pool = apply_view(list(pool), config.view)
    for k, fold in enumerate(folds):
        folder = job_dir / f"fold{k}"
        if (folder / OOF_FILE).is_file():
            report(progress, ProgressEvent("folds", advance=1, total=len(folds),
                                           done=k == len(folds) - 1))
            continue
        report(progress, ProgressEvent("folds", total=len(folds), info={"fold": k}))
        train_part = [pool[i] for j, f in enumerate(folds) if j != k for i in f]
        started = time.perf_counter()
        result = train(train_part, [], config, progress=False)
        save_oof(folder, result.tagger.word_scores([pool[i].text for i in fold]))
        report(progress, ProgressEvent(
            "folds", advance=1, total=len(folds), done=k == len(folds) - 1,
            message=f"seed {config.seed} fold {k}: {len(train_part)} sentences, "
                    f"{time.perf_counter() - started:.0f} s"))


def _records(predictions: list, examples: Sequence[Example]) -> set:
    """(pmid, parameter, value) records of held-out sentences made as the search pipeline
    makes them (``pipeline.predictions_to_measurements``)."""
    from pkharvest.pipeline import predictions_to_measurements  # local: the pipeline's imports

    sentences = [Sentence(str(ex.pmid), i, ex.text, 0, len(ex.text))
                 for i, ex in enumerate(examples)]
    return measurement_records(predictions_to_measurements(sentences, predictions)[2])


def score_folds(pool: Sequence[Example], folds: Sequence[Sequence[int]], config: TrainConfig,
                job_dirs: Sequence[Path]) -> dict[str, Any]:
    """Pooled out-of-fold strict F1 of the product's decoding, the word scores of the jobs in
    ``job_dirs`` averaged (one job: that seed's models): ``micro``, ``precision``,
    ``recall``, one F1 per label, ``per_fold_micro`` and ``record_f1`` (None for a model that
    tags no values)."""
    model_config = config.model_config()
    decoder = PKTagger(model_config, network=None, tokenizer=None)  # decoding needs no network
    labels = model_config.labels
    pool = apply_view(list(pool), config.view)
    with_records = "VALUE" in labels
    gold: list = []
    pred: list = []
    per_fold: list[float] = []
    found: set = set()
    for k, fold in enumerate(folds):
        averaged = mean_scores([load_oof(d / f"fold{k}") for d in job_dirs])
        decoded = decoder.decode(averaged)
        g = [[(sp.start, sp.end, sp.label) for sp in pool[i].spans] for i in fold]
        p = [[(e.start, e.end, e.label) for e in d.entities] for d in decoded]
        per_fold.append(span_scores(g, p, labels)["micro"]["f1"])
        gold += g
        pred += p
        if with_records:
            found |= _records(decoder.decode(averaged, drop_unlinked=False),
                              [pool[i] for i in fold])
    pooled = span_scores(gold, pred, labels)
    out: dict[str, Any] = {
        "micro": pooled["micro"]["f1"], "precision": pooled["micro"]["precision"],
        "recall": pooled["micro"]["recall"],
        **{lab: v["f1"] for lab, v in pooled["per_label"].items()},
        "per_fold_micro": per_fold, "record_f1": None}
    if with_records:
        rec = score_records(found, gold_records(pool))
        out.update(record_f1=rec.f1, record_tp=rec.tp, record_fp=rec.fp, record_fn=rec.fn)
    return out


def run_job(pool: Sequence[Example], folds: Sequence[Sequence[int]], config: TrainConfig,
            job_dir: Path, progress: ProgressSink | None = None) -> dict[str, Any]:
    """Train and score every fold of one configuration at one seed (``config.seed``); the
    scores are also written to ``job_dir/result.json``."""
    started = time.perf_counter()
    train_folds(pool, folds, config, job_dir, progress)
    result = {"seed": config.seed, "device": config.device,
              "wall_s": time.perf_counter() - started,
              **score_folds(pool, folds, config, [job_dir])}
    (job_dir / RESULT_FILE).write_text(json.dumps(result) + "\n", encoding="utf-8")
    return result


@dataclass
class CVSummary:
    """The jobs of one cross-validation (one per seed), their mean and standard deviation,
    and the seed ensemble over all seeds (None with one seed)."""

    folds: int
    sentences: int
    jobs: list[dict[str, Any]] = field(default_factory=list)
    micro_mean: float = 0.0
    micro_sd: float = 0.0
    ensemble: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _sd(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def run_cv(corpus: Path | None, out: Path, options: Mapping[str, Any] | None = None,
           seeds: Sequence[int] = (13,), n_folds: int = DEFAULT_FOLDS,
           progress: ProgressSink | None = None) -> CVSummary:
    """Cross-validate one training configuration (``options``, see :func:`cv_config`) at each
    of ``seeds``: a job per seed under ``out/sSEED`` (resumable: kept folds are not trained
    again). Writes ``out/summary.json`` and returns the summary."""
    if not seeds:
        raise UsageError("give at least one seed", field="seeds")
    configs = [cv_config(options, seed) for seed in seeds]
    pool, folds = cv_folds(read_corpus(corpus), n_folds)
    log.info("%d train + dev sentences in %d folds: %s", len(pool), n_folds,
             ", ".join(str(len(f)) for f in folds))
    summary = CVSummary(folds=n_folds, sentences=len(pool))
    for config in configs:
        result = run_job(pool, folds, config, out / f"s{config.seed}", progress)
        summary.jobs.append(result)
        report(progress, ProgressEvent("seeds", message=(
            f"seed {config.seed}: micro {result['micro']:.4f}  PK {result.get('PK', 0.0):.4f}  "
            f"records {_fmt(result['record_f1'])}  ({result['wall_s']:.0f} s)")))
    micro = [j["micro"] for j in summary.jobs]
    summary.micro_mean, summary.micro_sd = statistics.mean(micro), _sd(micro)
    if len(configs) > 1:
        summary.ensemble = score_folds(pool, folds, configs[0],
                                       [out / f"s{c.seed}" for c in configs])
    (out / SUMMARY_FILE).write_text(json.dumps(summary.to_dict(), indent=1) + "\n",
                                    encoding="utf-8")
    return summary


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
