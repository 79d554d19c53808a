"""The local bulk engine: baseline files in name order, each read, tagged and written to the
store in one transaction.

Within a file, a later record of a PMID replaces an earlier one and a ``DeleteCitation``
removes the PMID (earlier in the file or already in the store); across files, the file later
in name order wins, as NLM's numbering of baseline and update files intends. A file's results
are held until the file has been read whole, then written with its deletions in one
transaction: a malformed or truncated file raises FetchError naming it and leaves the store as
it was before that file, and a run killed at any point leaves whole files behind (a re-run
ends with the content of an uninterrupted run).

The sentences of a chunk of articles are tagged in one ``predict`` call: predictions do not
depend on batching (``PKTagger.word_scores``), so batches can mix articles freely.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pkharvest.bulk.reader import DEFAULT_CHUNK, Deletion, baseline_files, read_baseline
from pkharvest.pipeline import Extractor, predictions_to_measurements
from pkharvest.records import Article, ArticleResult
from pkharvest.sentences import split_article
from pkharvest.store import Store
from pkharvest.study import add_study_context

logger = logging.getLogger(__name__)

# (file name, files done, files in all, articles done in this file)
BulkProgress = Callable[[str, int, int, int], None]


def _no_progress(name: str, done: int, total: int, articles: int) -> None:
    return None


@dataclass
class FileSummary:
    name: str
    articles: int = 0
    deleted: int = 0
    sentences: int = 0
    sentences_kept: int = 0
    measurements: int = 0
    seconds: float = 0.0


@dataclass
class BulkSummary:
    files: list[FileSummary] = field(default_factory=list)

    def counts(self) -> dict[str, int | float]:
        keys = ("articles", "deleted", "sentences", "sentences_kept", "measurements")
        out: dict[str, int | float] = {"files": len(self.files)}
        for k in keys:
            out[k] = sum(getattr(f, k) for f in self.files)
        out["seconds"] = round(sum(f.seconds for f in self.files), 3)
        return out


def process_articles(extractor: Extractor, articles: Sequence[Article]) -> list[ArticleResult]:
    """Split, tag (one ``predict`` call for the whole chunk), filter, link, normalise and add
    the study context."""
    split = [split_article(a) for a in articles]
    texts = [s.text for sents in split for s in sents]
    preds = extractor.tagger.predict(texts, batch_size=extractor.batch_size,
                                     drop_unlinked=False) if texts else []
    out, at = [], 0
    for article, sents in zip(articles, split, strict=True):
        scored, mentions, measurements = predictions_to_measurements(
            sents, preds[at : at + len(sents)], extractor.threshold,
            title=article.title, chemicals=article.chemicals)
        at += len(sents)
        out.append(add_study_context(ArticleResult(article, scored, mentions, measurements)))
    return out


def process_file(path: Path, store: Store, extractor: Extractor, *, chunk: int = DEFAULT_CHUNK,
                 on_chunk: Callable[[int], None] | None = None) -> FileSummary:
    """Read, tag and store one file (one transaction; see the module docstring)."""
    started = time.perf_counter()
    summary = FileSummary(path.name)
    results: dict[str, ArticleResult] = {}
    deleted: set[str] = set()
    for item in read_baseline(path, chunk):
        if isinstance(item, Deletion):
            for pmid in item.pmids:
                results.pop(pmid, None)
                deleted.add(pmid)
            continue
        for res in process_articles(extractor, item):
            results.pop(res.article.pmid, None)  # a later version replaces an earlier one
            results[res.article.pmid] = res
            deleted.discard(res.article.pmid)
        if on_chunk is not None:
            on_chunk(len(item))
    kept = list(results.values())
    store.write_file_batch(deleted, kept, None, extractor.model_version)
    summary.articles = len(kept)
    summary.deleted = len(deleted)
    summary.sentences = sum(len(r.sentences) for r in kept)
    summary.sentences_kept = sum(s.kept for r in kept for s in r.sentences)
    summary.measurements = sum(len(r.measurements) for r in kept)
    summary.seconds = time.perf_counter() - started
    logger.info("%s: %s", path.name, summary)
    return summary


def run_bulk(paths: Iterable[str | Path], store: Store, extractor: Extractor, *,
             chunk: int = DEFAULT_CHUNK, progress: BulkProgress = _no_progress) -> BulkSummary:
    """Every baseline file of ``paths`` (files or folders) in name order, one by one."""
    files = baseline_files(paths)
    summary = BulkSummary()
    for i, path in enumerate(files):
        done = 0

        def tick(n: int, name: str = path.name, index: int = i) -> None:
            nonlocal done
            done += n
            progress(name, index, len(files), done)

        progress(path.name, i, len(files), 0)
        summary.files.append(process_file(path, store, extractor, chunk=chunk, on_chunk=tick))
        progress(path.name, i + 1, len(files), summary.files[-1].articles)
    return summary
