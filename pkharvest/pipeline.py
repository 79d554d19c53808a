"""Wiring of the stages for ``search`` and ``refresh``: fetch → split → filter → tag → link →
normalise → store, batch by batch.

Each EFetch batch of articles is processed completely and written to the store in one
transaction, so a run killed at any point leaves whole articles behind; a re-run skips articles
already processed with the same model version and ends with the same content (the store upserts
on natural keys).

With ``full_text`` the open-access full text of each batch's articles with a PMC id is fetched
(EFetch ``db=pmc``) after the batch's PubMed records; body sentences go through the same path as
the abstract's and PK tables are read cell by cell (:mod:`pkharvest.fulltext`,
:mod:`pkharvest.tables`), still one article result per article, in the batch's transaction.
"""

from __future__ import annotations

import dataclasses
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
from pkharvest.fulltext.fetching import fetch_batch_fulltext, pmcid_of
from pkharvest.fulltext.jats import FullText
from pkharvest.fulltext.parts import (
    STATUS_NONE,
    STATUS_OPEN,
    STATUS_UNAVAILABLE,
    fulltext_parts,
    mark_body,
)
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
from pkharvest.study import add_study_context, apply_study_context

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESULTS = 200
DEFAULT_FETCH_BATCH = 100
DEFAULT_REFRESH_OVERLAP_DAYS = 7
#: A refresh re-queries at most this far back (100 years; more overflows the calendar).
MAX_REFRESH_OVERLAP_DAYS = 36500

# Progress: ProgressEvents of task "articles" (advance: articles done), see pkharvest.progress.
Progress = ProgressSink


