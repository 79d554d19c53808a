"""What a sentence says about where a value comes from: flags for values that are not the
article's own in-vivo estimates.

* ``in_vitro`` -- the sentence speaks of storage, stability, temperature or in-vitro work
  ("t1/2 at 4 °C = 187 days" in a stability study is no elimination half-life);
* ``cited`` -- the value's clause cites another study ("reported by", "given by", "et al.",
  "previous studies", "in the literature"): "values given by Hnatowich et al. (130 ml/h)".

Term lists written from the way PK abstracts phrase these (no library classifies them); a flagged
value is kept and stored, and left out of summaries and pooling by default.
"""

from __future__ import annotations

import re

__all__ = ["CITED", "IN_VITRO", "context_flags"]

IN_VITRO = "in_vitro"
CITED = "cited"

_IN_VITRO_RE = re.compile(
    r"\bin[\s-]?vitro\b|\bex[\s-]?vivo\b|\bstorage\b|\bstored\b|\bstabilit(?:y|ies)\b|"
    r"\bshelf[\s-]?life\b|\btemperatures?\b|°\s*C\b|\bdeg(?:ree)?s?\s*C\b|\bincubat\w*|"
    r"\brefrigerat\w*|\bfrozen\b|\bfreez\w*|\bthaw\w*|\bmicrosom\w*|\bhepatocytes?\b|"
    r"\bcell\s+(?:lines?|cultures?)\b|\bin\s+(?:buffer|solution|saline|plasma\s+samples)\b",
    re.I,
)
_CITED_RE = re.compile(
    r"\b(?:reported|given|described|published|found|obtained|observed)\s+(?:previously\s+)?by\b|"
    r"\bet\s+al\b|\bprevious(?:ly)?\s+(?:reported|published|studies|study|work|reports?|"
    r"findings|data|values)\b|\bpublished\s+(?:data|values|studies|literature)\b|"
    r"\b(?:earlier|prior|other|former)\s+(?:studies|reports|investigators|authors)\b|"
    r"\bin\s+the\s+literature\b|\bliterature\s+values?\b|\baccording\s+to\b|\bref\.\s*\d",
    re.I,
)
# "CL was 5 L/h, similar to that reported by X": a comparison between the value and the cue
# means the value is the article's own.
_COMPARISON_RE = re.compile(
    r"\b(?:similar|compar\w*|consistent|agreement|line|contrast|than|versus|vs|whereas|while|"
    r"unlike|like|close)\b", re.I,
)


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    """The ";"-delimited part of the sentence that holds ``[start, end)``."""
    left = text.rfind(";", 0, start)
    right = text.find(";", end)
    return left + 1, len(text) if right < 0 else right


def context_flags(text: str, value_start: int | None, value_end: int | None) -> list[str]:
    """Flags (``in_vitro``, ``cited``) for the value at ``[value_start, value_end)`` of the
    sentence ``text``. Never raises; ``[]`` for anything unreadable."""
    try:
        if not isinstance(text, str) or value_start is None or value_end is None:
            return []
        flags: list[str] = []
        if _IN_VITRO_RE.search(text):
            flags.append(IN_VITRO)
        lo, hi = _clause(text, value_start, value_end)
        for cue in _CITED_RE.finditer(text, lo, hi):
            if cue.start() >= value_end and _COMPARISON_RE.search(text, value_end, cue.start()):
                continue
            flags.append(CITED)
            break
        return flags
    except Exception:  # total by contract
        return []
