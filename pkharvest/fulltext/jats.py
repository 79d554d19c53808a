"""Parsing of PubMed Central JATS XML (EFetch ``db=pmc``) with lxml: body sections with their
title paths, paragraphs and list items, and every ``<table-wrap>`` as an expanded grid.

Left out of the body text: the reference list, figure and table captions (tables are read
separately), display and inline formulas, supplementary material, footnote groups and citation
markers. Articles outside the open-access subset come back with front matter only and the comment
"The publisher of this article does not allow downloading of the full text in XML form": they are
returned with ``status="unavailable"``.

A response that is not XML raises :class:`JatsError` (the client retries it as a bad body); one
article that cannot be read (no PMC id, a table with impossible spans) is reported in
``ParsedSet.errors`` by its PMCID and nothing of it is returned.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from pkharvest.errors import FetchError
from pkharvest.tables.grid import Cell, TableError, cell_text, clean_space, expand, local, rows_of

logger = logging.getLogger(__name__)

PATH_SEPARATOR = " > "
NOT_OPEN_ACCESS = "does not allow downloading of the full text"
#: Elements whose text is not body text.
_SKIP = frozenset(
    {
        "table-wrap", "table-wrap-group", "fig", "fig-group", "disp-formula", "disp-formula-group",
        "inline-formula", "supplementary-material", "ref-list", "fn-group", "graphic", "media",
        "alternatives", "tex-math", "math", "caption", "label", "title", "object-id", "glossary",
        "ack", "app-group", "back", "chem-struct-wrap", "code", "preformat",
    }
)  # fmt: skip
#: Block elements inside a section whose children are walked as further blocks.
_CONTAINERS = frozenset({"boxed-text", "statement", "def-list", "disp-quote", "verse-group"})


class JatsError(FetchError):
    """A PMC response or article cannot be parsed (names the PMCID where one is known)."""


@dataclass(frozen=True)
class BodySection:
    """The text directly under one section: paragraphs and list items joined by newlines;
    ``paragraphs`` are their ``[start, end)`` offsets in ``text``. ``path`` is the title path
    ("Methods > Pharmacokinetic analysis"; "" for text directly under ``<body>``)."""

    path: str
    text: str
    paragraphs: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class JatsTable:
    """A ``<table-wrap>``: label, caption, footnotes (``fn`` id/label → text, plus general
    notes under the key ""), and the expanded header and body grids."""

    table_id: str
    label: str | None
    caption: str
    header: tuple[tuple[Cell, ...], ...]
    body: tuple[tuple[Cell, ...], ...]
    footnotes: tuple[tuple[str, str], ...] = ()  # (marker or id, text); "" = no marker
    section: str = ""

    @property
    def width(self) -> int:
        rows = self.header or self.body
        return len(rows[0]) if rows else 0

    def grid_text(self) -> tuple[tuple[str, ...], ...]:
        """Header rows then body rows, as text."""
        return tuple(tuple(c.text for c in row) for row in (*self.header, *self.body))

    def footnote_texts(self) -> tuple[str, ...]:
        seen: list[str] = []
        for _, text in self.footnotes:
            if text not in seen:
                seen.append(text)
        return tuple(seen)

    def notes_for(self, markers: Iterable[str]) -> list[str]:
        """Footnote texts that ``markers`` (fn ids or labels) point at."""
        out: list[str] = []
        for m in markers:
            for key, text in self.footnotes:
                if key and key == m and text not in out:
                    out.append(text)
        return out

    def general_notes(self) -> list[str]:
        """Footnotes no marker points at (they apply to the whole table)."""
        return [text for key, text in self.footnotes if not key]


@dataclass(frozen=True)
class FullText:
    """One article of a PMC response."""

    pmcid: str  # "PMC1234567"
    pmid: str | None
    status: str  # "open" | "unavailable"
    title: str = ""
    sections: tuple[BodySection, ...] = ()
    tables: tuple[JatsTable, ...] = ()


@dataclass
class ParsedSet:
    articles: list[FullText] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (pmcid or "?", message)


def normalise_pmcid(value: str) -> str:
    """ "8435807", "PMC8435807", "pmc8435807" → "PMC8435807"."""
    text = str(value).strip()
    digits = text[3:] if text.upper().startswith("PMC") else text
    if not digits.isdigit():
        raise ValueError(f"not a PMC id: {value!r}")
    return f"PMC{int(digits)}"


_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=False
)


def parse_pmc_xml(data: bytes | str) -> ParsedSet:
    """Parse an EFetch ``db=pmc`` response (a ``pmc-articleset`` or a single ``article``)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not raw or not raw.strip():
        raise JatsError("empty PMC response")
    try:
        root = etree.fromstring(raw, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise JatsError(f"PMC response is not well-formed XML: {exc}") from None
    name = local(root.tag)
    if name == "article":
        nodes = [root]
    elif name == "pmc-articleset":
        nodes = [a for a in root if local(a.tag) == "article"]
        errs = [e for e in root if local(e.tag) == "error"]
        for e in errs:
            logger.warning("efetch db=pmc: %s", clean_space("".join(e.itertext())))
    else:
        raise JatsError(f"PMC response has root <{name}>, expected <pmc-articleset>")
    out = ParsedSet()
    for node in nodes:
        pmcid = _article_id(node, "pmc") or _article_id(node, "pmcid") or "?"
        try:
            out.articles.append(parse_article(node))
        except (JatsError, TableError, ValueError) as exc:
            out.errors.append((pmcid if pmcid == "?" else _safe_pmcid(pmcid), str(exc)))
    return out


def _safe_pmcid(value: str) -> str:
    try:
        return normalise_pmcid(value)
    except ValueError:
        return value


def _article_id(article: etree._Element, kind: str) -> str | None:
    for el in article.iterfind("./front/article-meta/article-id"):
        if el.get("pub-id-type") == kind and (el.text or "").strip():
            return el.text.strip()
    return None


def parse_article(article: etree._Element) -> FullText:
    """One ``<article>``; raises :class:`JatsError`/:class:`TableError` if it is malformed."""
    raw_pmcid = _article_id(article, "pmc") or _article_id(article, "pmcid")
    if raw_pmcid is None:
        raise JatsError('article without a PMC id (<article-id pub-id-type="pmc">)')
    try:
        pmcid = normalise_pmcid(raw_pmcid)
    except ValueError as exc:
        raise JatsError(str(exc)) from None
    pmid = _article_id(article, "pmid")
    title_el = article.find("./front/article-meta/title-group/article-title")
    title = clean_space("".join(title_el.itertext())) if title_el is not None else ""
    body = article.find("body")
    withheld = any(
        NOT_OPEN_ACCESS in (c.text or "")
        for c in article.iter(etree.Comment)  # type: ignore[arg-type]
    )
    if withheld or body is None:
        return FullText(pmcid, pmid, "unavailable", title)
    try:
        sections = _sections(body)
        tables = _tables(article, pmcid)
    except TableError as exc:
        raise JatsError(f"{pmcid}: {exc}") from None
    if not sections and not tables:
        return FullText(pmcid, pmid, "unavailable", title)
    return FullText(pmcid, pmid, "open", title, tuple(sections), tuple(tables))


# ------------------------------------------------------------------------------------ body


def _inline_text(elem: etree._Element) -> str:
    """Text of a paragraph-like element without formulas, citations, floats or footnotes."""
    parts: list[str] = []

    def walk(node: etree._Element) -> None:
        name = local(node.tag)
        skip = (
            not isinstance(node.tag, str)
            or name in _SKIP
            or name in ("list", "fn", "p")  # nested blocks are read on their own
            or (name == "xref" and node.get("ref-type") in ("bibr", "fn", "table-fn"))
        )
        if not skip:
            if node.text:
                parts.append(node.text)
            for child in node:
                walk(child)
                if child.tail:
                    parts.append(child.tail)
        # the tail is added by the parent

    if elem.text:
        parts.append(elem.text)
    for child in elem:
        walk(child)
        if child.tail:
            parts.append(child.tail)
    text = clean_space("".join(parts))
    # citation brackets left empty by removed xrefs: "shown [, ]." → "shown."
    text = re.sub(r"\s*[\[(]\s*[,;–-]*\s*[\])]", "", text)
    text = re.sub(r"(?:\s*[,;–-])+\s*(?=[.;:)]|$)", "", text)
    return re.sub(r"\s+([.,;:])", r"\1", text).strip()


def _blocks(elem: etree._Element) -> Iterable[etree._Element]:
    """Paragraphs and list items under ``elem`` in document order (not into subsections)."""
    for child in elem:
        name = local(child.tag)
        if name == "p":
            yield child
            for inner in child:  # lists and paragraphs nested in a paragraph
                if local(inner.tag) in ("list", "p"):
                    yield from _blocks_of(inner)
        elif name == "list":
            yield from _blocks_of(child)
        elif name in _CONTAINERS or name in ("def-item", "def", "list-item"):
            yield from _blocks(child)


def _blocks_of(elem: etree._Element) -> Iterable[etree._Element]:
    if local(elem.tag) == "p":
        yield elem
        for inner in elem:
            if local(inner.tag) in ("list", "p"):
                yield from _blocks_of(inner)
        return
    for item in elem:
        if local(item.tag) == "list-item":
            yield from _blocks(item)


def _title(sec: etree._Element) -> str:
    t = sec.find("title")
    if t is None:
        return ""
    return clean_space("".join(t.itertext())).rstrip(".:")


def _sections(body: etree._Element) -> list[BodySection]:
    collected: dict[str, list[str]] = {}

    def visit(elem: etree._Element, path: tuple[str, ...]) -> None:
        key = PATH_SEPARATOR.join(path)
        for block in _blocks(elem):
            text = _inline_text(block)
            if text:
                collected.setdefault(key, []).append(text)
        for child in elem:
            if local(child.tag) == "sec" and child.get("sec-type") != "supplementary-material":
                title = _title(child)
                visit(child, (*path, title) if title else path)

    visit(body, ())
    out: list[BodySection] = []
    for path, paragraphs in collected.items():
        spans: list[tuple[int, int]] = []
        pos = 0
        for p in paragraphs:
            spans.append((pos, pos + len(p)))
            pos += len(p) + 1
        out.append(BodySection(path, "\n".join(paragraphs), tuple(spans)))
    return out


# ---------------------------------------------------------------------------------- tables


def _section_path_of(elem: etree._Element) -> str:
    titles: list[str] = []
    node = elem.getparent()
    while node is not None and local(node.tag) != "body":
        if local(node.tag) == "sec":
            t = _title(node)
            if t:
                titles.append(t)
        node = node.getparent()
    return PATH_SEPARATOR.join(reversed(titles))


def _footnotes(wrap: etree._Element) -> list[tuple[str, str]]:
    notes: list[tuple[str, str]] = []
    foot = wrap.find("table-wrap-foot")
    if foot is None:
        return notes
    for el in foot.iter():
        name = local(el.tag)
        if name == "fn":
            label_el = el.find("label")
            label = clean_space("".join(label_el.itertext())) if label_el is not None else ""
            text_parts = []
            for p in el:
                if local(p.tag) == "label":
                    continue
                t, marks = cell_text(p)
                if not label and marks:
                    label = marks[0]
                text_parts.append(t)
            text = clean_space(" ".join(text_parts))
            if not text:
                continue
            fid = el.get("id")
            if fid:
                notes.append((fid, text))
            if label:
                notes.append((label, text))
            if not fid and not label:
                notes.append(("", text))
        elif name == "p" and local(el.getparent().tag) == "table-wrap-foot":
            t, marks = cell_text(el)
            if t:
                notes.extend((m, t) for m in marks) if marks else notes.append(("", t))
    return notes


def _tables(article: etree._Element, pmcid: str) -> list[JatsTable]:
    out: list[JatsTable] = []
    seen: set[str] = set()
    scopes = [article.find(n) for n in ("body", "back", "floats-group")]
    for scope in scopes:
        if scope is None:
            continue
        for i, wrap in enumerate(scope.iter("table-wrap")):
            table = next(wrap.iter("table"), None)
            if table is None:  # a table given only as an image
                continue
            table_id = wrap.get("id") or f"table{len(out) + i + 1}"
            if table_id in seen:
                continue
            seen.add(table_id)
            label_el = wrap.find("label")
            label = clean_space("".join(label_el.itertext())) if label_el is not None else None
            cap_el = wrap.find("caption")
            caption = ""
            if cap_el is not None:
                caption = " ".join(
                    cell_text(c)[0] for c in cap_el if local(c.tag) in ("title", "p")
                ).strip()
            head_rows, body_rows = rows_of(table)
            if not head_rows and not body_rows:
                raise TableError(f"table {table_id} has no rows")
            header = expand(head_rows, table_id, header=True)
            body = expand(body_rows, table_id, header=False)
            width = max((len(r) for r in (*header, *body)), default=0)
            header = [_pad(r, width, True, i) for i, r in enumerate(header)]
            body = [_pad(r, width, False, i) for i, r in enumerate(body)]
            out.append(
                JatsTable(
                    table_id=table_id,
                    label=label or None,
                    caption=caption,
                    header=tuple(tuple(r) for r in header),
                    body=tuple(tuple(r) for r in body),
                    footnotes=tuple(_footnotes(wrap)),
                    section=_section_path_of(wrap),
                )
            )
    return out


def _pad(row: list[Cell], width: int, header: bool, r: int) -> list[Cell]:
    return row + [Cell("", (), (r, c), header) for c in range(len(row), width)]