@dataclass
class FullTextCounts:
    """What the full text added to a run (counted only when it was asked for)."""

    open: int = 0  # articles whose open-access full text was read
    unavailable: int = 0  # articles with a PMC id but no full text to read
    none: int = 0  # articles without a PMC id
    malformed: int = 0  # articles whose JATS could not be read (left out, asked again)
    body_sentences: int = 0
    body_measurements: int = 0
    tables: int = 0
    table_measurements: int = 0

    def add(self, result: ArticleResult) -> None:
        status = result.article.fulltext_status
        self.open += status == STATUS_OPEN
        self.unavailable += status == STATUS_UNAVAILABLE
        self.none += status == STATUS_NONE
        self.body_sentences += sum(s.sentence.source == "body" for s in result.sentences)
        self.body_measurements += sum(m.source == "body" for m in result.measurements)
        self.tables += len(result.tables)
        self.table_measurements += sum(m.source == "table" for m in result.measurements)

    def counts(self) -> dict[str, int]:
        return {f"fulltext_{k}": v for k, v in dataclasses.asdict(self).items()}


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
    full_text: bool = False
    fulltext: FullTextCounts = field(default_factory=FullTextCounts)

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
            **(self.fulltext.counts() if self.full_text else {}),
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
        """One article's sentences, mentions and measurements with their study context."""
        return self.process_articles([article], query)[0]

    def process_articles(
        self, articles: Sequence[Article], query: str | None = None
    ) -> list[ArticleResult]:
        """:meth:`process_article` for several articles with ONE ``predict`` call over all
        their sentences (``bulk`` tags chunks this way; scores do not depend on batching)."""
        split = [split_article(a) for a in articles]
        texts = [s.text for sents in split for s in sents]
        # Every unit reaches the linker (the linker decides; see PKTagger.predict).
        preds = self.tagger.predict(texts, batch_size=self.batch_size,
                                    drop_unlinked=False) if texts else []
        out, at = [], 0
        for article, sents in zip(articles, split, strict=True):
            scored, mentions, measurements = predictions_to_measurements(
                sents, preds[at : at + len(sents)], self.threshold, title=article.title,
                chemicals=article.chemicals, query=query, abstract=article.abstract,
                mesh=article.mesh,
            )
            at += len(sents)
            # study context (n, statistic, population, species, route, dose): pkharvest.study
            out.append(add_study_context(ArticleResult(article, scored, mentions, measurements)))
        return out

    def add_full_text(
        self, result: ArticleResult, fulltext: FullText | None, query: str | None = None
    ) -> ArticleResult:
        """``result`` (of :meth:`process_article`) with the article's full text: its status
        (``fulltext`` None: PMC gave none), body sentences through the sentence path (indexed
        after the abstract's, predicted in their own call so that the abstract's rows do not
        depend on the body) and the measurements of its PK tables."""
        article = result.article
        parts = fulltext_parts(article, fulltext, len(result.sentences), query=query)
        scored, mentions, measurements = self.sentences_to_measurements(
            parts.sentences, title=article.title, chemicals=article.chemicals, query=query,
            abstract=article.abstract, mesh=article.mesh,
        )
        mark_body(measurements, parts.sentences, fulltext.pmcid if fulltext else None)
        sentences = [*result.sentences, *scored]
        tables = (*result.tables, *parts.tables)
        # the abstract's values have their study context already (process_article)
        apply_study_context(article, [*measurements, *parts.measurements], sentences, tables)
        return ArticleResult(
            dataclasses.replace(article, fulltext_status=parts.status),
            sentences,
            [*result.mentions, *mentions],
            [*result.measurements, *measurements, *parts.measurements],
            tables=tables,
        )


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
    full_text: bool = False,
) -> RunSummary:
    """Search PubMed for ``query`` and store every measurement found.

    Articles already processed with this model version are not fetched again. With
    ``full_text`` (saved with the search's options, so a refresh reads it too) the open-access
    full text of articles with a PMC id is read as well, and articles stored without a
    full-text status (processed without it, or whose JATS was malformed) are processed again.
    On any error the run is marked failed (what was stored stays) and the error propagates."""
    query = check_query(query)
    started = time.perf_counter()
    clock = now or (lambda: _dt.datetime.now(_dt.timezone.utc))
    run_started_at = clock()
    options = dict(search_options or {})
    options.setdefault("max_results", max_results)
    if full_text:
        options["full_text"] = True
    search_id = store.start_search(query, options)
    run_id = store.start_run(
        search_id, model_version=extractor.model_version, eutils_url=client.base_url
    )
    summary = RunSummary(
        query=query, search_id=search_id, run_id=run_id, hits=0, full_text=full_text
    )
    try:
        result = client.search(query, max_results, mindate=mindate)
        summary.hits = len(result.pmids)
        done = store.processed_pmids(extractor.model_version, fulltext_asked=full_text)
        todo = [p for p in result.pmids if p not in done]
        summary.articles_skipped = len(result.pmids) - len(todo)
        report(progress, ProgressEvent("articles", summary.articles_skipped, len(result.pmids)))
        for batch in _batches(client, todo, fetch_batch):
            results = []
            with_full_text = _batch_full_text(client, batch, summary) if full_text else None
            for article in batch:
                if not article.sections:
                    summary.articles_without_abstract += 1
                res = extractor.process_article(article, query=query)
                if with_full_text is not None:
                    res = _add_full_text(extractor, res, with_full_text, query, summary)
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


def _batch_full_text(
    client: EutilsClient, batch: Sequence[Article], summary: RunSummary
) -> tuple[dict[str, FullText], set[str]]:
    """The batch's full text by PMC id and the PMC ids whose JATS was malformed."""
    found, malformed = fetch_batch_fulltext(client, batch)
    summary.fulltext.malformed += len(malformed)
    return found, malformed


def _add_full_text(
    extractor: Extractor,
    result: ArticleResult,
    batch_full_text: tuple[dict[str, FullText], set[str]],
    query: str,
    summary: RunSummary,
) -> ArticleResult:
    """``result`` with its full text; an article whose JATS was malformed keeps its abstract
    only and no full-text status, so that the next full-text run asks for it again."""
    found, malformed = batch_full_text
    pmcid = pmcid_of(result.article)
    if pmcid in malformed:
        return result
    result = extractor.add_full_text(result, found.get(pmcid) if pmcid else None, query)
    summary.fulltext.add(result)
    return result


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
                    full_text=bool(saved.options.get("full_text")),
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
