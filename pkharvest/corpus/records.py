"""Typed records of an annotated corpus. Offsets are character offsets into ``text``;
``end`` is exclusive; ``token_end`` is inclusive (Prodigy convention)."""

from __future__ import annotations

from dataclasses import dataclass, field

ENTITY_LABELS: tuple[str, ...] = ("PK", "VALUE", "UNITS", "RANGE", "COMPARE")
RELATION_LABELS: tuple[str, ...] = ("C_VAL", "D_VAL", "RELATED")
VIEWS: dict[str, tuple[str, ...]] = {"pk": ("PK",), "full": ENTITY_LABELS}


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    id: int
    ws: bool = True


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    token_start: int
    token_end: int
    label: str


@dataclass(frozen=True)
class Relation:
    head: Span
    child: Span
    label: str


@dataclass
class Example:
    """One annotated sentence."""

    text: str
    tokens: list[Token]
    spans: list[Span]
    relations: list[Relation] = field(default_factory=list)
    pmid: str | None = None
    pmc: str | None = None
    sentence_id: str | None = None
    source: str | None = None  # "file:line" it was read from
    metadata: dict = field(default_factory=dict)

    @property
    def article_id(self) -> str:
        """Grouping key for splits: the PMID, else the PMC id, else the sentence itself."""
        return self.pmid or (f"PMC{self.pmc}" if self.pmc else f"sent:{self.source or self.text}")
