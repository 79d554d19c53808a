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
    # full text: 'open' | 'unavailable' | 'none'; None = not asked
    fulltext_status: str | None = None

    @property
    def abstract(self) -> str:
        """The abstract as plain text; labelled sections are kept as ``LABEL: text``."""
        parts = [f"{s.label}: {s.text}" if s.label else s.text for s in self.sections]
        return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article. ``start``/``end`` are offsets into the text of its ``section``
    (``"title"`` or the abstract section label, or ``"abstract"`` for an unlabelled one; for a
    body sentence the section title path, e.g. ``"Methods > Pharmacokinetic analysis"``).
    ``source`` is ``"abstract"`` or ``"body"``; body sentences are indexed after the abstract's."""

    pmid: str
    index: int
    text: str
    start: int
    end: int
    section: str = "abstract"
    source: str = "abstract"


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
    """One PK parameter estimate, raw then normalised: linked from entities in one sentence
    (``source`` ``"abstract"`` or ``"body"``) or read from a table cell (``source`` ``"table"``;
    no sentence: ``sentence_index`` and the parameter offsets are ``None``, the cell is
    ``table_id``/``row``/``col``, 0-based in the expanded body grid)."""

    pmid: str
    sentence_index: int | None
    parameter_text: str
    parameter_start: int | None
    parameter_end: int | None
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
    # where it was read
    source: str = "abstract"  # 'abstract' | 'body' | 'table'
    pmcid: str | None = None
    section: str | None = None  # body: section title path
    table_id: str | None = None
    table_label: str | None = None
    row: int | None = None
    col: int | None = None
    # study context
    group_label: str | None = None  # table column/row group, e.g. "1 g q8h (n = 10) / Day 1"
    n: int | None = None  # group size
    statistic: str | None = None  # 'mean' | 'geometric_mean' | 'median' | ...
    deviation_canonical: float | None = None  # in the unit of value_canonical (CV% stays %)
    age_group: str | None = None  # neonate | infant | child | adolescent | adult | elderly
    population: str | None = None  # 'healthy' | 'patients'
    conditions: list[str] | None = None  # pregnancy, renal_impairment, hepatic_impairment, ...
    species: str | None = None  # human, rat, mouse, dog, ...
    route: str | None = None  # intravenous, oral, subcutaneous, intramuscular, ...
    dose_text: str | None = None
    evidence: str | None = None  # table rows: label + row header + column header + cell text


@dataclass(frozen=True)
class ArticleTable:
    """A table of an article's full text: ``grid`` holds the expanded cells (spans repeated),
    its first ``header_rows`` rows the header; ``kind`` is 'pk' | 'demographic' | 'other'."""

    pmid: str
    table_id: str
    label: str | None = None
    caption: str | None = None
    kind: str = "other"
    header_rows: int = 0
    grid: tuple[tuple[str, ...], ...] = ()
    footnotes: tuple[str, ...] = ()


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
    tables: tuple[ArticleTable, ...] = ()
