"""What the full text adds to one article: body sentences (for the sentence path), tables as
stored and the measurements read from pk tables (drug attributed from the caption, then the
title, abstract, chemicals, MeSH headings and query, as for sentences), and the article's
full-text status."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from pkharvest.drug import attribute_measurement_drug
from pkharvest.fulltext.body import body_sentences
from pkharvest.fulltext.jats import FullText
from pkharvest.records import Article, ArticleTable, Measurement, Sentence
from pkharvest.tables.extract import extract_tables

logger = logging.getLogger(__name__)

STATUS_OPEN = "open"
STATUS_UNAVAILABLE = "unavailable"
STATUS_NONE = "none"


@dataclass
class FullTextParts:
    status: str
    sentences: list[Sentence] = field(default_factory=list)
    tables: list[ArticleTable] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)


def fulltext_parts(
    article: Article,
    fulltext: FullText | None,
    first_index: int,
    *,
    query: str | None = None,
) -> FullTextParts:
    """The full-text parts of ``article``; ``fulltext`` None means PMC returned nothing usable
    for it (status ``unavailable``), and an article without a PMC id has status ``none``."""
    if not article.pmcid:
        return FullTextParts(STATUS_NONE)
    if fulltext is None or fulltext.status != STATUS_OPEN:
        return FullTextParts(STATUS_UNAVAILABLE)
    sentences = body_sentences(fulltext, article.pmid, first_index)
    tables: list[ArticleTable] = []
    measurements: list[Measurement] = []
    for result in extract_tables(fulltext.tables, article.pmid, fulltext.pmcid):
        tables.append(result.table)
        for m in result.measurements:
            attribute_measurement_drug(m, result.table.caption or "", None, article, query)
            measurements.append(m)
    return FullTextParts(STATUS_OPEN, sentences, tables, measurements)


def mark_body(
    measurements: Sequence[Measurement], sentences: Sequence[Sentence], pmcid: str | None
) -> None:
    """Give measurements linked in body sentences their source, section path and PMC id."""
    by_index = {s.index: s for s in sentences}
    for m in measurements:
        sent = by_index.get(m.sentence_index) if m.sentence_index is not None else None
        if sent is not None and sent.source == "body":
            m.source = "body"
            m.section = sent.section
            m.pmcid = pmcid
