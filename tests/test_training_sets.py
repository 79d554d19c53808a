"""Which sentences a training run learns from, early-stops on and is tested on."""

from __future__ import annotations

from pathlib import Path

import pytest

from pkharvest.corpus.reader import apply_view, read_corpus
from pkharvest.corpus.records import Example
from pkharvest.corpus.sample import downsample
from pkharvest.corpus.splits import split_by_article
from pkharvest.errors import UsageError
from pkharvest.experiment.runner import train_options
from pkharvest.training.sets import training_sets
from pkharvest.training.trainer import TrainConfig


@pytest.fixture(scope="module")
def examples(corpus_path: Path) -> list[Example]:
    return apply_view(read_corpus(corpus_path), "full")


def _ids(exs: list[Example]) -> list[str | None]:
    return [e.source for e in exs]


def test_default_refits_on_train_and_dev(examples: list[Example]) -> None:
    parts = split_by_article(examples, (0.7, 0.15, 0.15), 13)
    sets = training_sets(examples, TrainConfig())
    assert sets.refit and sets.dev == []
    assert _ids(sets.train) == _ids(parts.train + parts.dev)
    assert _ids(sets.test) == _ids(parts.test)  # the held-out articles do not move
    assert {e.article_id for e in sets.train}.isdisjoint({e.article_id for e in sets.test})
    assert "train + dev" in sets.describe() and "no early stopping" in sets.describe()


def test_no_refit_and_reference_keep_dev_for_early_stopping(examples: list[Example]) -> None:
    parts = split_by_article(examples, (0.7, 0.15, 0.15), 13)
    for config in (TrainConfig(refit=False), TrainConfig.reference()):
        sets = training_sets(examples, config)
        assert not sets.refit
        assert _ids(sets.train) == _ids(parts.train) and _ids(sets.dev) == _ids(parts.dev)
        assert f"dev {len(parts.dev)}" in sets.describe()


def test_fraction_downsamples_train_and_keeps_dev(examples: list[Example]) -> None:
    parts = split_by_article(examples, (0.7, 0.15, 0.15), 13)
    sets = training_sets(examples, TrainConfig(fraction=0.1, seed=3))
    assert not sets.refit and _ids(sets.dev) == _ids(parts.dev)
    assert _ids(sets.train) == _ids(downsample(parts.train, 0.1, 3))


def test_no_dev_split_means_nothing_to_join(examples: list[Example]) -> None:
    sets = training_sets(examples, TrainConfig(split=(0.85, 0.0, 0.15)))
    assert not sets.refit and sets.dev == []
    assert len(sets.train) + len(sets.test) == len(examples)


def test_studies_refuse_refit() -> None:
    assert train_options({})["refit"] is False
    with pytest.raises(UsageError) as err:
        train_options({"refit": True})
    assert err.value.field == "options"


def test_all_data_recipe(examples: list[Example]) -> None:
    """`--split 0.85,0.15,0`: no test split, refit joins the dev share — every sentence trains."""
    sets = training_sets(examples, TrainConfig(split=(0.85, 0.15, 0.0)))
    assert sets.refit and sets.test == [] and sets.dev == []
    assert sorted(_ids(sets.train)) == sorted(_ids(examples))
