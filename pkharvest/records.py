"""Typed records passed between the pipeline stages (fetch -> split -> filter -> tag -> link ->
normalise -> store). Character offsets are always half-open ``[start, end)``."""

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
    fulltext_status: str | None = None  # "open" | "unavailable" | "none"; None = not asked

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
    source: str = "abstract"  # "abstract" (title included) or "body"


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
    (``source`` "abstract" or "body"), or read from one cell of a table (``source`` "table":
    no sentence, so ``sentence_index`` and the parameter offsets are None)."""

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
    # provenance (full text)
    source: str = "abstract"  # "abstract" | "body" | "table"
    pmcid: str | None = None
    section: str | None = None  # body: section title path "Methods > Pharmacokinetic analysis"
    table_id: str | None = None
    table_label: str | None = None
    row: int | None = None  # table cell, 0-based in the expanded body grid
    col: int | None = None
    group_label: str | None = None  # e.g. "1 g q8h (n = 10) / Day 1"
    n: int | None = None  # group size
    statistic: str | None = None  # "mean" | "geometric_mean" | "median"
    deviation_canonical: float | None = None  # deviation in the unit of value_canonical
    evidence: str | None = None  # tables: label + row header + column header + cell text


@dataclass(frozen=True)
class ArticleTable:
    """One ``<table-wrap>`` of a full-text article as stored: the expanded grid (header rows
    first, ``header_rows`` of them), footnotes, and the kind the classifier gave it."""

    pmid: str
    table_id: str
    label: str | None
    caption: str
    kind: str  # "pk" | "demographic" | "other"
    header_rows: int
    grid: tuple[tuple[str, ...], ...]
    footnotes: tuple[str, ...] = ()
