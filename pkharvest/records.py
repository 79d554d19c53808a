"""Typed records passed between the pipeline stages (fetch -> sentences -> screen -> tag ->
link -> normalise -> store). Character offsets are always half-open ``[start, end)``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AbstractSection:
    """One (possibly labelled) part of an abstract, e.g. label="RESULTS"."""

    text: str
    label: str | None = None


@dataclass(frozen=True)
class Article:
    """A PubMed record as parsed from EFetch XML."""

    pmid: str
    title: str
    sections: tuple[AbstractSection, ...] = ()
    journal: str | None = None
    year: int | None = None
    doi: str | None = None
    pmcid: str | None = None
    mesh: tuple[str, ...] = ()
    chemicals: tuple[str, ...] = ()  # ChemicalList/NameOfSubstance: used for drug attribution
    publication_types: tuple[str, ...] = ()
    language: str | None = None

    @property
    def abstract(self) -> str:
        """The abstract as plain text; labelled sections are kept as ``LABEL: text``."""
        parts = [f"{s.label}: {s.text}" if s.label else s.text for s in self.sections]
        return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article. ``start``/``end`` are offsets into the text of its ``section``
    (``"title"`` or the abstract section label, or ``"abstract"`` for an unlabelled one)."""

    pmid: str
    index: int
    text: str
    start: int
    end: int
    section: str = "abstract"


@dataclass(frozen=True)
class Entity:
    """A tagged span inside one sentence: offsets are relative to the sentence text."""

    label: str
    start: int
    end: int
    text: str
    score: float = 1.0


@dataclass
class Measurement:
    """One PK parameter estimate linked from entities in one sentence, raw then normalised."""

    pmid: str
    sentence_index: int
    parameter_text: str
    parameter_start: int
    parameter_end: int
    value_text: str | None = None
    value_start: int | None = None
    value_end: int | None = None
    value: float | None = None
    value_low: float | None = None
    value_high: float | None = None
    comparator: str | None = None
    deviation_text: str | None = None
    deviation: float | None = None
    deviation_type: str | None = None
    measurement_type: str | None = None
    unit_text: str | None = None
    # normalised
    parameter: str | None = None
    unit: str | None = None
    value_canonical: float | None = None
    value_low_canonical: float | None = None
    value_high_canonical: float | None = None
    drug: str | None = None
    drug_source: str | None = None
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence with the sentence classifier's verdict (``kept`` = passed to the tagger)."""

    sentence: Sentence
    pk_score: float | None = None
    kept: bool = True


@dataclass(frozen=True)
class Mention:
    """A tagged entity placed in its sentence (``Entity`` offsets are sentence-relative)."""

    pmid: str
    sentence_index: int
    entity: Entity


@dataclass
class ArticleResult:
    """Everything extracted from one article, ready for the store (``Store.write_batch``)."""

    article: Article
    sentences: list[ScoredSentence] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
