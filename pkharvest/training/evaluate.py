"""Scoring a tagger on annotated examples."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pkharvest.corpus.labels import MENTION_BUCKETS, MTCLS_LABELS, sentence_targets, word_mtcls
from pkharvest.training.metrics import binary_scores, multiclass_scores, span_scores

logger = logging.getLogger(__name__)


def evaluate(tagger: Any, examples: Sequence[Any], batch_size: int = 32,
             labels: Sequence[str] | None = None) -> dict:
    """Score ``tagger`` on corpus examples. Only ``labels`` (default: the tagger's) are scored:
    gold and predicted spans of other labels are ignored. Returns a nested dict::

        {"ner": {"strict": {"micro": {precision, recall, f1, support, predicted},
                            "per_label": {LABEL: {...}}},
                 "partial": {...same...}},
         "bcls": {accuracy, precision, recall, f1, support},   # sentence carries a mention
         "mcls": {accuracy, macro_f1, support},                # mention-count bucket
         "mtcls": {accuracy, macro_f1, support},               # per word: O/single/multi
         "n_sentences": int}

    ``get_score(scores, "ner.strict.micro.f1")`` reads a dotted path.
    """
    labels = tuple(labels) if labels is not None else tuple(tagger.labels)
    preds = tagger.predict_detailed([ex.text for ex in examples], batch_size=batch_size)
    gold_spans, pred_spans = [], []
    b_gold, b_pred, m_gold, m_pred, t_gold, t_pred = [], [], [], [], [], []
    for ex, p in zip(examples, preds, strict=True):
        gold_spans.append([(s.start, s.end, s.label) for s in ex.spans if s.label in labels])
        pred_spans.append([(e.start, e.end, e.label) for e in p.entities if e.label in labels])
        b, m = sentence_targets(ex.spans, labels)
        b_gold.append(b)
        m_gold.append(m)
        b_pred.append(int(p.pk_probability >= 0.5))
        m_pred.append(p.mention_bucket)
        t_gold += word_mtcls(p.word_offsets, ex.spans, labels)
        t_pred += p.word_mtcls if p.word_mtcls else [0] * len(p.word_offsets)
    return {
        "ner": {mode: span_scores(gold_spans, pred_spans, labels, mode)
                for mode in ("strict", "partial")},
        "bcls": binary_scores(b_gold, b_pred),
        "mcls": multiclass_scores(m_gold, m_pred, range(len(MENTION_BUCKETS))),
        "mtcls": multiclass_scores(t_gold, t_pred, range(len(MTCLS_LABELS))),
        "n_sentences": len(examples),
    }


def get_score(scores: dict, path: str) -> Any:
    """Read a dotted path such as ``"ner.strict.per_label.PK.f1"`` from :func:`evaluate`."""
    cur: Any = scores
    for part in path.split("."):
        cur = cur[part]
    return cur


def flatten_scores(scores: dict, prefix: str = "") -> dict[str, float]:
    """``{"ner.strict.micro.f1": 0.81, ...}`` from the nested dict of :func:`evaluate`."""
    out: dict[str, float] = {}
    for k, v in scores.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_scores(v, key + "."))
        else:
            out[key] = v
    return out
