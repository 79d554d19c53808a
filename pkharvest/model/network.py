"""The multi-task network: one shared transformer encoder (hard parameter sharing), four heads.

* ``ner``   — token level, BIO tags over the view's labels (first word piece of each word);
* ``mtcls`` — token level, O / single-word / multi-word entity;
* ``bcls``  — sentence level, one logit: does the sentence carry a mention of the view;
* ``mcls``  — sentence level, mention-count bucket (0, 1, 2, 3-4, 5+).

Token heads read the encoder state, concatenated (when ``use_features``) with a small projection
of the hand-written word-shape features of :mod:`pkharvest.corpus.labels`. Sentence heads read
the attention-masked mean of the encoder states.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pkharvest.corpus.labels import IGNORE_INDEX, MTCLS_LABELS, bio_tags
from pkharvest.model.config import ModelConfig, resolve_encoder

logger = logging.getLogger(__name__)


def build_encoder(config: ModelConfig, pretrained: bool) -> nn.Module:
    """The shared encoder: pretrained weights from ``config.encoder`` (training), or an empty
    encoder of the architecture saved in ``config.encoder_config`` (loading a model folder)."""
    from transformers import AutoConfig, AutoModel

    if pretrained:
        model = AutoModel.from_pretrained(resolve_encoder(config.encoder))
        config.encoder_config = model.config.to_dict()
        return model
    cfg = dict(config.encoder_config)
    model_type = cfg.pop("model_type")
    return AutoModel.from_config(AutoConfig.for_model(model_type, **cfg))


def load_tokenizer(source: str) -> Any:
    """The tokenizer of ``source`` (HF name or folder), ready for pre-split words.

    Byte-level BPE tokenizers (RoBERTa and its biomedical versions, ModernBERT, GPT-2 style)
    take pre-split words only when built with ``add_prefix_space=True`` (otherwise
    transformers refuses, or, under ``python -O``, encodes every word as if glued to the one
    before); they are loaded so. Every other tokenizer is loaded as it is."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    if getattr(tokenizer, "is_fast", False) and _byte_level_without_prefix_space(tokenizer):
        tokenizer = AutoTokenizer.from_pretrained(source, add_prefix_space=True)
    return tokenizer


def _byte_level_without_prefix_space(tokenizer: Any) -> bool:
    # the pre-tokenizer's own state, not the whole tokenizer serialised (vocabulary included)
    pre_tokenizer = tokenizer.backend_tokenizer.pre_tokenizer
    if pre_tokenizer is None:
        return False
    stack = [json.loads(pre_tokenizer.__getstate__())]
    while stack:
        step = stack.pop()
        if step.get("type") == "ByteLevel" and not step.get("add_prefix_space", False):
            return True
        stack.extend(step.get("pretokenizers") or [])
    return False


