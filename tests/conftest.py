"""Shared test fixtures.

Read-only material (annotated corpus, dictionaries, E-utilities fixtures) is read from the
``shared`` folder beside the checkout, or from ``PKHARVEST_SHARED``. In CI (``CI=true``) a
missing shared folder is an error, never a skip.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pkharvest.paths import shared_dir
from pkharvest.testing.eutils_server import EutilsServer

SHARED = shared_dir()
CI_EPOCHS = 10  # the trained_model fixture's schedule (the default trains 30)
#: A training schedule of seconds for tests that train (one epoch of short windows).
TINY_TRAINING = dict(epochs=1, min_steps=0, max_length=64, batch_size=8, eval_steps=1,
                     threads=1)
FULL_LABELS = ("PK", "VALUE", "UNITS", "RANGE", "COMPARE")


def _need(path: Path) -> Path:
    if not path.exists():
        msg = f"shared test material missing: {path} (set PKHARVEST_SHARED)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    return _need(SHARED)


@pytest.fixture(scope="session")
def corpus_path() -> Path:
    """The 401 expert-annotated PK sentences (Prodigy JSONL)."""
    return _need(SHARED / "data" / "pk-sentences" / "annotated.jsonl")


@pytest.fixture(scope="session")
def dictionaries_dir() -> Path:
    return _need(SHARED / "data" / "pk-dictionaries")


@pytest.fixture(scope="session")
def eutils_fixtures() -> Path:
    return _need(SHARED / "fixtures" / "eutils")


@pytest.fixture(scope="session")
def tiny_corpus(corpus_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 30 sentences of the shared corpus (training runs of seconds)."""
    lines = corpus_path.read_text(encoding="utf-8").splitlines()[:30]
    path = tmp_path_factory.mktemp("corpus") / "tiny.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _torch_threads_restored() -> Iterator[None]:
    """Each test leaves torch's intra-op thread count as it found it: an in-process `bulk`
    sets it (one thread per tagger), and scores differ in the last digits between thread
    counts, so a leaked setting made later comparisons with subprocess runs flaky."""
    import torch

    before = torch.get_num_threads()
    yield
    if torch.get_num_threads() != before:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def untrained_model_factory(tmp_path_factory: pytest.TempPathFactory):
    """``make(seed=0) -> Path``: a model folder with freshly initialised heads (no training),
    all five labels: deterministic predictions for ``seed``, fast to build, noise as
    entities."""

    made: dict[int, Path] = {}

    def make(seed: int = 0) -> Path:
        if seed in made:  # one folder per seed for the whole session
            return made[seed]
        import torch

        from pkharvest.model.config import ModelConfig
        from pkharvest.model.tagger import PKTagger

        torch.manual_seed(seed)
        out = tmp_path_factory.mktemp("untrained") / "m"
        PKTagger.create(ModelConfig(labels=FULL_LABELS)).save(out)
        made[seed] = out
        return out

    return make


@pytest.fixture(scope="session")
def untrained_model(untrained_model_factory) -> Path:
    """The untrained model folder of seed 0 (see ``untrained_model_factory``)."""
    return untrained_model_factory(0)


@pytest.fixture
def eutils_server() -> Iterator[EutilsServer]:
    """A started, empty E-utilities stand-in (add articles with ``server.add``); stopped
    afterwards."""
    with EutilsServer() as server:
        yield server


@pytest.fixture(scope="session")
def trained_model(corpus_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """The default configuration trained as ``pkharvest train`` does (``training_sets``: the
    train + dev parts of the seed-13 article split of the shared corpus; trained once per test
    session; the test split stays unseen), but for 10 epochs instead of 30: the end-to-end
    tests check the pipeline and a record-F1 floor, which the 10-epoch model clears (record
    F1 0.672 against the default's 0.707, floor 0.55), and the full schedule would be most of
    the CI time. The default model's quality is measured by ``bench/`` (docs/results.md).

    Returns ``(model_dir, split)``. ``PKHARVEST_TEST_MODEL`` may name a folder trained the same
    way (``pkharvest train --out DIR``) to skip training when iterating locally."""
    from pkharvest.corpus.reader import apply_view, read_corpus
    from pkharvest.training.sets import training_sets
    from pkharvest.training.workflow import run, train_config

    config = train_config(epochs=CI_EPOCHS)  # as `pkharvest train --epochs 10`
    split = training_sets(apply_view(read_corpus(corpus_path), "full"), config)
    reuse = os.environ.get("PKHARVEST_TEST_MODEL")
    if reuse:
        return Path(reuse), split
    out = tmp_path_factory.mktemp("trained") / "model"
    run(config, split, out)
    return out, split


# ------------------------------------------------- study runs (experiment store, report, CLI)


def make_record(spec: Any, f1: float, *, train_hash: str | None = None) -> Any:
    """A constructed run: test NER F1 ``f1``; per-label and auxiliary scores derived from it;
    similarities for every pair of its heads."""
    from pkharvest.experiment.runstore import RunRecord

    pairs = list(itertools.combinations(spec.heads, 2))
    return RunRecord(
        spec=spec,
        train_hash=train_hash or f"t{spec.seed}-{spec.fraction:g}",
        dev_hash=f"d{spec.seed}",
        test_hash=f"e{spec.seed}",
        n_train=int(100 * spec.fraction),
        n_dev=20,
        n_test=20,
        test_scores={
            "ner.strict.micro.f1": f1,
            "ner.strict.micro.precision": f1 + 0.01,
            "ner.strict.per_label.PK.f1": f1 - 0.02,
            "bcls.f1": 0.9,
        },
        dev_scores={"ner.strict.micro.f1": f1 + 0.03},
        epochs_run=3,
        best_epoch=2,
        wall_time_s=1.5,
        config={"epochs": 3, "weighting": spec.weighting},
        history=[{"epoch": 1, "loss": 1.0}],
        similarities={(a, b): 0.1 * (i + 1) - 0.25 for i, (a, b) in enumerate(pairs)},
        similarity_batches=2,
    )


def fill_study(folder: Path, *, drop_seed_cells: bool = False) -> None:
    """pk and full views, 2 weightings x 3 fractions x 4 seeds, with ablations. "uncertainty"
    is better than "none" by 0.05; more data helps; each seed has its own offset."""
    import numpy as np

    from pkharvest.experiment.grid import build_grid
    from pkharvest.experiment.runstore import RunStore

    rng = np.random.default_rng(7)
    store = RunStore(folder)
    store.check_settings({"corpus_sha256": "c0ffee", "train": {"epochs": 2}})
    offsets = {s: rng.normal(0, 0.03) for s in range(4)}
    grid = build_grid(["pk", "full"], [1.0, 0.5, 0.1], ["none", "uncertainty"], range(4),
                      ablate=True)  # fmt: skip
    for spec in grid:
        if drop_seed_cells and spec.seed == 3 and spec.fraction == 0.1:
            continue  # an interrupted grid: seed 3 is incomplete
        f1 = 0.4 + 0.3 * spec.fraction + offsets[spec.seed] + rng.normal(0, 0.005)
        f1 += 0.05 if spec.weighting == "uncertainty" else 0.0
        f1 -= 0.02 * len(spec.removed_heads)
        store.add(make_record(spec, f1))
