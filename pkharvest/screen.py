"""The sentence filter: the model's bCLS head decides which sentences go on to NER and linking.

The threshold is chosen for *recall* of PK-bearing sentences (a sentence wrongly dropped loses
its measurements for good, a sentence wrongly kept only costs tagging time); the recall and the
time saved, measured by ``bench/bench_pipeline.py``, are in ``docs/results.md`` (how the
threshold was chosen: ``docs/pipeline.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pkharvest.errors import UsageError

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.05


@dataclass(frozen=True)
class FilterDecision:
    pk_probability: float
    kept: bool


def validate_threshold(threshold: float) -> float:
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(f"must be between 0 and 1, got {threshold}", field="threshold")
    return threshold


def decide(
    probabilities: Sequence[float], threshold: float = DEFAULT_THRESHOLD
) -> list[FilterDecision]:
    """Keep a sentence when its bCLS probability reaches ``threshold``."""
    validate_threshold(threshold)
    return [FilterDecision(float(p), float(p) >= threshold) for p in probabilities]


def may_carry_value(text: str) -> bool:
    """The cheap pre-filter of bulk runs: a sentence without a digit cannot carry a parameter
    value, so it need not be tagged. ``str.isdigit`` counts every Unicode digit (Arabic-Indic,
    full-width...), not only ASCII 0-9."""
    return any(ch.isdigit() for ch in text)
