"""Which sentences to review first for the model's sake: uncertainty sampling over unreviewed
sentences. A sentence's uncertainty is the larger of (a) one minus the lowest confidence of the
entities the model tags in it and (b) how close the sentence classifier's PK probability is to
one half (``1 - |2p - 1|``): a sentence with a doubtful entity, or one the model cannot place,
comes first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def uncertainty(prediction: Any) -> float:
    """Uncertainty of one :class:`~pkharvest.model.tagger.SentencePrediction` (0 to 1)."""
    entity = max((1.0 - float(e.score) for e in prediction.entities), default=0.0)
    p = float(prediction.pk_probability)
    return max(entity, 1.0 - abs(2.0 * p - 1.0))


def rank_by_uncertainty(tagger: Any, texts: Sequence[str], batch_size: int = 32) -> list[int]:
    """Indices of ``texts``, most uncertain first (ties in input order)."""
    scores = [uncertainty(p) for p in tagger.predict(list(texts), batch_size=batch_size)]
    return sorted(range(len(texts)), key=lambda i: (-scores[i], i))
