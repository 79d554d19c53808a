"""Running a study grid: matched data per seed, training, evaluation, gradient similarity, and
one stored row set per finished run (resumable, incremental).

Matched seeds: for seed s the corpus (in the run's view) is split by article with
``split_by_article(examples, split, seed=s)``, then the training part is downsampled with
``downsample(train, fraction, seed=s)``. Every configuration (weighting, heads) of the same
view, seed and fraction therefore sees the same training subset, dev set and test set; the
hashes of their example ids are stored with each run and checked against the runs already
stored before training.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pkharvest.corpus.reader import apply_view, read_corpus, resolve_corpus_path
from pkharvest.corpus.records import Example
from pkharvest.corpus.sample import downsample
from pkharvest.corpus.splits import DEFAULT_PROPORTIONS, split_by_article
from pkharvest.errors import StoreError, UsageError
from pkharvest.experiment.grid import RunSpec, ids_hash
from pkharvest.experiment.runstore import RunRecord, RunStore
from pkharvest.experiment.similarity import DEFAULT_BATCHES, gradient_similarity
from pkharvest.progress import ProgressEvent, ProgressSink, report

log = logging.getLogger(__name__)

#: TrainConfig fields that the grid sets per run; the others are the study's training options.
PER_RUN_FIELDS = ("view", "fraction", "weighting", "seed", "heads", "split")


@dataclass(frozen=True)
class RunData:
    """The examples one run trains, selects and is scored on."""

    train: list[Example]
    dev: list[Example]
    test: list[Example]

    @property
    def hashes(self) -> tuple[str, str, str]:
        return ids_hash(self.train), ids_hash(self.dev), ids_hash(self.test)


@dataclass
class StudySummary:
    planned: int
    skipped: int
    trained: int = 0
    wall_time_s: float = 0.0
    run_keys: list[str] = field(default_factory=list)


def train_options(options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate the study's training options (TrainConfig fields other than the per-run ones)
    and return them complete, defaults filled in: the settings every run of a folder shares."""
    from pkharvest.training.trainer import TrainConfig

    options = dict(options or {})
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    for key in options:
        if key in PER_RUN_FIELDS:
            raise UsageError(f"{key!r} is set by the grid, not a training option", field="options")
        if key not in names:
            known = ", ".join(sorted(names - set(PER_RUN_FIELDS)))
            raise UsageError(f"unknown training option {key!r} (known: {known})", field="options")
    hints = typing.get_type_hints(TrainConfig)
    options = {key: coerce_option(key, value, hints[key]) for key, value in options.items()}
    if options.get("refit"):
        raise UsageError("studies early-stop every run on the dev split of its seed (the "
                         "method's protocol); refit is not a study option", field="options")
    full = TrainConfig(**{**options, "refit": False}).to_dict()
    return {k: v for k, v in full.items() if k not in PER_RUN_FIELDS}


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def coerce_option(name: str, value: Any, hint: Any) -> Any:
    """``value`` of the training option ``name`` as the type ``hint`` of its TrainConfig field
    (``--set`` values arrive JSON-parsed, else as strings): an integral number for an ``int``,
    a finite number for a ``float``, ``true``/``false`` for a ``bool``, ``null`` only where the
    field is optional. Anything else raises :class:`UsageError` naming ``--set`` and the key."""

    def bad(expected: str) -> UsageError:
        return UsageError(f"{name} must be {expected}, got {value!r}", field="options")

    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        kinds = [a for a in args if a is not type(None)]
        if len(kinds) == 1:
            try:
                return coerce_option(name, value, kinds[0])
            except UsageError:
                if type(None) not in args:
                    raise
                what = {int: "an integer", float: "a number"}.get(kinds[0], "a value")
                raise bad(f"{what} or null") from None
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce_option(name, v, args[0]) for v in value)
        if len(value) != len(args):
            raise bad(f"a list of {len(args)}")
        return tuple(coerce_option(name, v, a) for v, a in zip(value, args, strict=True))
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise bad("true or false")
    if hint is int:
        if isinstance(value, bool):
            raise bad("an integer")
        if isinstance(value, int):
            return value
        number = _number(value)
        if number is None or not math.isfinite(number) or not number.is_integer():
            raise bad("an integer")
        return int(number)
    if hint is float:
        number = None if isinstance(value, bool) else _number(value)
        if number is None:
            raise bad("a number")
        if not math.isfinite(number):
            raise bad("a finite number")
        return number
    if hint is str:
        if not isinstance(value, str):
            raise bad("a string")
        return value
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class StudyData:
    """Views, seed splits and downsampled training sets of one corpus, cached."""

    def __init__(self, examples: Sequence[Example], split: Sequence[float]) -> None:
        self.examples = list(examples)
        self.split = tuple(split)
        self._view = lru_cache(maxsize=None)(self._make_view)
        self._split = lru_cache(maxsize=4)(self._make_split)

    def _make_view(self, view: str) -> list[Example]:
        return apply_view(self.examples, view)

    def _make_split(self, view: str, seed: int) -> Any:
        return split_by_article(self._view(view), self.split, seed=seed)

    def for_run(self, spec: RunSpec) -> RunData:
        parts = self._split(spec.view, spec.seed)
        train = downsample(parts.train, spec.fraction, seed=spec.seed)
        return RunData(train=train, dev=list(parts.dev), test=list(parts.test))


