"""Value cells of PK tables and the statistics they report.

:func:`parse_cell` reads the syntaxes tables use::

    4.2                 a value
    4.2 ± 1.1           value ± deviation
    4.2 (1.1)           value (deviation)          -- SD, SE or CV% by the table's statistic
    3.42 (28.1)         geometric mean (CV%)
    1.5 (0.5–4.0)       value (low–high)           -- range, IQR or CI by the table's statistic
    12.0 [9.1–15.2]     value [low–high]
    4.2 (3.1, 5.6)      value (low, high)
    0.5–4.0             a range only
    <0.05               a value with a comparator

with thousands separators ("1,234.5"), unicode minus and dashes, and trailing footnote marks
("4.2*", "4.2a"). "NA", "–", "ND", "BLQ", "<LLOQ", "NC", "NR" and empty cells have no value.

:func:`statistic_in` reads what a header, caption or footnote says the cells are ("mean ± SD",
"geometric mean (CV%)", "median (range)", "median [interquartile range]", "90% CI").
Hand-written regular expressions: the syntaxes are few and fixed, and no library reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MINUS = "−‒–—﹣－‐‑"
_NUM = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?"
_NUM_RE = re.compile(rf"^\s*({_NUM})\s*$")
#: Cells meaning "no value".
_NO_VALUE_RE = re.compile(
    r"^\s*(?:|-+|/|n\.?a\.?|n/a|nd|n\.d\.|nc|n\.c\.|nr|ne|bql|blq|bloq|<\s*lloq|<\s*lod|"
    r"<\s*loq|below\s+(?:lloq|loq|lod)|not\s+(?:determined|detected|calculated|applicable|"
    r"estimable|reported|available)|—|–|…|\.\.\.)\s*$",
    re.IGNORECASE,
)
_TRAILING_MARK_RE = re.compile(r"(?<=[\d)\]%])\s*(?:[*†‡§¶#]+|[a-h](?:,[a-h])*)\s*$")
_PLUS_MINUS_RE = re.compile(r"±|\+/-|\+-|\+\/−")


@dataclass(frozen=True)
class CellValue:
    """What a value cell holds; ``deviation`` is the number after ± or in brackets when it is
    not a low–high pair (which go to ``low``/``high``). ``bracket`` says how the second part
    was written: "pm" (±), "paren", "square" or None."""

    value: float | None = None
    deviation: float | None = None
    low: float | None = None
    high: float | None = None
    comparator: str | None = None
    bracket: str | None = None
    deviation_percent: bool = False

    @property
    def empty(self) -> bool:
        return self.value is None and self.low is None and self.high is None


def _clean_number_text(text: str) -> str:
    t = text.strip()
    for ch in _MINUS:
        t = t.replace(ch, "-")
    t = t.replace("\u00a0", " ").replace("\u2009", " ").replace("·", ".")
    return t


def to_number(text: str) -> float | None:
    """A number as written in a table ("1,234.5", "−0.5", "2.1e3"); None if it is not one."""
    t = _clean_number_text(text).replace(" ", "")
    m = _NUM_RE.match(t)
    if not m or not re.search(r"\d", m.group(1)):
        return None
    raw = m.group(1)
    if "," in raw:
        raw = raw.replace(",", "")  # the pattern only lets thousands separators through
    try:
        return float(raw)
    except ValueError:
        return None


def _range(text: str, commas: bool = True) -> tuple[float, float] | None:
    """ "0.5–4.0", "0.5-4.0", "-1.2 to 3.4", and with ``commas`` "0.5, 4.0", "0.5; 4.0" →
    (low, high). A bare cell is read without ``commas``: "1,5" may be a decimal comma."""
    t = _clean_number_text(text)
    sep = r"(?:to|,|;|-)" if commas else r"(?:to|-)"
    m = re.match(rf"^\s*({_NUM})\s*{sep}\s*({_NUM})\s*$", t)
    if not m:
        return None
    lo, hi = to_number(m.group(1)), to_number(m.group(2))
    if lo is None or hi is None:
        return None
    return lo, hi


def parse_cell(text: str) -> CellValue | None:
    """The value(s) of a table cell, or None when the cell holds no number (text, "NA"...)."""
    if text is None:
        return None
    t = text.strip()
    if _NO_VALUE_RE.match(t):
        return None
    t = _TRAILING_MARK_RE.sub("", t).strip()
    t = _clean_number_text(t)
    comparator = None
    m = re.match(r"^(<=|>=|≤|≥|<|>|~|≈)\s*", t)
    if m:
        comparator = {"≤": "<=", "≥": ">=", "≈": "~"}.get(m.group(1), m.group(1))
        t = t[m.end() :]
        if _NO_VALUE_RE.match(comparator + t) or re.match(r"^(lloq|lod|loq)", t, re.I):
            return None
    # value ± deviation
    parts = _PLUS_MINUS_RE.split(t)
    if len(parts) == 2:
        v, d = to_number(parts[0]), parts[1].strip()
        pct = d.endswith("%")
        dv = to_number(d.rstrip("%"))
        if v is not None and dv is not None:
            return CellValue(v, dv, comparator=comparator, bracket="pm", deviation_percent=pct)
        return None
    # value (x) / value [x]
    m = re.match(r"^([^(\[]+?)\s*([(\[])\s*([^)\]]*?)\s*[)\]]\s*$", t)
    if m:
        v = to_number(m.group(1))
        if v is None:
            return None
        inner = m.group(3).strip()
        bracket = "paren" if m.group(2) == "(" else "square"
        rng = _range(inner)
        if rng is not None:
            return CellValue(v, None, rng[0], rng[1], comparator, bracket)
        pct = inner.endswith("%")
        dv = to_number(inner.rstrip("%").strip())
        if dv is not None:
            return CellValue(v, dv, comparator=comparator, bracket=bracket, deviation_percent=pct)
        return None
    v = to_number(t)
    if v is not None:
        return CellValue(v, comparator=comparator)
    rng = _range(t, commas=False)
    if rng is not None:
        return CellValue(None, None, rng[0], rng[1], comparator)
    return None


# ----------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class StatSpec:
    """What cells report: the central ``statistic`` ("mean", "geometric_mean", "median") and
    the ``dispersion`` beside it ("SD", "SE", "CV", "range", "IQR", "90% CI", "95% CI")."""

    statistic: str | None = None
    dispersion: str | None = None

    def merged(self, fallback: StatSpec) -> StatSpec:
        return StatSpec(
            self.statistic or fallback.statistic, self.dispersion or fallback.dispersion
        )

    @property
    def known(self) -> bool:
        return self.statistic is not None or self.dispersion is not None


_GEO_RE = re.compile(r"\bgeo(?:metric)?\.?\s*means?\b|\bgeomeans?\b|\bGM\b(?!R)", re.I)
_MEDIAN_RE = re.compile(r"\bmedians?\b", re.I)
_MEAN_RE = re.compile(r"\b(?:arithmetic\s+)?means?\b", re.I)
_IQR_RE = re.compile(r"\binter-?\s?quartile\s+range\b|\bIQR\b|\bQ1\s*[-–,]\s*Q3\b", re.I)
_RANGE_RE = re.compile(r"\b(?:min(?:imum)?\s*[-–,]\s*max(?:imum)?|range)\b", re.I)
_CI_RE = re.compile(r"\b(\d{2})\s*%\s*(?:CI|confidence\s+intervals?)\b", re.I)
_CV_RE = re.compile(r"\bCV\s*%|%\s*CV\b|\bCV\b|coefficient\s+of\s+variation", re.I)
_SD_RE = re.compile(r"\bS\.?D\.?\b|standard\s+deviations?", re.I)
_SE_RE = re.compile(r"\bS\.?E\.?M?\.?\b|standard\s+errors?", re.I)


def statistic_in(text: str | None) -> StatSpec:
    """The statistic a header, caption or footnote names; ``StatSpec()`` when none."""
    if not text:
        return StatSpec()
    t = text
    statistic = None
    if _GEO_RE.search(t):
        statistic = "geometric_mean"
    elif _MEDIAN_RE.search(t):
        statistic = "median"
    elif _MEAN_RE.search(t):
        statistic = "mean"
    dispersion = None
    ci = _CI_RE.search(t)
    if _IQR_RE.search(t):
        dispersion = "IQR"
    elif ci:
        dispersion = f"{ci.group(1)}% CI"
    elif _CV_RE.search(t):
        dispersion = "CV"
    elif _RANGE_RE.search(t):
        dispersion = "range"
    elif _SD_RE.search(t):
        dispersion = "SD"
    elif _SE_RE.search(t):
        dispersion = "SE"
    return StatSpec(statistic, dispersion)


MEASUREMENT_TYPE = {"mean": "mean", "geometric_mean": "geometric mean", "median": "median"}
