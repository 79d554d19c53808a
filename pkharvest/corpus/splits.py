"""Article-grouped train/dev/test splits.

All sentences of one article (:attr:`Example.article_id`) go to the same split, so that a model
is never evaluated on an article it was trained on. Articles are assigned greedily, largest
first, in an order shuffled by ``seed``; each goes to the split where it best closes the gap to
the target proportions of sentences, of positive sentences (with at least one span) and of each
span label. The result depends only on the examples (not their order), the proportions and the
seed; within a split, examples keep their input order.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pkharvest.corpus.records import ENTITY_LABELS, Example
from pkharvest.errors import UsageError

logger = logging.getLogger(__name__)

SPLIT_NAMES: tuple[str, str, str] = ("train", "dev", "test")
DEFAULT_PROPORTIONS: tuple[float, float, float] = (0.7, 0.15, 0.15)
#: DEFAULT_PROPORTIONS as ``--split`` writes it ("0.7,0.15,0.15").
DEFAULT_SPLIT = ",".join(f"{share:g}" for share in DEFAULT_PROPORTIONS)
DEFAULT_SEED = 13
_TOLERANCE = 1e-6
# Weights of the balance criteria: sentence counts and positive/negative counts matter most;
# the label mix is a softer goal (rare labels cannot be split exactly anyway).
_W_SENTENCES = 1.0
_W_POSITIVES = 1.0
_W_LABEL = 0.25


@dataclass(frozen=True)
class CorpusSplit:
    train: list[Example]
    dev: list[Example]
    test: list[Example]

    def as_dict(self) -> dict[str, list[Example]]:
        return {"train": self.train, "dev": self.dev, "test": self.test}

    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.as_dict().items()}


def validate_proportions(proportions: Sequence[float]) -> tuple[float, float, float]:
    """Check ``(train, dev, test)`` shares: three finite non-negative numbers summing to 1 with
    a positive train share. Raises :class:`UsageError` (option ``--split``)."""
    props = tuple(proportions)
    if len(props) != 3:
        raise UsageError(f"expected three shares train,dev,test, got {len(props)}",
                         field="split")
    for name, p in zip(SPLIT_NAMES, props, strict=True):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p):
            raise UsageError(f"{name} share {p!r} is not a number", field="split")
        if p < 0:
            raise UsageError(f"{name} share {p} is negative", field="split")
    if abs(sum(props) - 1.0) > _TOLERANCE:
        raise UsageError(f"shares {','.join(f'{p:g}' for p in props)} sum to {sum(props):g}, "
                         "not 1", field="split")
    if props[0] <= 0:
        raise UsageError("the train share must be above 0", field="split")
    return float(props[0]), float(props[1]), float(props[2])


def parse_split(value: str) -> tuple[float, float, float]:
    """Parse ``"0.7,0.15,0.15"`` (or percentages ``"70,15,15"``; two values mean no test
    split). Raises :class:`UsageError` with ``field="split"`` on bad input."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (2, 3) or any(not p for p in parts):
        raise UsageError(f"expected train,dev,test shares like {DEFAULT_SPLIT}, got {value!r}",
                         field="split")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise UsageError(f"expected numbers like {DEFAULT_SPLIT}, got {value!r}",
                         field="split") from None
    if len(nums) == 2:
        nums.append(0.0)
    if all(math.isfinite(n) for n in nums) and abs(sum(nums) - 100.0) <= 1e-6 * 100:
        nums = [n / 100.0 for n in nums]
    return validate_proportions(nums)


def _stable_key(ex: Example) -> str:
    return hashlib.sha1(f"{ex.article_id}\x00{ex.text}".encode()).hexdigest()


def split_by_article(
    examples: Sequence[Example],
    proportions: Sequence[float] = DEFAULT_PROPORTIONS,
    seed: int = DEFAULT_SEED,
) -> CorpusSplit:
    """Split ``examples`` into train/dev/test, grouped by article, deterministic for ``seed``,
    balanced in sentences, positive/negative sentences and label mix. A 0 share gives an empty
    split."""
    props = validate_proportions(proportions)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[ex.article_id].append(i)

    # The dimensions we balance: sentences, positives, then one per label.
    labels = list(ENTITY_LABELS) + sorted(
        {s.label for ex in examples for s in ex.spans} - set(ENTITY_LABELS))
    weights = [_W_SENTENCES, _W_POSITIVES] + [_W_LABEL] * len(labels)

    def vector(idx: list[int]) -> list[float]:
        counts: Counter[str] = Counter()
        pos = 0
        for i in idx:
            counts.update(s.label for s in examples[i].spans)
            pos += bool(examples[i].spans)
        return [float(len(idx)), float(pos)] + [float(counts[lab]) for lab in labels]

    # Order independent of input order: sort articles by a content hash, then shuffle by seed,
    # then (stable) largest first so that big articles are placed while there is room.
    keys = sorted(groups, key=lambda a: (hashlib.sha1(a.encode()).hexdigest(),
                                         min(_stable_key(examples[i]) for i in groups[a])))
    rng = random.Random(seed)
    rng.shuffle(keys)
    keys.sort(key=lambda a: -len(groups[a]))

    vectors = {a: vector(groups[a]) for a in keys}
    totals = [sum(v[d] for v in vectors.values()) for d in range(len(weights))]
    targets = [[p * t for t in totals] for p in props]
    current = [[0.0] * len(weights) for _ in props]
    assigned: list[list[int]] = [[], [], []]
    active = [k for k, p in enumerate(props) if p > 0]

    for a in keys:
        v = vectors[a]
        best, best_cost = active[0], math.inf
        for k in active:
            # Cost of putting the article in split k: how much it overshoots (or fails to fill)
            # the targets of k, relative to each dimension's total.
            cost = 0.0
            for d, w in enumerate(weights):
                if totals[d] <= 0:
                    continue
                after = (current[k][d] + v[d] - targets[k][d]) / totals[d]
                before = (current[k][d] - targets[k][d]) / totals[d]
                cost += w * (after * after - before * before)
            if cost < best_cost - 1e-12:
                best, best_cost = k, cost
        for d in range(len(weights)):
            current[best][d] += v[d]
        assigned[best].extend(groups[a])

    parts = [[examples[i] for i in sorted(idx)] for idx in assigned]
    split = CorpusSplit(train=parts[0], dev=parts[1], test=parts[2])
    logger.info("split %d examples (%d articles) into %s", len(examples), len(groups),
                split.sizes())
    return split
