"""Span metrics against hand-computed cases (strict, partial, micro pooling)."""

from __future__ import annotations

import pytest

from pkharvest.training.evaluate import flatten_scores, get_score
from pkharvest.training.metrics import binary_scores, multiclass_scores, span_scores

LABELS = ("PK", "VALUE")


def test_strict_micro_pools_counts():
    gold = [[(0, 5, "PK"), (10, 12, "VALUE")], [(0, 3, "PK"), (5, 7, "VALUE"), (9, 11, "VALUE")]]
    pred = [[(0, 5, "PK"), (10, 13, "VALUE")], [(0, 3, "PK"), (5, 7, "VALUE"), (0, 3, "VALUE")]]
    s = span_scores(gold, pred, LABELS, "strict")
    # PK: 2 of 2 predicted right, 2 of 2 gold found
    assert s["per_label"]["PK"]["precision"] == 1.0 and s["per_label"]["PK"]["recall"] == 1.0
    # VALUE: 1 tp of 3 predicted, of 3 gold
    v = s["per_label"]["VALUE"]
    assert v["precision"] == pytest.approx(1 / 3) and v["recall"] == pytest.approx(1 / 3)
    assert v["support"] == 3
    # micro: 3 tp / 5 pred, 3 / 5 gold -> 0.6 (a macro average would give (1 + 1/3)/2)
    m = s["micro"]
    assert m["precision"] == pytest.approx(0.6) and m["recall"] == pytest.approx(0.6)
    assert m["f1"] == pytest.approx(0.6)
    assert (m["support"], m["predicted"]) == (5, 5)


def test_micro_differs_from_macro_with_unequal_support():
    gold = [[(0, 1, "PK")] + [(i, i + 1, "VALUE") for i in range(2, 11)]]
    pred = [[(0, 1, "PK")]]
    m = span_scores(gold, pred, LABELS)["micro"]
    assert m["precision"] == 1.0 and m["recall"] == pytest.approx(0.1)
    assert m["f1"] == pytest.approx(2 * 0.1 / 1.1)


def test_partial_overlap_rules():
    gold = [[(0, 10, "PK"), (12, 20, "PK"), (30, 35, "VALUE")]]
    # one prediction spans both PK golds; one is inside the VALUE but with the wrong label;
    # two predictions inside the same gold VALUE? none here; one spurious PK.
    pred = [[(5, 15, "PK"), (31, 33, "PK"), (40, 45, "PK")]]
    s = span_scores(gold, pred, LABELS, "partial")
    pk = s["per_label"]["PK"]
    assert pk["precision"] == pytest.approx(1 / 3)  # only (5,15) overlaps a PK gold
    assert pk["recall"] == pytest.approx(1.0)  # both PK golds are overlapped
    assert s["per_label"]["VALUE"]["recall"] == 0.0  # label must match
    strict = span_scores(gold, pred, LABELS, "strict")
    assert strict["micro"]["f1"] == 0.0


def test_partial_two_predictions_in_one_gold():
    gold = [[(0, 10, "PK")]]
    pred = [[(0, 3, "PK"), (5, 10, "PK")]]
    s = span_scores(gold, pred, ("PK",), "partial")["micro"]
    assert s["precision"] == 1.0 and s["recall"] == 1.0 and s["predicted"] == 2


def test_empty_and_errors():
    s = span_scores([[], []], [[], []], LABELS)
    assert s["micro"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0,
                          "predicted": 0}
    with pytest.raises(ValueError):
        span_scores([[]], [], LABELS)
    with pytest.raises(ValueError):
        span_scores([[]], [[]], LABELS, "fuzzy")


def test_duplicate_predictions_count_once():
    s = span_scores([[(0, 2, "PK")]], [[(0, 2, "PK"), (0, 2, "PK")]], ("PK",))
    assert s["micro"]["precision"] == 1.0


def test_classification_scores():
    b = binary_scores([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert b["accuracy"] == pytest.approx(0.6)
    assert b["precision"] == pytest.approx(2 / 3) and b["recall"] == pytest.approx(2 / 3)
    m = multiclass_scores([0, 1, 2, 2], [0, 2, 2, 2], range(5))
    # class 0: f1 1; class 1: 0; class 2: p 2/3 r 1 -> 0.8; classes 3, 4 absent -> skipped
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["macro_f1"] == pytest.approx((1 + 0 + 0.8) / 3)


def test_score_paths():
    scores = {"ner": {"strict": {"micro": {"f1": 0.5}}}, "bcls": {"f1": 1.0}}
    assert get_score(scores, "ner.strict.micro.f1") == 0.5
    assert flatten_scores(scores) == {"ner.strict.micro.f1": 0.5, "bcls.f1": 1.0}
