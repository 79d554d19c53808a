"""Sentence splitting with character offsets, tuned for pharmacokinetic abstracts.

pysbd (a maintained rule-based splitter) proposes the boundaries; a small set of post-rules then
repairs what it gets wrong on PK text. Each rule is there because pysbd failed on it:

* pysbd splits *before* a unit or an enumeration that follows a number ("... over 1 | h. The",
  "(Group | 1)", "| (ii) due to ...") -> a boundary is only kept where the text before it ends
  with sentence-final punctuation (``. ! ?``, optionally followed by closing brackets/quotes).
* pysbd's abbreviation list contains unit symbols ("min", "hr", "mm") and then misses the end of
  "... infused over 30 min. The ..." -> boundaries after a period followed by a capitalised word
  are added unless the word before the period is a known non-final abbreviation or an initial.
* pysbd splits after "approx." and similar before a number ("approx. | 2.5 mg") -> a boundary
  after a never-final abbreviation (e.g., i.e., vs., approx., Fig., cf., ca., ...) is dropped.
* a boundary followed by a lower-case letter ("p.o. | dosing", "2490%. | h in ...") is never a
  sentence start in abstracts -> dropped.

All offsets are half-open ``[start, end)`` into the input text, with surrounding whitespace
trimmed; the input text is never altered.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import pysbd

from pkharvest.records import Article, Sentence

logger = logging.getLogger(__name__)

# Abbreviations that (practically) never end a sentence in an abstract: a following boundary is
# dropped whatever comes next. Compared case-insensitively, without the final period.
NEVER_FINAL = frozenset(
    {
        "e.g", "i.e", "vs", "v", "approx", "ca", "cf", "fig", "figs", "eq", "eqs", "ref", "refs",
        "no", "nos", "dr", "prof", "mr", "mrs", "st", "resp", "incl", "viz", "sp", "spp",
        "var", "ssp", "tab", "vol", "pp", "p", "c.f", "n.b", "nb",
    }
)  # fmt: skip

# Units and other abbreviations that may end a sentence ("h.", "min.", "i.v.", "b.i.d.") need no
# list: the general rules keep a boundary after them only before a capitalised word or digit.
_CLOSERS = "\"'’”)]}"
_TERMINAL_RE = re.compile(r"[.!?][" + re.escape(_CLOSERS) + r"]*$")
# Candidate boundaries pysbd may have missed: sentence-final punctuation, optional closers,
# whitespace, then a capital letter (optionally after an opening bracket or quote).
_CANDIDATE_RE = re.compile(r"[.!?][" + re.escape(_CLOSERS) + r"]*\s+(?=[\"'‘“(\[]?[A-Z])")
_WORD_BEFORE_PERIOD_RE = re.compile(r"(\S+?)[.!?][" + re.escape(_CLOSERS) + r"]*$")
_WINDOW = 300
_LIST_MARKER_RE = re.compile(r"\(?(?:\d{1,2}|[ivxIVX]{1,4}|[a-hA-H])[.)]")
_ET_AL_RE = re.compile(r"\bet\s+al\.$")


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def _pysbd_boundaries(text: str) -> set[int]:
    """Start offsets of pysbd's segments (2nd and later), located in ``text`` by search.

    We locate segments ourselves instead of trusting ``char_span=True``: pysbd's spans come from a
    regex search of each segment and go wrong for repeated sentences."""
    bounds: set[int] = set()
    cursor = 0
    for seg in _segmenter().segment(text):
        stripped = seg.strip()
        if not stripped:
            continue
        pos = text.find(stripped, cursor)
        if pos < 0:  # pysbd altered the text (should not happen with clean=False)
            logger.debug("pysbd segment not found verbatim; skipping: %r", stripped[:40])
            continue
        if pos > 0:
            bounds.add(pos)
        cursor = pos + len(stripped)
    return bounds


def _is_boundary(text: str, pos: int) -> bool:
    """Whether a sentence may start at ``pos`` (the first non-space character after a gap)."""
    # only a window before the boundary matters (keeps long texts linear)
    window_start = max(0, pos - _WINDOW)
    before = text[window_start:pos].rstrip()
    if not before:
        return False
    gap = text[window_start + len(before) : pos]
    if "\n" in gap:  # a line break between blocks of text always separates sentences
        return True
    if not _TERMINAL_RE.search(before):
        return False
    nxt = text[pos]
    if nxt.islower():
        return False
    core = before.rstrip(_CLOSERS)
    if core.endswith("."):
        if _ET_AL_RE.search(core):
            # "Smith et al. (2001) found" vs "... reported by Higashi et al. Although ..."
            return nxt.isupper()
        # "Results: 1. CL was ..." -- a list number after a colon starts an item, not a sentence end
        if re.search(r"(?:^|[:;])\s*\(?\d{1,2}\.$", core):
            return False
        # "V . O 2 max": the dot accent of V̇O2 flattened into a detached period after a capital
        if re.search(r"(?:^|\s|\()[A-Z]\s+\.$", core):
            return False
        m = _WORD_BEFORE_PERIOD_RE.search(core)
        word = m.group(1).lstrip("(\"'[‘“") if m else ""
        low = word.lower()
        if low in NEVER_FINAL or low.rstrip(".") in NEVER_FINAL:
            return False
        # a single capital initial ("B. fragilis", "J. Smith") or dotted initials ("U.S.") --
        # but a unit letter after a number ("volume was 52 L. The ...") ends the sentence
        if re.fullmatch(r"(?:[A-Z]\.)*[A-Z]", word) and not re.search(r"\d\s*[A-Z]$", core[:-1]):
            return False
    return True


def split_text(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences; return ``[start, end)`` offsets, whitespace-trimmed."""
    if not text or not text.strip():
        return []
    candidates = _pysbd_boundaries(text)
    candidates.update(m.end() for m in _CANDIDATE_RE.finditer(text))
    candidates.update(m.end() for m in re.finditer(r"\n\s*", text) if m.end() < len(text))
    cuts = sorted(b for b in candidates if 0 < b < len(text) and _is_boundary(text, b))
    # A segment that is only a list marker ("1.", "2)", "(iii)") belongs to the next sentence:
    # pysbd (and the period rule) cut after numbered-list markers at the start of an item.
    kept: list[int] = []
    prev = 0
    for cut in cuts:
        if _LIST_MARKER_RE.fullmatch(text[prev:cut].strip()):
            continue
        kept.append(cut)
        prev = cut
    cuts = kept
    spans: list[tuple[int, int]] = []
    start = 0
    for cut in [*cuts, len(text)]:
        seg = text[start:cut]
        lead = len(seg) - len(seg.lstrip())
        trail = len(seg) - len(seg.rstrip())
        s, e = start + lead, cut - trail
        if e > s:
            spans.append((s, e))
        start = cut
    return spans


def split_article(article: Article) -> list[Sentence]:
    """Sentences of an article: the title first (section ``"title"``), then each abstract section
    (section = its label, or ``"abstract"`` when unlabelled). ``start``/``end`` are offsets into
    the text of the section; ``index`` counts over the whole article."""
    parts: list[tuple[str, str]] = [("title", article.title or "")]
    parts.extend((sec.label or "abstract", sec.text or "") for sec in article.sections)
    sentences: list[Sentence] = []
    for section, text in parts:
        for start, end in split_text(text):
            sentences.append(
                Sentence(
                    pmid=article.pmid,
                    index=len(sentences),
                    text=text[start:end],
                    start=start,
                    end=end,
                    section=section,
                )
            )
    return sentences
