"""Sentences of a full-text body: each paragraph or list item of each section split like an
abstract, with offsets into the section's text (``BodySection.text``) and ``source="body"``."""

from __future__ import annotations

from pkharvest.fulltext.jats import FullText
from pkharvest.records import Sentence
from pkharvest.sentences import split_text

#: Section name of body text that sits directly under ``<body>`` (its title path is empty).
BODY_SECTION = "body"


def body_sentences(fulltext: FullText, pmid: str, first_index: int) -> list[Sentence]:
    """The body's sentences, indexed from ``first_index`` (the number of title and abstract
    sentences, so that indices continue after the abstract's). A sentence never crosses a
    paragraph."""
    out: list[Sentence] = []
    for section in fulltext.sections:
        name = section.path or BODY_SECTION
        for p_start, p_end in section.paragraphs:
            paragraph = section.text[p_start:p_end]
            for start, end in split_text(paragraph):
                out.append(
                    Sentence(
                        pmid=pmid,
                        index=first_index + len(out),
                        text=paragraph[start:end],
                        start=p_start + start,
                        end=p_start + end,
                        section=name,
                        source="body",
                    )
                )
    return out
