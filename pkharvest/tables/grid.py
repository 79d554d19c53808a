"""A JATS/XHTML ``<table>`` as an expanded grid: ``rowspan``/``colspan`` copied into every
position they cover, inline markup turned into text, footnote markers taken out of the text and
kept per cell.

Written here rather than with ``pandas.read_html``: that reader drops the ``<sup>``/``<xref>``
distinction we need for footnote markers, does not tell which cell a spanned copy came from, and
would pull in html5lib/bs4 for a few dozen lines of lxml.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from lxml import etree

from pkharvest.errors import FetchError
from pkharvest.tables.cells import parse_cell

#: Largest span accepted; bigger values are malformed input (a grid of millions of cells).
MAX_SPAN = 200
#: A ``<sup>`` holding only this is a footnote marker ("a", "b,c", "*", "†").
_MARKER_SUP_RE = re.compile(r"^\s*(?:[a-z]|[*†‡§¶#]+)(?:\s*,\s*(?:[a-z]|[*†‡§¶#]+))*\s*$")
#: Footnote symbols written as plain text at the end of a name ("Tmax*", "AUC†").
_TRAILING_SYMBOLS_RE = re.compile(r"\s*[*†‡§¶]+\s*$")
_SPACE_RE = re.compile(r"\s+")


class TableError(FetchError):
    """A table cannot be read (bad spans, no rows): the article is malformed."""


@dataclass(frozen=True)
class Cell:
    """One grid position: its text, the footnote markers written on it, and the position of the
    cell it was copied from (itself unless it lies under a span)."""

    text: str
    markers: tuple[str, ...] = ()
    origin: tuple[int, int] = (0, 0)
    header: bool = False  # a ``<th>`` (or a ``<thead>`` row)


def local(tag: object) -> str:
    """Tag name without namespace (``{http://www.w3.org/1999/xhtml}td`` → ``td``)."""
    if not isinstance(tag, str):
        return ""  # comments and processing instructions
    return tag.rsplit("}", 1)[-1]


def clean_space(text: str) -> str:
    return _SPACE_RE.sub(" ", text.replace("\u00a0", " ")).strip()


def cell_text(elem: etree._Element) -> tuple[str, tuple[str, ...]]:
    """Text of a cell with inline markup flattened (C<sub>max</sub> → Cmax) and footnote
    markers removed: ``<xref ref-type="table-fn">`` (marker = its ``rid``, else its text) and
    ``<sup>`` holding only a marker ("a", "*", "†"). Returns (text, markers)."""
    parts: list[str] = []
    markers: list[str] = []

    def walk(node: etree._Element) -> None:
        name = local(node.tag)
        if name == "xref" and node.get("ref-type") in ("table-fn", "fn", None):
            rid = node.get("rid")
            label = clean_space("".join(node.itertext()))
            markers.extend(rid.split() if rid else [m for m in re.split(r"[,\s]+", label) if m])
        elif name == "sup" and _MARKER_SUP_RE.match("".join(node.itertext()) or "x"):
            text = "".join(node.itertext())
            markers.extend(m.strip() for m in text.split(",") if m.strip())
        elif name in ("break", "br"):
            parts.append(" ")
        elif isinstance(node.tag, str):  # skip comments and processing instructions
            if node.text:
                parts.append(node.text)
            for child in node:
                walk(child)
                if child.tail:
                    parts.append(child.tail)
            return
        # xref/sup markers: only their tail is text (added by the parent)

    if elem.text:
        parts.append(elem.text)
    for child in elem:
        walk(child)
        if child.tail:
            parts.append(child.tail)
    text = clean_space(unicodedata.normalize("NFC", "".join(parts)))
    trailing = _TRAILING_SYMBOLS_RE.search(text)
    if trailing and not _looks_numeric_with_marker(text):
        markers.extend(ch for ch in trailing.group(0).strip())
        text = text[: trailing.start()].rstrip()
    return text, tuple(markers)


def _looks_numeric_with_marker(text: str) -> bool:
    # "4.2*" in a value cell: the star marks significance; the value parser strips it itself.
    return bool(re.match(r"^[\d.,\s±()\[\]–—−-]+[*†‡§¶]+$", text))


def _span(elem: etree._Element, attr: str, table_id: str) -> int:
    raw = (elem.get(attr) or "1").strip()
    try:
        value = int(raw)
    except ValueError:
        raise TableError(f"table {table_id}: {attr}={raw!r} is not a whole number") from None
    if value < 0 or value > MAX_SPAN:
        raise TableError(f"table {table_id}: {attr}={value} is out of range (0..{MAX_SPAN})")
    return max(value, 1)  # rowspan="0" (to the end of the group) is read as 1


def rows_of(table: etree._Element) -> tuple[list[etree._Element], list[etree._Element]]:
    """(header rows, body rows) of a ``<table>``: ``thead`` rows, then ``tbody``/bare rows
    (``tfoot`` left out). Without ``thead``, leading rows made only of ``<th>`` are header
    rows, or else a first row of two or more labels (no number) over rows holding numbers."""
    head: list[etree._Element] = []
    body: list[etree._Element] = []
    for child in table:
        name = local(child.tag)
        if name == "thead":
            head.extend(r for r in child if local(r.tag) == "tr")
        elif name == "tbody":
            body.extend(r for r in child if local(r.tag) == "tr")
        elif name == "tr":
            body.append(child)
    if not head:
        while body and all(local(c.tag) == "th" for c in body[0] if isinstance(c.tag, str)):
            if not any(isinstance(c.tag, str) for c in body[0]):
                break
            head.append(body.pop(0))
    if not head and len(body) > 1 and _label_row(body[0]) and any(_has_number(r) for r in body):
        head.append(body.pop(0))  # a header written with <td>: labels over columns of numbers
    return head, body


def _texts(tr: etree._Element) -> list[str]:
    return [cell_text(c)[0] for c in tr if local(c.tag) in ("td", "th")]


def _label_row(tr: etree._Element) -> bool:
    texts = [t for t in _texts(tr) if t]
    return len(texts) >= 2 and all(parse_cell(t) is None for t in texts)


def _has_number(tr: etree._Element) -> bool:
    return any(parse_cell(t) is not None for t in _texts(tr))


def expand(rows: list[etree._Element], table_id: str, header: bool) -> list[list[Cell]]:
    """The rows as a rectangular grid with spans expanded (a spanned cell is copied into each
    position it covers; ``Cell.origin`` points at its top-left position)."""
    taken: dict[tuple[int, int], Cell] = {}
    width = 0
    for r, tr in enumerate(rows):
        c = 0
        for td in tr:
            if local(td.tag) not in ("td", "th"):
                continue
            while (r, c) in taken:
                c += 1
            rs = _span(td, "rowspan", table_id)
            cs = _span(td, "colspan", table_id)
            text, markers = cell_text(td)
            is_head = header or local(td.tag) == "th"
            for dr in range(rs):
                for dc in range(cs):
                    taken[(r + dr, c + dc)] = Cell(text, markers, (r, c), is_head)
            c += cs
            width = max(width, c)
        width = max(width, c)
    height = len(rows)
    grid: list[list[Cell]] = []
    for r in range(height):
        row = []
        for c in range(width):
            cell = taken.get((r, c))
            row.append(cell if cell is not None else Cell("", (), (r, c), header))
        grid.append(row)
    return grid
