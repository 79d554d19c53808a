"""Span-level NER metrics (strict and partial) and classification scores.

Span matching is written here rather than taken from seqeval: seqeval scores BIO sequences
(strict = exact spans) but has no overlap ("partial") mode, and our gold and predicted spans are
character ranges that need no re-tagging. Definitions:

* **strict** — a predicted span is a true positive when a gold span has the same label and the
  same start and end.
* **partial** — a predicted span counts as correct (precision) when it overlaps at least one
  gold span of the same label; a gold span counts as found (recall) when at least one predicted
  span of the same label overlaps it. One prediction overlapping two gold spans thus recalls
  both but counts once for precision; two predictions inside one gold span both count as correct
  and recall it once.
* **micro** — counts pooled over all labels (and sentences) before dividing; not an average of
  per-label scores. ``f1 = 2PR/(P+R)``, 0 when undefined.
"""

from __future__ import annotations

from collections.abc import Sequence

Span = tuple[int, int, str]  # (start, end exclusive, label)
MODES: tuple[str, ...] = ("strict", "partial")


def prf(correct_pred: int, n_pred: int, found_gold: int, n_gold: int) -> dict[str, float]:
    p = correct_pred / n_pred if n_pred else 0.0
    r = found_gold / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f}


def _overlap(a: Span, b: Span) -> bool:
    return a[2] == b[2] and a[0] < b[1] and b[0] < a[1]


def span_scores(gold: Sequence[Sequence[Span]], pred: Sequence[Sequence[Span]],
                labels: Sequence[str], mode: str = "strict") -> dict:
    """Scores of predicted against gold spans, sentence by sentence (same order).

    Returns ``{"micro": {precision, recall, f1, support, predicted},
    "per_label": {LABEL: {...}}}``; ``support`` is the number of gold spans."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {MODES}")
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    counts = {lab: [0, 0, 0, 0] for lab in labels}  # correct_pred, n_pred, found_gold, n_gold
    for g_sent, p_sent in zip(gold, pred, strict=True):
        g_set, p_set = set(g_sent), set(p_sent)
        for lab in labels:
            g = [s for s in g_set if s[2] == lab]
            p = [s for s in p_set if s[2] == lab]
            c = counts[lab]
            c[1] += len(p)
            c[3] += len(g)
            if mode == "strict":
                tp = len(set(g) & set(p))
                c[0] += tp
                c[2] += tp
            else:
                c[0] += sum(1 for s in p if any(_overlap(s, t) for t in g))
                c[2] += sum(1 for t in g if any(_overlap(s, t) for s in p))
    per_label = {}
    for lab, (cp, np_, fg, ng) in counts.items():
        per_label[lab] = {**prf(cp, np_, fg, ng), "support": ng, "predicted": np_}
    tot = [sum(c[i] for c in counts.values()) for i in range(4)]
    micro = {**prf(*tot), "support": tot[3], "predicted": tot[1]}
    return {"micro": micro, "per_label": per_label}


def binary_scores(gold: Sequence[int], pred: Sequence[int]) -> dict[str, float]:
    """Accuracy and positive-class precision/recall/F1."""
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == 1 and p == 1)
    n_pred = sum(1 for p in pred if p == 1)
    n_gold = sum(1 for g in gold if g == 1)
    acc = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(gold) if gold else 0.0
    return {"accuracy": acc, **prf(tp, n_pred, tp, n_gold), "support": len(gold)}


def multiclass_scores(gold: Sequence[int], pred: Sequence[int],
                      classes: Sequence[int]) -> dict[str, float]:
    """Accuracy and macro-F1 over ``classes`` present in gold or predictions."""
    acc = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(gold) if gold else 0.0
    f1s = []
    for c in classes:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == c and p == c)
        ng = sum(1 for g in gold if g == c)
        np_ = sum(1 for p in pred if p == c)
        if ng or np_:
            f1s.append(prf(tp, np_, tp, ng)["f1"])
    return {"accuracy": acc, "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
            "support": len(gold)}
