"""Where a bulk run tags its chunks of articles: in the running process, in a local process
pool, or on Ray actors. Each worker loads the model once (:class:`ModelSpec`) and turns a chunk
of parsed articles into :class:`~pkharvest.records.ArticleResult` values with
:func:`process_articles`; the driver hands chunks out in file order and takes the results back
in the same order, so that one writer applies them to the store file by file.

A tagger is not shared between threads: during ``predict`` it swaps the forward method of its
Linear layers (``pkharvest.model.tagger._linear_per_sequence``), so parallel tagging takes one
tagger per process (local pool) or per actor (Ray).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pkharvest.errors import UsageError
from pkharvest.pipeline import Extractor, load_tagger
from pkharvest.records import Article, ArticleResult
from pkharvest.screen import DEFAULT_THRESHOLD

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to build its own :class:`Extractor`: the model folder (a path every
    worker can read: on a Ray cluster, a shared file system or the same path on every node),
    precision, bCLS threshold, batch size and torch threads per worker."""

    model_dir: Path
    precision: str = "fp32"
    threshold: float = DEFAULT_THRESHOLD
    batch_size: int = 32
    threads: int | None = 1

    def load(self) -> Extractor:
        from pkharvest.model.tagger import set_threads

        set_threads(self.threads)
        return Extractor(load_tagger(self.model_dir, self.precision),
                         threshold=self.threshold, batch_size=self.batch_size)


def process_articles(extractor: Extractor, articles: Sequence[Article]) -> list[ArticleResult]:
    """A chunk of articles through :meth:`pkharvest.pipeline.Extractor.process_articles`."""
    return extractor.process_articles(articles)


class Workers(Protocol):
    """Taggers that take chunks of articles (``submit``) and give back their results
    (``result``, in any order the caller asks for them)."""

    model_version: str
    #: how many chunks may be in flight at once
    slots: int

    def submit(self, articles: list[Article]) -> Any: ...

    def result(self, handle: Any) -> list[ArticleResult]: ...

    def close(self) -> None: ...


class InProcess:
    """The running process tags (the reader thread still parses ahead of it); a chunk is
    tagged when its result is asked for, right after it is submitted."""

    slots = 0

    def __init__(self, extractor: Extractor) -> None:
        self.extractor = extractor
        self.model_version = extractor.model_version

    def submit(self, articles: list[Article]) -> list[Article]:
        return articles  # tagged when the result is asked for, in this process

    def result(self, handle: list[Article]) -> list[ArticleResult]:
        return process_articles(self.extractor, handle)

    def close(self) -> None:
        return None


_WORKER_EXTRACTOR: Extractor | None = None


def _pool_init(spec: ModelSpec) -> None:
    global _WORKER_EXTRACTOR
    _WORKER_EXTRACTOR = spec.load()


def _pool_version() -> str:
    assert _WORKER_EXTRACTOR is not None
    return _WORKER_EXTRACTOR.model_version


def _pool_process(articles: list[Article]) -> list[ArticleResult]:
    assert _WORKER_EXTRACTOR is not None
    return process_articles(_WORKER_EXTRACTOR, articles)


class LocalPool:
    """``workers`` processes on this machine (spawned: a forked copy of a process that already
    ran torch's thread pool may hang), each loading the model once."""

    def __init__(self, spec: ModelSpec, workers: int) -> None:
        self.slots = 2 * workers
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_pool_init, initargs=(spec,))
        self.model_version = self.pool.submit(_pool_version).result()

    def submit(self, articles: list[Article]) -> Future[list[ArticleResult]]:
        return self.pool.submit(_pool_process, articles)

    def result(self, handle: Future[list[ArticleResult]]) -> list[ArticleResult]:
        return handle.result()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class _TaggerActor:
    """A Ray actor holding one loaded model."""

    def __init__(self, spec: ModelSpec) -> None:
        self.extractor = spec.load()

    def model_version(self) -> str:
        return self.extractor.model_version

    def process(self, articles: list[Article]) -> list[ArticleResult]:
        return process_articles(self.extractor, articles)


class RayPool:
    """``workers`` Ray actors (one CPU each), each loading the model once; chunks go to them in
    turn. Joins the cluster at ``address`` (``auto``: the running one), or uses the Ray already
    initialised in this process, or starts a local Ray with ``workers`` CPUs (shut down by
    :meth:`close`)."""

    def __init__(self, spec: ModelSpec, workers: int, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise UsageError("the ray engine needs Ray: pip install 'pkharvest[ray]'",
                             field="engine") from None
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            self.started = True
        actor = ray.remote(num_cpus=1)(_TaggerActor)
        self.actors = [actor.remote(spec) for _ in range(workers)]
        self.slots = 2 * workers
        self.turn = 0
        versions = set(ray.get([a.model_version.remote() for a in self.actors]))
        if len(versions) != 1:  # a cluster whose nodes hold different weights at the path
            raise UsageError(f"workers loaded different models: {sorted(versions)}",
                             field="model")
        self.model_version = versions.pop()

    def submit(self, articles: list[Article]) -> Any:
        actor = self.actors[self.turn % len(self.actors)]
        self.turn += 1
        return actor.process.remote(articles)

    def result(self, handle: Any) -> list[ArticleResult]:
        return self.ray.get(handle)  # type: ignore[no-any-return]

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)
        if self.started:
            self.ray.shutdown()


def check_engine(engine: str, workers: int, address: str | None) -> None:
    """UsageError naming the field when the engine settings do not go together."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: use {' or '.join(ENGINES)}",
                         field="engine")
    if workers < 1:
        raise UsageError(f"must be at least 1, got {workers}", field="workers")
    if address and engine != "ray":
        raise UsageError("an address is for the ray engine", field="address")


def make_workers(model: Extractor | ModelSpec, *, engine: str = "local", workers: int = 1,
                 address: str | None = None) -> Workers:
    """The workers of a bulk run: ``engine`` ``local`` with one worker tags in this process
    (``model`` may be a loaded Extractor), with more in a process pool; ``ray`` on Ray actors.
    Several workers need a :class:`ModelSpec` (each loads the model itself)."""
    check_engine(engine, workers, address)
    if engine == "local" and workers == 1:
        return InProcess(model if isinstance(model, Extractor) else model.load())
    if not isinstance(model, ModelSpec):
        raise UsageError("several workers or Ray need the model folder (a ModelSpec), not a "
                         "loaded model", field="model")
    if engine == "local":
        return LocalPool(model, workers)
    return RayPool(model, workers, address)
