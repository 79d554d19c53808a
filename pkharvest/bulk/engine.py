"""The bulk driver: baseline files in name order, read by a thread ahead of the tagging, tagged
by the workers of an engine (:mod:`pkharvest.bulk.workers`), and written to the store by this
process alone (DuckDB has one writer), one transaction a file.

Streaming: a reader thread hashes each file, parses it (lxml ``iterparse``, chunks of
``chunk`` articles) and puts the chunks on a bounded queue (``QUEUE_CHUNKS``), so parsing
overlaps tagging and memory stays bounded; the driver keeps up to ``workers.slots`` chunks in
flight and takes their results back in file order.

Within a file, a later record of a PMID replaces an earlier one and a ``DeleteCitation``
removes the PMID (earlier in the file or already in the store); across files, the file later
in name order wins, as NLM's numbering of baseline and update files intends. A file's results
are held until the file has been read whole, then written with its deletions and its manifest
entry (``bulk_files``: name, size, SHA-256, counts, model version) in one transaction
(``Store.write_file_batch``). Hence:

* a malformed or truncated file raises FetchError naming it and leaves the store as it was
  before that file (the files before it stay written);
* a re-run skips every file whose name, checksum and model version the manifest holds;
* a run killed at any point leaves whole files behind and their manifest entries: a re-run
  resumes with the first unfinished file and ends with the content of an uninterrupted run.

Predictions do not depend on batching (``PKTagger.word_scores``), so chunks can mix articles
freely and every engine stores the same rows.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pkharvest.bulk.reader import (
    DEFAULT_CHUNK,
    Deletion,
    baseline_files,
    file_digest,
    read_baseline,
)
from pkharvest.bulk.workers import ModelSpec, Workers, make_workers, process_articles
from pkharvest.errors import UsageError
from pkharvest.pipeline import Extractor
from pkharvest.progress import ProgressEvent, ProgressSink, report
from pkharvest.records import ArticleResult
from pkharvest.store import BulkFile, Store

logger = logging.getLogger(__name__)

#: Parsed chunks the reader thread may hold ahead of the tagging.
QUEUE_CHUNKS = 4

# Progress: ProgressEvents of task "files" (advance: files done, total: files named) and of a
# task named after the file being read (advance: articles tagged; done at the file's end).

__all__ = ["BulkSummary", "FileSummary", "process_articles", "run_bulk"]


@dataclass
class FileSummary:
    name: str
    size: int = 0
    sha256: str = ""
    skipped: bool = False
    articles: int = 0
    deleted: int = 0
    sentences: int = 0
    sentences_kept: int = 0
    measurements: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in
                ("articles", "deleted", "sentences", "sentences_kept", "measurements")}


@dataclass
class BulkSummary:
    files: list[FileSummary] = field(default_factory=list)
    engine: str = "local"
    workers: int = 1
    model_version: str = ""
    seconds: float = 0.0

    def counts(self) -> dict[str, int | float]:
        keys = ("articles", "deleted", "sentences", "sentences_kept", "measurements")
        done = [f for f in self.files if not f.skipped]
        out: dict[str, int | float] = {"files": len(done),
                                       "skipped": len(self.files) - len(done)}
        for k in keys:
            out[k] = sum(getattr(f, k) for f in done)
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass(frozen=True)
class _Start:
    path: Path
    size: int
    sha256: str
    skip: bool


@dataclass(frozen=True)
class _End:
    path: Path


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_DONE = object()


def _read(files: list[Path], finished: set[tuple[str, str]], chunk: int,
          out: queue.Queue[Any], stop: threading.Event) -> None:
    """The reader thread: for every file a _Start (hash, and whether the manifest holds it),
    its chunks of articles and its deletions in file order, an _End; a _Failed on an error."""

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    try:
        for path in files:
            size, sha = file_digest(path)
            skip = (path.name, sha) in finished
            if not put(_Start(path, size, sha, skip)):
                return
            if not skip:
                for item in read_baseline(path, chunk):
                    if not put(item):
                        return
            if not put(_End(path)):
                return
        put(_DONE)
    except BaseException as exc:  # handed to the driver, which raises it
        put(_Failed(exc))


class _FileState:
    def __init__(self, start: _Start) -> None:
        self.start = start
        self.began = time.perf_counter()
        self.results: dict[str, ArticleResult] = {}
        self.deleted: set[str] = set()

    def apply(self, item: list[ArticleResult] | Deletion) -> None:
        if isinstance(item, Deletion):
            for pmid in item.pmids:
                self.results.pop(pmid, None)
                self.deleted.add(pmid)
            return
        for res in item:
            self.results.pop(res.article.pmid, None)  # a later version replaces an earlier one
            self.results[res.article.pmid] = res
            self.deleted.discard(res.article.pmid)


def run_bulk(paths: Iterable[str | Path], store: Store, model: Extractor | ModelSpec, *,
             engine: str = "local", workers: int = 1, address: str | None = None,
             chunk: int = DEFAULT_CHUNK, progress: ProgressSink | None = None) -> BulkSummary:
    """Apply every baseline file of ``paths`` (files or folders) to ``store`` in name order
    (see the module docstring). ``model``: a loaded Extractor (local engine, one worker) or a
    :class:`ModelSpec` each worker loads."""
    if chunk < 1:
        raise UsageError(f"must be at least 1, got {chunk}", field="chunk")
    files = baseline_files(paths)
    started = time.perf_counter()
    pool = make_workers(model, engine=engine, workers=workers, address=address)
    summary = BulkSummary(engine=engine, workers=workers, model_version=pool.model_version)
    try:
        _drive(files, store, pool, chunk, summary, progress)
    finally:
        pool.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _drive(files: list[Path], store: Store, pool: Workers, chunk: int, summary: BulkSummary,
           progress: ProgressSink | None) -> None:
    version = pool.model_version
    finished = {(f.name, f.sha256) for f in store.bulk_files()
                if f.model_version == version and f.sha256}
    items: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
    stop = threading.Event()
    reader = threading.Thread(target=_read, args=(files, finished, chunk, items, stop),
                              name="bulk-reader", daemon=True)
    reader.start()
    report(progress, ProgressEvent("files", 0, len(files)))
    # In file order: ("chunk", handle), ("delete", Deletion), ("start", _Start), ("end", _End).
    pending: deque[tuple[str, Any]] = deque()
    in_flight = 0
    state: _FileState | None = None

    def settle_one() -> None:
        nonlocal in_flight, state
        kind, value = pending.popleft()
        if kind == "start":
            state = _FileState(value)
        elif kind == "chunk":
            in_flight -= 1
            results = pool.result(value)
            assert state is not None
            state.apply(results)
            report(progress, ProgressEvent(state.start.path.name, len(results)))
        elif kind == "delete":
            assert state is not None
            state.apply(value)
        else:
            assert state is not None
            summary.files.append(_finish(state, store, version, progress))
            report(progress, ProgressEvent("files", 1, len(files),
                                           info={"file": state.start.path.name},
                                           done=len(summary.files) == len(files)))
            state = None

    try:
        while True:
            item = items.get()
            if item is _DONE:
                break
            if isinstance(item, _Failed):
                while any(k == "end" for k, _ in pending):  # files read whole are written
                    settle_one()
                raise item.error
            if isinstance(item, _Start):
                pending.append(("start", item))
            elif isinstance(item, _End):
                pending.append(("end", item))
            elif isinstance(item, Deletion):
                pending.append(("delete", item))
            else:
                pending.append(("chunk", pool.submit(item)))
                in_flight += 1
            # settle what needs no waiting, and the oldest chunks beyond the free slots
            while pending and (pending[0][0] != "chunk" or in_flight > pool.slots):
                settle_one()
        while pending:
            settle_one()
    finally:
        stop.set()
        reader.join(timeout=5)


def _finish(state: _FileState, store: Store, version: str,
            progress: ProgressSink | None) -> FileSummary:
    start = state.start
    s = FileSummary(start.path.name, start.size, start.sha256, skipped=start.skip)
    if start.skip:
        logger.info("%s: already applied with model %s, skipped", start.path.name, version)
        report(progress, ProgressEvent(start.path.name, 0, done=True,
                                       message=f"{start.path.name}: already applied, skipped"))
        return s
    kept = list(state.results.values())
    s.articles = len(kept)
    s.deleted = len(state.deleted)
    s.sentences = sum(len(r.sentences) for r in kept)
    s.sentences_kept = sum(s_.kept for r in kept for s_ in r.sentences)
    s.measurements = sum(len(r.measurements) for r in kept)
    store.write_file_batch(state.deleted, kept, None, version,
                           manifest=BulkFile(start.path.name, start.size, start.sha256,
                                             s.counts(), version, None))
    s.seconds = time.perf_counter() - state.began
    logger.info("%s: %s", start.path.name, s)
    report(progress, ProgressEvent(start.path.name, 0, done=True))
    return s
