"""Shared test fixtures.

Read-only material (annotated corpus, dictionaries, E-utilities fixtures) is read from the
``shared`` folder beside the checkout, or from ``PKHARVEST_SHARED``. In CI (``CI=true``) a
missing shared folder is an error, never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pkharvest.paths import shared_dir

SHARED = shared_dir()


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