def train_one(
    spec: RunSpec,
    data: RunData,
    options: Mapping[str, Any],
    *,
    split: Sequence[float] = DEFAULT_PROPORTIONS,
    similarity_batches: int = DEFAULT_BATCHES,
) -> RunRecord:
    """Train and score on test (:func:`pkharvest.training.workflow.run` on the run's matched
    data), measure task-gradient similarity (multi-task runs only)."""
    from pkharvest.training.evaluate import flatten_scores
    from pkharvest.training.sets import TrainingSets
    from pkharvest.training.trainer import TrainConfig
    from pkharvest.training.workflow import run

    config = TrainConfig(
        view=spec.view, fraction=spec.fraction, weighting=spec.weighting, seed=spec.seed,
        heads=spec.heads, split=tuple(split), **options,
    )  # fmt: skip
    trained = run(config, TrainingSets(data.train, data.dev, data.test, refit=False))
    result = trained.result
    test_scores = flatten_scores(trained.test)
    sims: dict[tuple[str, str], float] = {}
    n_batches = 0
    if spec.multi_task and similarity_batches > 0:
        sims, n_batches = gradient_similarity(
            result.tagger, data.dev, max_batches=similarity_batches
        )
    train_hash, dev_hash, test_hash = data.hashes
    return RunRecord(
        spec=spec,
        train_hash=train_hash,
        dev_hash=dev_hash,
        test_hash=test_hash,
        n_train=len(data.train),
        n_dev=len(data.dev),
        n_test=len(data.test),
        test_scores=test_scores,
        dev_scores=flatten_scores(result.dev_scores or {}),
        epochs_run=result.epochs_run,
        best_epoch=result.best_epoch,
        wall_time_s=result.wall_time_s,
        config=config.to_dict(),
        history=result.history,
        similarities=sims,
        similarity_batches=n_batches,
    )


def _run_line(record: RunRecord) -> str:
    """A stored run as a progress message: its key, test F1 and training time."""
    f1 = record.test_scores.get("ner.strict.micro.f1")
    score = f"{f1:.4f}" if f1 is not None else "n/a"
    return f"{record.spec.key}: test F1 {score}, {record.wall_time_s:.0f} s"


def study_settings(
    corpus_path: Path, split: Sequence[float], similarity_batches: int,
    options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The settings every run of a folder shares (recorded by the first run, checked later)."""
    return {
        "corpus_sha256": file_sha256(corpus_path),
        "split": list(split),
        "similarity_batches": similarity_batches,
        "train": train_options(options),
    }


def run_study(
    corpus: Path | None,
    out_dir: Path,
    grid: Sequence[RunSpec],
    options: Mapping[str, Any] | None = None,
    *,
    split: Sequence[float] = DEFAULT_PROPORTIONS,
    similarity_batches: int = DEFAULT_BATCHES,
    progress: ProgressSink | None = None,
) -> StudySummary:
    """Train every run of ``grid`` not yet stored in ``out_dir/runs.duckdb``, storing each as
    it finishes. A folder's runs must share corpus, split and training options (checked).
    ``progress`` hears of each run (task ``"runs"``, ``info["run"]`` its key) before training
    (``advance`` 0) and once stored (``advance`` 1, ``info["record"]`` the
    :class:`RunRecord`, ``message`` its test F1 and time)."""
    started = time.perf_counter()
    corpus_path = resolve_corpus_path(corpus)
    settings = study_settings(corpus_path, split, similarity_batches, options)
    store = RunStore(out_dir)
    store.check_settings(settings)
    done = store.done()
    todo = [s for s in grid if s.key not in done]
    summary = StudySummary(planned=len(grid), skipped=len(grid) - len(todo))
    log.info("%d run(s) planned, %d already stored, %d to train", len(grid),
             summary.skipped, len(todo))  # fmt: skip
    if not todo:
        return summary
    data = StudyData(read_corpus(corpus_path), split)
    known = _subset_hashes(store)
    for i, spec in enumerate(todo):
        run_data = data.for_run(spec)
        _check_matched(spec, run_data, known)
        report(progress, ProgressEvent("runs", total=len(todo) if i == 0 else None,
                                       info={"run": spec.key, "index": i}))
        record = train_one(spec, run_data, settings["train"], split=split,
                           similarity_batches=similarity_batches)  # fmt: skip
        store.add(record)
        known.setdefault(_group(spec), record.train_hash)
        summary.trained += 1
        summary.run_keys.append(spec.key)
        report(progress, ProgressEvent(
            "runs", advance=1, total=len(todo), message=_run_line(record),
            info={"run": spec.key, "index": i, "record": record}, done=i == len(todo) - 1))
    summary.wall_time_s = time.perf_counter() - started
    return summary


def _group(spec: RunSpec) -> tuple[str, int, float]:
    return (spec.view, spec.seed, spec.fraction)


def _subset_hashes(store: RunStore) -> dict[tuple[str, int, float], str]:
    runs = store.runs()
    out: dict[tuple[str, int, float], str] = {}
    for r in runs.itertuples():
        out.setdefault((r.view, int(r.seed), float(r.fraction)), r.train_hash)
    return out


def _check_matched(
    spec: RunSpec, data: RunData, known: dict[tuple[str, int, float], str]
) -> None:
    if not data.test:
        raise UsageError("the split leaves no test sentences", field="split")
    stored = known.get(_group(spec))
    if stored is not None and stored != ids_hash(data.train):
        raise StoreError(
            f"run {spec.key}: its training subset differs from the stored runs of the same "
            "view, seed and fraction (the corpus reading or sampling code changed); start a "
            "new --out folder"
        )
