"""Training the PK NER model: configuration and loop (``trainer``), the data of a run
(``sets``), scores (``evaluate``, ``metrics``) and the whole run, split to saved model
(``workflow``: :func:`run`, :func:`train_config`, :class:`TrainedModel`)."""

from __future__ import annotations

from typing import Any

__all__ = ["TrainedModel", "run", "train_config"]


def __getattr__(name: str) -> Any:
    # Lazily: ``pkharvest.training.metrics`` and ``sets`` are imported without torch's start-up
    # cost by the commands that only score or split.
    if name in __all__:
        from pkharvest.training import workflow

        return getattr(workflow, name)
    raise AttributeError(f"module 'pkharvest.training' has no attribute {name!r}")
