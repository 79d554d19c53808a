"""Balanced, nested, deterministic downsampling."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from pkharvest.corpus.reader import corpus_stats, read_corpus, tokenize
from pkharvest.corpus.records import Example, Span
from pkharvest.corpus.sample import downsample, label_set, priority_order
from pkharvest.errors import UsageError

FRACTIONS = (0.05, 0.1, 0.25, 0.5, 0.75)


@pytest.fixture(scope="module")
def examples(corpus_path: Path) -> list[Example]:
    return read_corpus(corpus_path)


def _keys(exs: list[Example]) -> list[str | None]:
    return [e.source for e in exs]


@pytest.mark.parametrize("fraction", FRACTIONS)
def test_size_and_positive_share(examples: list[Example], fraction: float) -> None:
    sub = downsample(examples, fraction, seed=7)
    assert len(sub) == round(fraction * len(examples))
    total = corpus_stats(examples)
    st = corpus_stats(sub)
    expected_pos = total.positives / total.sentences * len(sub)
    assert abs(st.positives - expected_pos) <= 1.0  # systematic sampling: within one sentence


@pytest.mark.parametrize("fraction", (0.25, 0.5, 0.75))
def test_label_mix(examples: list[Example], fraction: float) -> None:
    full = Counter(label_set(e) for e in examples if e.spans)
    sub = Counter(label_set(e) for e in downsample(examples, fraction, seed=3) if e.spans)
    n_full, n_sub = sum(full.values()), sum(sub.values())
    for key, count in full.items():
        # each label-set stratum contributes in proportion (within two sentences)
        assert abs(sub[key] - count / n_full * n_sub) <= 2, (key, sub[key], count)
    all_spans = corpus_stats(examples).label_counts
    sub_spans = corpus_stats(downsample(examples, fraction, seed=3)).label_counts
    for lab in ("PK", "VALUE", "UNITS"):
        share_full = all_spans[lab] / sum(all_spans.values())
        share_sub = sub_spans[lab] / sum(sub_spans.values())
        assert abs(share_full - share_sub) < 0.03


def test_nested(examples: list[Example]) -> None:
    prev: set[str | None] = set()
    for f in (*FRACTIONS, 1.0):
        cur = set(_keys(downsample(examples, f, seed=11)))
        assert prev <= cur
        prev = cur
    assert len(prev) == len(examples)


def test_deterministic_and_seed_dependent(examples: list[Example]) -> None:
    a = downsample(examples, 0.3, seed=1)
    assert _keys(a) == _keys(downsample(examples, 0.3, seed=1))
    assert set(_keys(a)) != set(_keys(downsample(examples, 0.3, seed=2)))


def test_independent_of_input_order_and_keeps_it(examples: list[Example]) -> None:
    shuffled = list(examples)
    random.Random(9).shuffle(shuffled)
    a, b = downsample(examples, 0.2, seed=4), downsample(shuffled, 0.2, seed=4)
    assert set(_keys(a)) == set(_keys(b))
    pos = {id(e): i for i, e in enumerate(shuffled)}
    assert [pos[id(e)] for e in b] == sorted(pos[id(e)] for e in b)


def test_fraction_one_returns_everything(examples: list[Example]) -> None:
    assert _keys(downsample(examples, 1.0, seed=0)) == _keys(examples)
    assert sorted(priority_order(examples, 0)) == list(range(len(examples)))


def test_never_empty(examples: list[Example]) -> None:
    tiny = downsample(examples, 1e-6, seed=5)
    assert len(tiny) == 2
    assert sum(bool(e.spans) for e in tiny) == 1
    positives_only = [e for e in examples if e.spans]
    one = downsample(positives_only, 1e-6, seed=5)
    assert len(one) == 1 and one[0].spans


def test_no_positives() -> None:
    text = "Nothing to see here."
    negs = [Example(text=f"{text} {i}", tokens=tokenize(f"{text} {i}"), spans=[], pmid=str(i))
            for i in range(20)]
    assert len(downsample(negs, 0.01, seed=0)) == 1
    assert len(downsample(negs, 0.5, seed=0)) == 10


def test_rare_stratum_kept_at_half() -> None:
    exs: list[Example] = []
    for i in range(200):
        text = f"Value {i} with < sign and clearance."
        toks = tokenize(text)
        spans = []
        if i % 2 == 0:
            cl = next(t for t in toks if t.text == "clearance")
            spans.append(Span(cl.start, cl.end, cl.id, cl.id, "PK"))
            if i % 20 == 0:  # 10 sentences also carry a COMPARE
                lt = next(t for t in toks if t.text == "<")
                spans.insert(0, Span(lt.start, lt.end, lt.id, lt.id, "COMPARE"))
        exs.append(Example(text=text, tokens=toks, spans=spans, pmid=str(i)))
    sub = downsample(exs, 0.5, seed=8)
    assert sum(1 for e in sub if any(s.label == "COMPARE" for s in e.spans)) == 5
    assert sum(1 for e in sub if e.spans) == 50


def test_empty_input() -> None:
    assert downsample([], 0.5, seed=0) == []


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, float("nan"), float("inf")])
def test_bad_fraction(fraction: float) -> None:
    with pytest.raises(UsageError) as info:
        downsample([], fraction, seed=0)
    assert info.value.field == "fraction"
