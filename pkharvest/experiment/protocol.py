"""Study presets: grids that are not a plain product (one view over all fractions, the other
at a few, an ablation at two fractions), their training options, and a plan of a grid — how
many runs, how many are stored, how many optimiser steps and roughly how long — made without
training (``experiment run --dry-run``).

The ``protocol`` preset follows the published protocol of the low-resource study as closely as
this corpus allows (docs/experiments.md, "The protocol preset").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pkharvest.errors import UsageError
from pkharvest.experiment.grid import RunSpec, build_grid

#: Seconds per optimiser step used by the estimate unless told otherwise: the default model's
#: training on the 2-core development CPU, one torch thread, the other core busy (705 s for
#: 1,290 steps of batch 8 at 128 word pieces; docs/results.md).
DEFAULT_STEP_SECONDS = 0.55
#: Tagging speed for the dev evaluations of the estimate (sentences per second, same machine).
EVAL_SENTENCES_PER_SECOND = 40.0
#: Per run: building the model, scoring the test split, the gradient similarity (estimate).
RUN_OVERHEAD_SECONDS = 20.0


@dataclass(frozen=True)
class Block:
    """A product sub-grid: views × fractions × weightings (× each auxiliary head removed,
    with ``ablate``)."""

    name: str
    views: tuple[str, ...]
    fractions: tuple[float, ...]
    weightings: tuple[str, ...]
    ablate: bool = False

    def runs(self, seed: int) -> list[RunSpec]:
        return build_grid(self.views, self.fractions, self.weightings, [seed],
                          ablate=self.ablate)  # fmt: skip


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    blocks: tuple[Block, ...]
    seeds: int
    options: Mapping[str, Any] = field(default_factory=dict)
    """Training options (TrainConfig fields) of the preset; explicit options override them."""

    def grid(self, seeds: Sequence[int] | None = None) -> list[RunSpec]:
        """All runs, seed-major over the blocks (a seed's runs finish together), each run key
        once (a run in two blocks, e.g. the full-head runs of an ablation, is trained once)."""
        out: dict[str, RunSpec] = {}
        for seed in range(self.seeds) if seeds is None else seeds:
            for block in self.blocks:
                for spec in block.runs(seed):
                    out.setdefault(spec.key, spec)
        return list(out.values())

    def block_of(self, spec: RunSpec) -> str:
        """The first block a run belongs to."""
        for block in self.blocks:
            if spec.key in {s.key for s in block.runs(spec.seed)}:
                return block.name
        return "other"


ALL_FRACTIONS = (1.0, 0.75, 0.5, 0.25, 0.1, 0.075, 0.05, 0.025)
WEIGHTINGS_ALL = ("none", "fixed", "uncertainty", "hybrid")

PROTOCOL = Preset(
    name="protocol",
    description=(
        "the published protocol: view full over 8 fractions x 4 weightings, view pk at "
        "0.05, 0.1, 0.25, 1, the auxiliary ablation (uncertainty weighting) at 0.1 and 1; "
        "the default training schedule with early stopping on dev, patience 3"
    ),
    blocks=(
        Block("full", ("full",), ALL_FRACTIONS, WEIGHTINGS_ALL),
        Block("pk", ("pk",), (1.0, 0.25, 0.1, 0.05), WEIGHTINGS_ALL),
        Block("ablation", ("full",), (1.0, 0.1), ("uncertainty",), ablate=True),
    ),
    seeds=5,
    options={"patience": 3},
)

PRESETS: dict[str, Preset] = {PROTOCOL.name: PROTOCOL}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise UsageError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})",
                         field="preset") from None


# -- plan and estimate -------------------------------------------------------------------------
def scheduled_steps(n_windows: int, options: Mapping[str, Any]) -> tuple[int, int]:
    """(optimiser steps, dev evaluations) that training schedules for ``n_windows`` training
    windows with the complete training ``options`` (as ``pkharvest.training.trainer.train``:
    epochs raised to reach ``min_steps``, an evaluation every ``eval_steps`` steps rounded up
    to whole epochs). Early stopping ends a run sooner: these are upper bounds."""
    per_epoch = max(1, math.ceil(n_windows / int(options["batch_size"])))
    epochs = max(int(options["epochs"]), math.ceil(int(options["min_steps"]) / per_epoch))
    every = max(1, math.ceil(int(options["eval_steps"]) / per_epoch))
    return epochs * per_epoch, math.ceil(epochs / every)


@dataclass
class PlannedRun:
    spec: RunSpec
    block: str
    n_train: int
    n_dev: int
    steps: int
    evals: int
    stored: bool


@dataclass
class Plan:
    runs: list[PlannedRun]
    step_seconds: float

    @property
    def pending(self) -> list[PlannedRun]:
        return [r for r in self.runs if not r.stored]

    def seconds(self, runs: Sequence[PlannedRun] | None = None) -> float:
        """Upper-bound time of ``runs`` (default: the pending ones): every scheduled step at
        ``step_seconds``, every dev evaluation at :data:`EVAL_SENTENCES_PER_SECOND`, plus
        :data:`RUN_OVERHEAD_SECONDS` a run."""
        runs = self.pending if runs is None else runs
        return sum(r.steps * self.step_seconds + r.evals * r.n_dev / EVAL_SENTENCES_PER_SECOND
                   + RUN_OVERHEAD_SECONDS for r in runs)  # fmt: skip

    def by_block(self) -> dict[str, list[PlannedRun]]:
        out: dict[str, list[PlannedRun]] = {}
        for r in self.runs:
            out.setdefault(r.block, []).append(r)
        return out


def plan_study(
    corpus: Path | None,
    out_dir: Path,
    grid: Sequence[RunSpec],
    options: Mapping[str, Any] | None = None,
    *,
    split: Sequence[float],
    similarity_batches: int,
    preset: Preset | None = None,
    step_seconds: float = DEFAULT_STEP_SECONDS,
) -> Plan:
    """What ``run_study`` would do, without training or writing: the runs, which are already
    stored in ``out_dir`` (whose settings must match, as for a run), each run's data sizes and
    scheduled steps (training sentences stand in for windows: a sentence longer than
    ``max_length`` word pieces makes more)."""
    from pkharvest.corpus.reader import read_corpus, resolve_corpus_path
    from pkharvest.experiment.runner import StudyData, study_settings
    from pkharvest.experiment.runstore import RUNS_FILE, RunStore

    if step_seconds <= 0:
        raise UsageError("must be > 0", field="step_seconds")
    corpus_path = resolve_corpus_path(corpus)
    settings = study_settings(corpus_path, split, similarity_batches, options)
    done: dict[str, str] = {}
    if (Path(out_dir) / RUNS_FILE).exists():
        store = RunStore(out_dir, create=False)
        store.check_settings(settings, record=False)
        done = store.done()
    data = StudyData(read_corpus(corpus_path), split)
    runs = []
    for spec in grid:
        run_data = data.for_run(spec)
        steps, evals = scheduled_steps(len(run_data.train), settings["train"])
        runs.append(PlannedRun(
            spec=spec, block=preset.block_of(spec) if preset else "grid",
            n_train=len(run_data.train), n_dev=len(run_data.dev), steps=steps, evals=evals,
            stored=spec.key in done,
        ))  # fmt: skip
    return Plan(runs=runs, step_seconds=step_seconds)
