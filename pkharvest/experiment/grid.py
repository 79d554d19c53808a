"""The experiment grid: which runs make up a study, their stable keys, and the hashes that prove
matched seeds (every configuration of a seed and fraction saw the same examples)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pkharvest.corpus.records import VIEWS, Example
from pkharvest.errors import UsageError
from pkharvest.model.config import ALL_HEADS, AUX_HEADS

#: The four heads of the network, in canonical order; "ner" is the main task.
HEADS: tuple[str, ...] = ALL_HEADS
MAIN_HEAD = "ner"
AUXILIARY_HEADS: tuple[str, ...] = AUX_HEADS
#: Loss weightings (kept equal to ``pkharvest.model.weighting.WEIGHTINGS`` — a test checks —
#: so that parsing the grid does not import torch). ``none`` trains NER alone.
WEIGHTINGS: tuple[str, ...] = ("none", "fixed", "uncertainty", "hybrid")
SINGLE_TASK_WEIGHTING = "none"

DEFAULT_VIEWS: tuple[str, ...] = ("pk", "full")
DEFAULT_FRACTIONS: tuple[float, ...] = (1.0, 0.75, 0.5, 0.25, 0.1, 0.075, 0.05, 0.025)
DEFAULT_SEEDS = 10


def full_heads(weighting: str) -> tuple[str, ...]:
    """The heads a configuration trains when nothing is ablated: NER alone for ``none`` (the
    trainer builds no auxiliary head then), all four otherwise."""
    return (MAIN_HEAD,) if weighting == SINGLE_TASK_WEIGHTING else HEADS


@dataclass(frozen=True)
class RunSpec:
    """One training run of the study. ``heads`` is in :data:`HEADS` order; left out, it is the
    configuration's :func:`full_heads`."""

    view: str
    fraction: float
    weighting: str
    seed: int
    heads: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.heads:
            object.__setattr__(self, "heads", full_heads(self.weighting))

    @property
    def removed_heads(self) -> tuple[str, ...]:
        """Heads an ablation removed from the configuration's full set."""
        return tuple(h for h in full_heads(self.weighting) if h not in self.heads)

    @property
    def ablated(self) -> bool:
        return bool(self.removed_heads)

    @property
    def multi_task(self) -> bool:
        """Whether more than one task's loss is trained (``none`` trains NER alone)."""
        return self.weighting != SINGLE_TASK_WEIGHTING and len(self.heads) > 1

    @property
    def configuration(self) -> str:
        """The name a configuration goes by in tables: the weighting, plus ``-no_<head>`` for
        each head an ablation removed (e.g. ``uncertainty-no_mcls``)."""
        return self.weighting + "".join(f"-no_{h}" for h in self.removed_heads)

    @property
    def key(self) -> str:
        """Stable primary key of the run in the run store."""
        return (
            f"{self.view}|f={self.fraction:g}|{self.weighting}|{'+'.join(self.heads)}"
            f"|seed={self.seed}"
        )


def example_id(example: Example) -> str:
    """A content id of an example: article id + text. The corpus has no unique sentence id
    (``sentence_id`` counts within a paragraph), and a content id stays the same whatever file
    or line the sentence was read from."""
    digest = hashlib.sha1(f"{example.article_id}\x1f{example.text}".encode()).hexdigest()
    return digest[:16]


def ids_hash(examples: Iterable[Example]) -> str:
    """Order-independent hash of the example ids of a set of examples (duplicates count)."""
    ids = sorted(example_id(e) for e in examples)
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def parse_fractions(text: str) -> tuple[float, ...]:
    """``"1,0.5,0.1"`` -> ``(1.0, 0.5, 0.1)``; each in (0, 1]."""
    out: list[float] = []
    for part in _items(text, "fractions"):
        try:
            value = float(part)
        except ValueError:
            raise UsageError(f"not a number: {part!r}", field="fractions") from None
        if not 0.0 < value <= 1.0:
            raise UsageError(f"{part} is not in (0, 1]", field="fractions")
        out.append(value)
    return _unique(out)


def parse_views(text: str) -> tuple[str, ...]:
    views = _unique(_items(text, "views"))
    for v in views:
        if v not in VIEWS:
            raise UsageError(f"unknown view {v!r} (known: {', '.join(VIEWS)})", field="views")
    return views


def parse_weightings(text: str) -> tuple[str, ...]:
    weightings = _unique(_items(text, "weightings"))
    for w in weightings:
        if w not in WEIGHTINGS:
            raise UsageError(
                f"unknown weighting {w!r} (known: {', '.join(WEIGHTINGS)})", field="weightings"
            )
    return weightings


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"10"`` -> seeds 0..9; ``"3,7"`` (a comma list) -> exactly those seeds."""
    items = _items(text, "seeds")
    try:
        numbers = [int(p) for p in items]
    except ValueError:
        raise UsageError(f"not an integer in {text!r}", field="seeds") from None
    if len(numbers) == 1 and "," not in text:
        if numbers[0] < 1:
            raise UsageError("the number of seeds must be at least 1", field="seeds")
        return tuple(range(numbers[0]))
    if any(n < 0 for n in numbers):
        raise UsageError("seeds must be non-negative", field="seeds")
    return _unique(numbers)


def build_grid(
    views: Sequence[str],
    fractions: Sequence[float],
    weightings: Sequence[str],
    seeds: Sequence[int],
    *,
    ablate: bool = False,
) -> list[RunSpec]:
    """All runs of a study, seed-major (a seed's runs finish together, so an interrupted grid
    already holds complete subjects for the repeated-measures ANOVA). With ``ablate``, every
    multi-task configuration (weighting other than ``none``) is also trained with each
    auxiliary head removed in turn."""
    ablations = [tuple(h for h in HEADS if h != removed) for removed in AUXILIARY_HEADS]
    grid: list[RunSpec] = []
    for s, v, f, w in itertools.product(seeds, views, fractions, weightings):
        grid.append(RunSpec(view=v, fraction=f, weighting=w, seed=s))
        if ablate and w != SINGLE_TASK_WEIGHTING:
            grid += [RunSpec(view=v, fraction=f, weighting=w, seed=s, heads=h) for h in ablations]
    if not grid:
        raise UsageError("the grid is empty: give at least one view, fraction, weighting, seed")
    return grid


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` -> (2, 3): the second of three shards (1-based)."""
    k, sep, n = text.partition("/")
    try:
        shard, count = int(k), int(n)
    except ValueError:
        raise UsageError(f"expected K/N (e.g. 1/3), got {text!r}", field="shard") from None
    if not sep or count < 1 or not 1 <= shard <= count:
        raise UsageError(f"expected K/N with 1 <= K <= N, got {text!r}", field="shard")
    return shard, count


def shard_grid(grid: Sequence[RunSpec], shard: int, count: int) -> list[RunSpec]:
    """The runs of shard ``shard`` of ``count`` (1-based): every ``count``-th run of the grid,
    by its position in the whole grid, so that a shard keeps the same runs however many are
    stored, ``count`` processes writing into one folder never train the same run, and each
    shard stays seed-major."""
    return [spec for i, spec in enumerate(grid) if i % count == shard - 1]


def _items(text: str, name: str) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items:
        raise UsageError("empty list", field=name)
    return items


def _unique(values: Iterable) -> tuple:
    return tuple(dict.fromkeys(values))
