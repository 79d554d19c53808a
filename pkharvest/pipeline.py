"""Wiring of the stages for ``search`` and ``refresh``: fetch → split → filter → tag → link →
normalise → store, batch by batch.

Each EFetch batch of articles is processed completely and written to the store in one
transaction, so a run killed at any point leaves whole articles behind; a re-run skips articles
already processed with the same model version and ends with the same content (the store upserts
on natural keys).
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pkharvest import screen
from pkharvest.drug import DRUG_FROM_QUERY, attribute_drug
from pkharvest.errors import FetchError, PkHarvestError, UsageError
from pkharvest.fetch import EutilsClient
from pkharvest.link import link
from pkharvest.model.tagger import PKTagger, SentencePrediction
from pkharvest.normalise import normalise
from pkharvest.progress import ProgressEvent, ProgressSink, report
from pkharvest.records import (
    Article,
    ArticleResult,
    Measurement,
    Mention,
    ScoredSentence,
    Sentence,
)
from pkharvest.sentences import split_article
from pkharvest.store import Store
from pkharvest.study import add_study_context

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESULTS = 200
DEFAULT_FETCH_BATCH = 100
DEFAULT_REFRESH_OVERLAP_DAYS = 7
#: A refresh re-queries at most this far back (100 years; more overflows the calendar).
MAX_REFRESH_OVERLAP_DAYS = 36500

# Progress: ProgressEvents of task "articles" (advance: articles done), see pkharvest.progress.
Progress = ProgressSink


@dataclass
class RunSummary:
    query: str
    search_id: int
    run_id: int
    hits: int
    articles_fetched: int = 0
    articles_skipped: int = 0
    articles_without_abstract: int = 0
    sentences: int = 0
    sentences_kept: int = 0
    mentions: int = 0
    measurements: list[Measurement] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int | float]:
        return {
            "hits": self.hits,
            "articles_fetched": self.articles_fetched,
            "articles_skipped": self.articles_skipped,
            "articles_without_abstract": self.articles_without_abstract,
            "sentences": self.sentences,
            "sentences_kept": self.sentences_kept,
            "mentions": self.mentions,
            "measurements": len(self.measurements),
            "seconds": round(self.seconds, 3),
        }


class Extractor:
    """Sentences of an article to measurements: split, filter (bCLS), tag (NER), link,
    normalise, attribute drugs, add the study context. Holds the loaded model, so load it once
    per run."""

    def __init__(
        self,
        tagger: PKTagger,
        threshold: float = screen.DEFAULT_THRESHOLD,
        batch_size: int = 32,
    ) -> None:
        self.tagger = tagger
        self.threshold = screen.validate_threshold(threshold)
        self.batch_size = batch_size

    @property
    def model_version(self) -> str:
        """The version stored with this extractor's rows (the weights' id, plus the precision
        when it is not fp32)."""
        return self.tagger.run_version

    def sentences_to_measurements(
        self,
        sentences: Sequence[Sentence],
        *,
        title: str = "",
        chemicals: Sequence[str] = (),
        query: str | None = None,
        abstract: str = "",
        mesh: Sequence[str] = (),
    ) -> tuple[list[ScoredSentence], list[Mention], list[Measurement]]:
        """Run the model over ``sentences`` (of one article) and link what it finds.

        An article's stored scores do not depend on which other articles share a batch
        (``PKTagger.word_scores`` batches equal-length windows and runs each Linear layer
        window by window), so a resumed run that groups articles differently stores the same
        rows; ``bulk`` tags whole chunks of articles in one call for that reason."""
        if not sentences:
            return [], [], []
        # Every unit reaches the linker (the linker decides; see PKTagger.predict).
        predictions = self.tagger.predict([s.text for s in sentences], batch_size=self.batch_size,
                                          drop_unlinked=False)
        return predictions_to_measurements(sentences, predictions, self.threshold, title=title,
                                           chemicals=chemicals, query=query, abstract=abstract,
                                           mesh=mesh)

    def process_article(self, article: Article, query: str | None = None) -> ArticleResult:
        sentences = split_article(article)
        scored, mentions, measurements = self.sentences_to_measurements(
            sentences, title=article.title, chemicals=article.chemicals, query=query,
            abstract=article.abstract, mesh=article.mesh,
        )
        # study context (n, statistic, population, species, route, dose): pkharvest.study
        return add_study_context(ArticleResult(article, scored, mentions, measurements))


def predictions_to_measurements(
    sentences: Sequence[Sentence],
    predictions: Sequence[SentencePrediction],
    threshold: float = screen.DEFAULT_THRESHOLD,
    *,
    title: str = "",
    chemicals: Sequence[str] = (),
    query: str | None = None,
    abstract: str = "",
    mesh: Sequence[str] = (),
) -> tuple[list[ScoredSentence], list[Mention], list[Measurement]]:
    """The model's predictions for ``sentences`` (of one article; every entity, unlinked ones
    included) through the filter (bCLS ``threshold``), link, drug attribution and
    normalisation. A value whose drug came only from the search query is flagged
    ``drug_from_query``."""
    decisions = screen.decide([p.pk_probability for p in predictions], threshold)
    scored: list[ScoredSentence] = []
    mentions: list[Mention] = []
    measurements: list[Measurement] = []
    for sent, pred, decision in zip(sentences, predictions, decisions, strict=True):
        scored.append(ScoredSentence(sent, decision.pk_probability, decision.kept))
        if not decision.kept:
            continue
        mentions.extend(Mention(sent.pmid, sent.index, e) for e in pred.entities)
        for m in link(sent, pred.entities):
            m.drug, m.drug_source = attribute_drug(
                sent.text, m.parameter_start, title=title, chemicals=chemicals, query=query,
                abstract=abstract, mesh=mesh,
            )
            if m.drug_source == "query":
                m.flags.append(DRUG_FROM_QUERY)
            measurements.append(normalise(m))
    return scored, mentions, measurements


def check_query(query: str | None, field: str = "query") -> str:
    """``query`` stripped; an empty one raises UsageError naming ``field`` (the CLI checks
    before it opens the store, so that a usage error leaves no new store file behind)."""
    if not query or not query.strip():
        raise UsageError("the PubMed query is empty", field=field)
    return query.strip()


def load_tagger(model_dir: str | Path, precision: str = "fp32") -> PKTagger:
    """Load a model folder at ``precision`` (``fp32`` or ``int8``); a missing folder says how
    to get one."""
    path = Path(model_dir)
    if not path.exists():
        raise UsageError(
            f"no trained model at {path}; train one with `pkharvest train --out {path}` "
            "(or run the quick start once)",
            field="model",
        )
    return PKTagger.load(path, precision=precision)


def _batches(
    client: EutilsClient, pmids: Sequence[str], batch_size: int
) -> Iterator[list[Article]]:
    if pmids:
        yield from client.fetch_articles(list(pmids), batch_size=batch_size)


def run_search(
    query: str,
    store: Store,
    client: EutilsClient,
    extractor: Extractor,
    *,
    max_results: int = DEFAULT_MAX_RESULTS,
    mindate: str | _dt.date | None = None,
    search_options: dict[str, Any] | None = None,
    fetch_batch: int = DEFAULT_FETCH_BATCH,
    progress: ProgressSink | None = None,
    now: Callable[[], _dt.datetime] | None = None,
) -> RunSummary:
    """Search PubMed for ``query`` and store every measurement found.

    Articles already processed with this model version are not fetched again. On any error the
    run is marked failed (what was stored stays) and the error propagates."""
    query = check_query(query)
    started = time.perf_counter()
    clock = now or (lambda: _dt.datetime.now(_dt.timezone.utc))
    run_started_at = clock()
    options = dict(search_options or {})
    options.setdefault("max_results", max_results)
    search_id = store.start_search(query, options)
    run_id = store.start_run(
        search_id, model_version=extractor.model_version, eutils_url=client.base_url
    )
    summary = RunSummary(query=query, search_id=search_id, run_id=run_id, hits=0)
    try:
        result = client.search(query, max_results, mindate=mindate)
        summary.hits = len(result.pmids)
        done = store.processed_pmids(extractor.model_version)
        todo = [p for p in result.pmids if p not in done]
        summary.articles_skipped = len(result.pmids) - len(todo)
        report(progress, ProgressEvent("articles", summary.articles_skipped, len(result.pmids)))
        for batch in _batches(client, todo, fetch_batch):
            results = []
            for article in batch:
                if not article.sections:
                    summary.articles_without_abstract += 1
                res = extractor.process_article(article, query=query)
                results.append(res)
                summary.sentences += len(res.sentences)
                summary.sentences_kept += sum(s.kept for s in res.sentences)
                summary.mentions += len(res.mentions)
                summary.measurements.extend(res.measurements)
                report(progress, ProgressEvent("articles", 1, len(result.pmids)))
            store.write_batch(results, run_id, extractor.model_version)
            summary.articles_fetched += len(batch)
        summary.seconds = time.perf_counter() - started
        store.mark_search_ran(search_id, run_started_at)
        store.finish_run(run_id, "ok", summary.counts())
    except BaseException as exc:
        summary.seconds = time.perf_counter() - started
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            counts = {**summary.counts(), "error": str(exc)[:500]}
            store.finish_run(run_id, status, counts)
        except PkHarvestError:  # pragma: no cover - the original error matters more
            logger.exception("could not mark run %s as %s", run_id, status)
        raise
    return summary


def refresh_searches(
    store: Store,
    client: EutilsClient,
    extractor: Extractor,
    *,
    overlap_days: int = DEFAULT_REFRESH_OVERLAP_DAYS,
    fetch_batch: int = DEFAULT_FETCH_BATCH,
    progress: ProgressSink | None = None,
    now: Callable[[], _dt.datetime] | None = None,
) -> list[RunSummary]:
    """Re-run every saved search for records added (Entrez date) since it last ran, minus an
    overlap window so that records indexed late are not missed; only new articles are
    processed (see :func:`run_search`)."""
    if not 0 <= overlap_days <= MAX_REFRESH_OVERLAP_DAYS:
        raise UsageError(
            f"must be in 0..{MAX_REFRESH_OVERLAP_DAYS} (days), got {overlap_days}",
            field="overlap_days",
        )
    summaries = []
    failures: list[str] = []
    for saved in store.saved_searches():
        mindate: _dt.date | None = None
        if saved.last_run is not None:
            mindate = saved.last_run.date() - _dt.timedelta(days=overlap_days)
        max_results = int(saved.options.get("max_results", DEFAULT_MAX_RESULTS))
        logger.info("refresh %r since %s", saved.query, mindate)
        try:
            summaries.append(
                run_search(
                    saved.query,
                    store,
                    client,
                    extractor,
                    max_results=max_results,
                    mindate=mindate,
                    search_options=saved.options,
                    fetch_batch=fetch_batch,
                    progress=progress,
                    now=now,
                )
            )
        except FetchError as exc:  # one unreachable search must not starve the others
            logger.error("refresh of %r failed: %s", saved.query, exc)
            failures.append(f"{saved.query!r}: {exc}")
    if failures:
        raise FetchError(
            f"{len(failures)} of {len(failures) + len(summaries)} saved searches failed "
            f"(the others were refreshed): {'; '.join(failures)}"
        )
    return summaries