class MultiTaskTagger(nn.Module):
    """Shared encoder + task heads. ``forward(batch)`` returns logits per head;
    ``task_losses(batch)`` the per-task losses for a labelled batch."""

    def __init__(self, config: ModelConfig, pretrained: bool = True) -> None:
        super().__init__()
        self.config = config
        self.tags = bio_tags(config.labels)
        self.encoder = build_encoder(config, pretrained)
        hidden = int(self.encoder.config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        token_dim = hidden
        if config.use_features:
            self.feature_proj = nn.Linear(config.num_features, config.feature_dim)
            token_dim += config.feature_dim
        self.heads = nn.ModuleDict({"ner": nn.Linear(token_dim, len(self.tags))})
        if "mtcls" in config.heads:
            self.heads["mtcls"] = nn.Linear(token_dim, len(MTCLS_LABELS))
        if "bcls" in config.heads:
            self.heads["bcls"] = nn.Linear(hidden, 1)
        if "mcls" in config.heads:
            self.heads["mcls"] = nn.Linear(hidden, config.num_buckets)

    # ----------------------------------------------------------------- parameter groups
    def shared_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the shared encoder (for gradient-based multi-task analyses)."""
        return self.encoder.parameters()

    def head_parameters(self) -> Iterator[nn.Parameter]:
        """Everything that is not the shared encoder (heads, feature projection)."""
        for name, p in self.named_parameters():
            if not name.startswith("encoder."):
                yield p

    # ------------------------------------------------------------------------- forward
    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        mask = batch["attention_mask"]
        out = self.encoder(input_ids=batch["input_ids"], attention_mask=mask)
        states: Tensor = out.last_hidden_state
        token = self.dropout(states)
        if self.config.use_features:
            feats = torch.relu(self.feature_proj(batch["features"]))
            token = torch.cat([token, feats], dim=-1)
        logits = {"ner": self.heads["ner"](token)}
        if "mtcls" in self.heads:
            logits["mtcls"] = self.heads["mtcls"](token)
        if "bcls" in self.heads or "mcls" in self.heads:
            m = mask.unsqueeze(-1).to(states.dtype)
            pooled = self.dropout((states * m).sum(1) / m.sum(1).clamp(min=1.0))
            if "bcls" in self.heads:
                logits["bcls"] = self.heads["bcls"](pooled).squeeze(-1)
            if "mcls" in self.heads:
                logits["mcls"] = self.heads["mcls"](pooled)
        return logits

    def task_losses(
        self, batch: dict[str, Tensor], logits: dict[str, Tensor] | None = None
    ) -> dict[str, Tensor]:
        """Per-task mean losses of a labelled batch (keys: the model's heads)."""
        if logits is None:
            logits = self(batch)
        losses: dict[str, Tensor] = {}
        for name in ("ner", "mtcls"):
            if name in logits:
                lg = logits[name]
                losses[name] = F.cross_entropy(
                    lg.reshape(-1, lg.shape[-1]), batch[name].reshape(-1),
                    ignore_index=IGNORE_INDEX,
                )
        if "bcls" in logits:
            losses["bcls"] = F.binary_cross_entropy_with_logits(
                logits["bcls"], batch["bcls"].to(logits["bcls"].dtype)
            )
        if "mcls" in logits:
            losses["mcls"] = F.cross_entropy(logits["mcls"], batch["mcls"])
        return losses

    def extra_repr(self) -> str:
        return f"labels={self.config.labels}, heads={self.config.heads}"


class EnsembleTagger(nn.Module):
    """A seed ensemble: ``config.members`` networks of the same configuration trained with
    different seeds. ``forward`` returns, per head, the members' log-probabilities averaged
    (their geometric mean; for bCLS the mean logit), so a tagger reads it like one network's
    logits: a softmax of the averaged log-probabilities renormalises them, and the constrained
    decoding, which adds one constant per word to every path, picks the same tags as from the
    plain average. Inference only: members are trained one by one as single networks."""

    def __init__(self, config: ModelConfig, members: list[MultiTaskTagger] | None = None
                 ) -> None:
        super().__init__()
        self.config = config
        if members is None:  # loading a model folder: empty members, weights come next
            members = [MultiTaskTagger(config, pretrained=False)
                       for _ in range(config.members)]
        if len(members) != config.members:
            raise ValueError(f"{len(members)} networks for a {config.members}-member ensemble")
        self.members = nn.ModuleList(members)

    @property
    def heads(self) -> nn.ModuleDict:
        """The members' head layout (the first member's heads; not a submodule of its own)."""
        return self.members[0].heads

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        outs = [m(batch) for m in self.members]
        merged = {}
        for name in outs[0]:
            if name == "bcls":
                merged[name] = torch.stack([o[name] for o in outs]).mean(0)
            else:
                merged[name] = torch.stack(
                    [torch.log_softmax(o[name], dim=-1) for o in outs]).mean(0)
        return merged

    def extra_repr(self) -> str:
        return f"members={self.config.members}"


def build_network(config: ModelConfig) -> nn.Module:
    """An empty network for ``config`` (one tagger, or an ensemble), to load weights into."""
    if config.members > 1:
        return EnsembleTagger(config)
    return MultiTaskTagger(config, pretrained=False)


def collate(windows: list[Any], pad_id: int, num_features: int) -> dict[str, Tensor]:
    """Pad a list of :class:`~pkharvest.corpus.labels.EncodedWindow` into a batch dict
    (``input_ids``, ``attention_mask``, ``features``, ``piece_word`` and — when the windows
    carry targets — ``ner``, ``mtcls``, ``bcls``, ``mcls``)."""
    n = len(windows)
    width = max(len(w.input_ids) for w in windows)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    feats = torch.zeros((n, width, num_features))
    piece_word = torch.full((n, width), -1, dtype=torch.long)
    labelled = all(w.ner for w in windows)
    ner = torch.full((n, width), IGNORE_INDEX, dtype=torch.long)
    mt = torch.full((n, width), IGNORE_INDEX, dtype=torch.long)
    for i, w in enumerate(windows):
        k = len(w.input_ids)
        ids[i, :k] = torch.tensor(w.input_ids)
        mask[i, :k] = 1
        feats[i, :k] = torch.tensor(w.features)
        piece_word[i, :k] = torch.tensor(w.piece_word)
        if labelled:
            ner[i, :k] = torch.tensor(w.ner)
            mt[i, :k] = torch.tensor(w.mtcls)
    batch = {"input_ids": ids, "attention_mask": mask, "features": feats,
             "piece_word": piece_word}
    if labelled:
        batch.update(
            ner=ner, mtcls=mt,
            bcls=torch.tensor([w.bcls for w in windows], dtype=torch.long),
            mcls=torch.tensor([w.mcls for w in windows], dtype=torch.long),
        )
    return batch
