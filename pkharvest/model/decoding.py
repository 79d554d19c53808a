"""BIO decoding: constrained Viterbi over per-word tag scores, and tags → spans. The rule-based
steps applied to the decoded entities are in :mod:`pkharvest.model.postprocess`.

Written here rather than taken from a CRF package: the constraint is a fixed 0/−∞ transition
mask (``I-X`` only after ``B-X``/``I-X``, never first), a dozen lines, with no learned weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
from torch import Tensor

NEG_INF = float("-inf")


def transition_mask(tags: Sequence[str]) -> tuple[Tensor, Tensor]:
    """``(start, trans)``: additive scores (0 allowed, −inf forbidden) for the first tag and for
    ``prev → cur`` transitions of a BIO tag set."""
    n = len(tags)
    start = torch.zeros(n)
    trans = torch.zeros(n, n)
    for j, cur in enumerate(tags):
        if cur.startswith("I-"):
            start[j] = NEG_INF
            for i, prev in enumerate(tags):
                if prev[2:] != cur[2:] or prev == "O":
                    trans[i, j] = NEG_INF
    return start, trans


@lru_cache(maxsize=16)
def _cached_mask(tags: tuple[str, ...]) -> tuple[Tensor, Tensor]:
    return transition_mask(tags)  # a model's tag set is fixed: build its mask once


def viterbi(scores: Tensor, tags: Sequence[str]) -> list[int]:
    """Best valid BIO path for ``scores`` (words × tags, e.g. log-probabilities)."""
    if scores.shape[0] == 0:
        return []
    start, trans = _cached_mask(tuple(tags))
    score = scores[0] + start
    back: list[Tensor] = []
    for t in range(1, scores.shape[0]):
        total = score.unsqueeze(1) + trans  # prev × cur
        best, idx = total.max(dim=0)
        score = best + scores[t]
        back.append(idx)
    path = [int(score.argmax())]
    for idx in reversed(back):
        path.append(int(idx[path[-1]]))
    return path[::-1]


def spans_from_tags(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Inclusive word ranges ``(first, last, label)`` of a BIO sequence. Invalid sequences are
    read leniently: an ``I-X`` that does not continue an ``X`` entity starts a new one."""
    out: list[tuple[int, int, str]] = []
    cur: list = []
    for i, tag in enumerate(tags):
        if tag == "O":
            if cur:
                out.append(tuple(cur))
            cur = []
            continue
        prefix, label = tag.split("-", 1)
        if prefix == "I" and cur and cur[2] == label:
            cur[1] = i
        else:
            if cur:
                out.append(tuple(cur))
            cur = [i, i, label]
    if cur:
        out.append(tuple(cur))
    return out  # type: ignore[return-value]
