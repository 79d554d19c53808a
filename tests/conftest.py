"""Shared test fixtures.

Read-only material (annotated corpus, dictionaries, E-utilities fixtures) is read from the
``shared`` folder beside the checkout, or from ``PKHARVEST_SHARED``. In CI (``CI=true``) a
missing shared folder is an error, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pkharvest.paths import shared_dir
from pkharvest.testing.eutils_server import EutilsServer

SHARED = shared_dir()
CI_EPOCHS = 10  # the trained_model fixture's schedule (the default trains 30)


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
    the CI time. The default model's quality is measured by ``bench/`` (docs/model.md).

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
