"""Balanced, nested downsampling of a training set (for learning-curve experiments).

``downsample(examples, fraction, seed)`` keeps ``round(fraction * n)`` examples such that

* the share of positive sentences (with at least one span) is kept to within one sentence;
* within the positives, the label mix is kept: positives are stratified by the *set* of labels
  they carry (``{PK}``, ``{PK, VALUE, UNITS}``, ...) and each stratum contributes in proportion;
* the subset depends only on the examples' content, the fraction and the seed — not on the
  input order nor on any model configuration, so every configuration of an experiment sees the
  same sentences for the same (fraction, seed);
* smaller fractions give **nested** subsets for the same seed (the 10 % sample is inside the
  25 % sample, which is inside the 50 % one...);
* for ``fraction > 0`` the sample is never empty: it has at least one positive and, where the
  input has negatives, at least one negative. ``fraction == 1`` returns everything.

How: one fixed priority order of all examples is built from the seed, and a sample is a prefix
of it (hence nesting). The order is systematic stratified sampling at two levels: within each
label-set stratum of the positives, the j-th (shuffled) member gets key ``(j + 0.5) / n``;
positives are ordered by that key (the Sainte-Laguë apportionment sequence); then positives and
negatives are interleaved by keys ``(j + 0.5) / n`` again. Any prefix therefore takes nearly
the same share from every stratum. Returned examples keep their input order.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from collections import defaultdict
from collections.abc import Sequence

from pkharvest.corpus.records import ENTITY_LABELS, Example
from pkharvest.errors import UsageError

logger = logging.getLogger(__name__)


def validate_fraction(fraction: float) -> float:
    """``fraction`` must be a number in (0, 1]; raises :class:`UsageError` (``--fraction``)."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise UsageError(f"{fraction!r} is not a number", field="fraction")
    if not math.isfinite(fraction) or not 0 < fraction <= 1:
        raise UsageError(f"{fraction:g} is not in (0, 1]", field="fraction")
    return float(fraction)


def label_set(ex: Example) -> tuple[str, ...]:
    """The stratum of an example: its span labels, sorted in :data:`ENTITY_LABELS` order
    (``()`` for a negative sentence)."""
    present = {s.label for s in ex.spans}
    order = {lab: i for i, lab in enumerate(ENTITY_LABELS)}
    return tuple(sorted(present, key=lambda lab: (order.get(lab, len(order)), lab)))


def _content_key(ex: Example) -> str:
    spans = ";".join(f"{s.start}:{s.end}:{s.label}" for s in ex.spans)
    return hashlib.sha1(f"{ex.article_id}\x00{ex.text}\x00{spans}".encode()).hexdigest()


def _systematic(groups: list[list[int]], rng: random.Random) -> list[int]:
    """Merge already-ordered groups so that every prefix takes from each group in proportion
    to its size: the j-th member of a group of n gets key ``(j + 0.5) / n`` (ties broken at
    random). Sorting by these keys is the Sainte-Laguë divisor method, so every prefix is a
    near-proportional allocation and, divisor methods being house-monotone, prefixes nest."""
    keyed: list[tuple[float, float, int]] = []
    for g in groups:
        n = len(g)
        for j, idx in enumerate(g):
            keyed.append(((j + 0.5) / n, rng.random(), idx))
    keyed.sort()
    return [idx for _, _, idx in keyed]


def priority_order(examples: Sequence[Example], seed: int) -> list[int]:
    """Indices of ``examples`` in the order :func:`downsample` takes them for ``seed``; a sample
    of size k is the first k. Depends only on the examples' content and the seed."""
    # Canonical order first, so that the input order does not matter (ties: input position).
    canonical = sorted(range(len(examples)), key=lambda i: (_content_key(examples[i]), i))
    rng = random.Random(seed)
    strata: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i in canonical:
        strata[label_set(examples[i])].append(i)
    positive_groups = []
    for key in sorted(k for k in strata if k):
        members = strata[key]
        rng.shuffle(members)
        positive_groups.append(members)
    negatives = strata.get((), [])
    rng.shuffle(negatives)
    positives = _systematic(positive_groups, rng) if positive_groups else []
    order = _systematic([g for g in (positives, negatives) if g], rng)
    # Guarantee that any sample of two or more holds a positive and a negative: move the first
    # of each to the front. Done once on the fixed order, so prefixes stay nested.
    front = [g[0] for g in (positives, negatives) if g]
    front.sort(key=order.index)
    rest = set(front)
    return front + [i for i in order if i not in rest]


def sample_size(n: int, fraction: float, n_positive: int, n_negative: int) -> int:
    """How many of ``n`` examples :func:`downsample` keeps at ``fraction``."""
    if n == 0:
        return 0
    minimum = (1 if n_positive else 0) + (1 if n_negative else 0)
    return min(n, max(round(fraction * n), minimum, 1))


def downsample(examples: Sequence[Example], fraction: float, seed: int) -> list[Example]:
    """A class-balanced subset of about ``fraction`` of ``examples`` (see the module doc):
    deterministic for ``seed``, nested across fractions, never empty for ``fraction > 0``."""
    fraction = validate_fraction(fraction)
    if fraction == 1.0:
        return list(examples)
    n_pos = sum(1 for ex in examples if ex.spans)
    k = sample_size(len(examples), fraction, n_pos, len(examples) - n_pos)
    chosen = sorted(priority_order(examples, seed)[:k])
    logger.info("downsampled %d examples to %d (fraction %g, seed %d)", len(examples), k,
                fraction, seed)
    return [examples[i] for i in chosen]
