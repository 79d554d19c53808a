"""Well-known locations: default model folder, corpus, caches. Environment variables win."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENV_MODEL = "PKHARVEST_MODEL"
ENV_CORPUS = "PKHARVEST_CORPUS"
ENV_CACHE = "PKHARVEST_CACHE"
ENV_SHARED = "PKHARVEST_SHARED"

DEFAULT_MODEL_NAME = "default"


def cache_dir() -> Path:
    """Where downloaded corpora and other caches live (``PKHARVEST_CACHE`` or XDG cache)."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pkharvest"


def default_model_dir() -> Path:
    """The default trained model folder: ``PKHARVEST_MODEL`` or ``<project>/model/default``."""
    if os.environ.get(ENV_MODEL):
        return Path(os.environ[ENV_MODEL])
    return PROJECT_ROOT / "model" / DEFAULT_MODEL_NAME


def shared_dir() -> Path:
    """The read-only ``shared`` folder beside a source checkout (``PKHARVEST_SHARED`` wins)."""
    if os.environ.get(ENV_SHARED):
        return Path(os.environ[ENV_SHARED])
    return PROJECT_ROOT.parent / "shared"


def default_corpus_path() -> Path | None:
    """First existing corpus file: ``PKHARVEST_CORPUS``, the shared annotated sentences, or a
    corpus fetched into the cache. ``None`` when there is none (callers say what is missing)."""
    candidates: list[Path] = []
    if os.environ.get(ENV_CORPUS):
        return Path(os.environ[ENV_CORPUS])
    candidates.append(shared_dir() / "data" / "pk-sentences" / "annotated.jsonl")
    candidates.append(cache_dir() / "corpora" / "pred" / "dev.jsonl")
    for c in candidates:
        if c.exists():
            return c
    return None
