"""Grid building, option parsing, matched data per seed, and the task-gradient similarity."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from pkharvest.cli.fields import cli_message
from pkharvest.corpus.reader import read_corpus
from pkharvest.errors import UsageError
from pkharvest.experiment.grid import (
    AUXILIARY_HEADS,
    HEADS,
    WEIGHTINGS,
    RunSpec,
    build_grid,
    example_id,
    ids_hash,
    parse_fractions,
    parse_seeds,
    parse_views,
    parse_weightings,
)
from pkharvest.experiment.runner import StudyData
from pkharvest.experiment.similarity import cosine_matrix, task_gradients


def test_weightings_match_the_model() -> None:
    from pkharvest.model.weighting import WEIGHTINGS as MODEL_WEIGHTINGS

    assert WEIGHTINGS == MODEL_WEIGHTINGS


def test_parsing_options() -> None:
    assert parse_fractions("1, 0.5,0.025") == (1.0, 0.5, 0.025)
    assert parse_seeds("3") == (0, 1, 2)
    assert parse_seeds("3,7") == (3, 7)
    assert parse_seeds("5,") == (5,)
    assert parse_views("full,pk") == ("full", "pk")
    assert parse_weightings("none,hybrid,none") == ("none", "hybrid")
    for parse, bad, option in [
        (parse_fractions, "0.5,1.5", "--fractions"),
        (parse_fractions, "0", "--fractions"),
        (parse_fractions, "half", "--fractions"),
        (parse_seeds, "0", "--seeds"),
        (parse_seeds, "a,b", "--seeds"),
        (parse_views, "pk,tiny", "--views"),
        (parse_weightings, "equal", "--weightings"),
        (parse_weightings, ",", "--weightings"),
    ]:
        with pytest.raises(UsageError) as err:
            parse(bad)
        assert err.value.field == option.lstrip("-")
        assert cli_message(err.value).startswith(f"{option}: ")


def test_grid_is_seed_major_with_unique_keys() -> None:
    grid = build_grid(["pk", "full"], [1.0, 0.1], WEIGHTINGS, [0, 1, 2])
    assert len(grid) == 2 * 2 * 4 * 3
    assert len({s.key for s in grid}) == len(grid)
    seeds = [s.seed for s in grid]
    assert seeds == sorted(seeds)
    assert {s.configuration for s in grid} == set(WEIGHTINGS)
    assert not any(s.ablated for s in grid)


def test_ablation_removes_each_aux_head_of_multi_task_configurations_only() -> None:
    grid = build_grid(["pk"], [0.5], ["none", "uncertainty"], [0], ablate=True)
    configs = sorted(s.configuration for s in grid)
    assert configs == sorted(
        ["none", "uncertainty"] + [f"uncertainty-no_{h}" for h in AUXILIARY_HEADS]
    )
    for spec in grid:
        assert "ner" in spec.heads
        if spec.weighting == "none":  # the trainer builds the NER head alone
            assert spec.heads == ("ner",) and not spec.ablated and not spec.multi_task
        else:
            assert len(spec.heads) == (len(HEADS) - 1 if spec.ablated else len(HEADS))
    assert not RunSpec("pk", 1.0, "none", 0).multi_task
    assert RunSpec("pk", 1.0, "hybrid", 0).heads == HEADS
    assert RunSpec("pk", 1.0, "fixed", 0, heads=("ner", "bcls")).multi_task


def test_ids_hash_is_order_independent(corpus_path: Path) -> None:
    examples = read_corpus(corpus_path)[:30]
    assert ids_hash(examples) == ids_hash(list(reversed(examples)))
    assert ids_hash(examples) != ids_hash(examples[:29])
    assert len({example_id(e) for e in examples}) == len(examples)


def test_matched_data_per_seed_and_fraction(corpus_path: Path) -> None:
    data = StudyData(read_corpus(corpus_path), (0.7, 0.15, 0.15))
    a = data.for_run(RunSpec("pk", 0.25, "none", seed=1))
    b = data.for_run(RunSpec("pk", 0.25, "hybrid", seed=1, heads=("ner", "bcls")))
    assert a.hashes == b.hashes  # every configuration of a seed and fraction: same data
    other_seed = data.for_run(RunSpec("pk", 0.25, "none", seed=2))
    assert other_seed.hashes != a.hashes
    full = data.for_run(RunSpec("pk", 1.0, "none", seed=1))
    assert full.hashes[1:] == a.hashes[1:]  # same dev and test at every fraction
    assert set(map(example_id, a.train)) < set(map(example_id, full.train))
    assert abs(len(a.train) - 0.25 * len(full.train)) <= 1
    ids = [set(map(example_id, part)) for part in (full.train, full.dev, full.test)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])


class _Toy(nn.Module):
    """A shared vector w and three linear task losses with known gradients."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.head = nn.Parameter(torch.ones(1))  # not shared: must not count
        self.a, self.b = a, b

    def shared_parameters(self):  # type: ignore[no-untyped-def]
        return iter([self.w])

    def task_losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = batch["x"]
        return {
            "ner": (self.w * self.a).sum() * x * self.head,
            "bcls": (self.w * self.b).sum() * x,
            "mcls": -(self.w * self.a).sum() * x + 0.0 * self.head,
        }


def test_gradient_cosine_on_known_gradients() -> None:
    a, b = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 0.0])
    toy = _Toy(a, b)
    toy.train()
    batches = [{"x": torch.tensor(1.0)}, {"x": torch.tensor(3.0)}]
    grads = task_gradients(toy, batches)
    assert torch.allclose(grads["ner"], 2.0 * a.double())  # mean of 1·a and 3·a
    assert toy.training  # mode restored
    sims = cosine_matrix(grads)
    assert list(sims) == [("ner", "bcls"), ("ner", "mcls"), ("bcls", "mcls")]
    assert sims[("ner", "bcls")] == pytest.approx(1 / math.sqrt(2))
    assert sims[("ner", "mcls")] == pytest.approx(-1.0)
    zero = cosine_matrix({"ner": torch.zeros(3), "bcls": torch.ones(3)})
    assert math.isnan(zero[("ner", "bcls")])


def test_every_grid_run_is_a_valid_training_config() -> None:
    from pkharvest.training.trainer import TrainConfig

    grid = build_grid(["pk", "full"], [0.025], WEIGHTINGS, [0], ablate=True)
    for spec in grid:
        config = TrainConfig(view=spec.view, fraction=spec.fraction, weighting=spec.weighting,
                             seed=spec.seed, heads=spec.heads)  # fmt: skip
        assert config.model_config().heads == spec.heads
