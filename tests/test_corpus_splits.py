"""Article-grouped splits: grouping, determinism, proportions, balance, option parsing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pkharvest.corpus.reader import corpus_stats, read_corpus, tokenize
from pkharvest.corpus.records import Example, Span
from pkharvest.corpus.splits import CorpusSplit, parse_split, split_by_article
from pkharvest.errors import UsageError


@pytest.fixture(scope="module")
def examples(corpus_path: Path) -> list[Example]:
    return read_corpus(corpus_path)


def _synthetic(n_articles: int, seed: int = 0) -> list[Example]:
    """Articles of 1-6 sentences, about half of them positive (our own made-up text)."""
    rng = random.Random(seed)
    out: list[Example] = []
    for a in range(n_articles):
        for s in range(rng.randint(1, 6)):
            text = f"Sentence {s} of article {a} reports clearance."
            toks = tokenize(text)
            spans = []
            if rng.random() < 0.5:
                t = next(t for t in toks if t.text == "clearance")
                spans = [Span(t.start, t.end, t.id, t.id, "PK")]
            out.append(Example(text=text, tokens=toks, spans=spans, pmid=str(1000 + a)))
    return out


def _ids(split: CorpusSplit) -> dict[str, list[str | None]]:
    return {k: [e.source for e in v] for k, v in split.as_dict().items()}


def _check_grouped(split: CorpusSplit) -> None:
    seen: dict[str, str] = {}
    for name, part in split.as_dict().items():
        for ex in part:
            assert seen.setdefault(ex.article_id, name) == name, ex.article_id


def test_shared_corpus_split(examples: list[Example]) -> None:
    split = split_by_article(examples)
    _check_grouped(split)
    sizes = split.sizes()
    assert sum(sizes.values()) == len(examples)
    assert sorted(e.source for p in split.as_dict().values() for e in p) == sorted(
        e.source for e in examples)
    for name, share in zip(("train", "dev", "test"), (0.7, 0.15, 0.15), strict=True):
        assert abs(sizes[name] - share * len(examples)) <= 3, sizes
    total = corpus_stats(examples)
    overall = total.positives / total.sentences
    for part in split.as_dict().values():
        st = corpus_stats(part)
        assert abs(st.positives / st.sentences - overall) < 0.05
        # every label occurs in every split of the shared corpus (COMPARE: 14 spans)
        assert all(st.label_counts[lab] > 0 for lab in total.label_counts)


def test_deterministic_and_seed_dependent(examples: list[Example]) -> None:
    a = split_by_article(examples, seed=13)
    assert _ids(a) == _ids(split_by_article(examples, seed=13))
    assert _ids(a) != _ids(split_by_article(examples, seed=14))


def test_independent_of_input_order(examples: list[Example]) -> None:
    shuffled = list(examples)
    random.Random(5).shuffle(shuffled)
    a, b = split_by_article(examples, seed=3), split_by_article(shuffled, seed=3)
    for name in ("train", "dev", "test"):
        assert {e.source for e in a.as_dict()[name]} == {e.source for e in b.as_dict()[name]}
    # within a split the input order is kept
    pos = {id(e): i for i, e in enumerate(shuffled)}
    assert [pos[id(e)] for e in b.train] == sorted(pos[id(e)] for e in b.train)


@pytest.mark.parametrize("props", [(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.5, 0.5, 0.0)])
def test_grouping_with_multi_sentence_articles(props: tuple[float, float, float]) -> None:
    exs = _synthetic(150)
    split = split_by_article(exs, props, seed=1)
    _check_grouped(split)
    for name, share in zip(("train", "dev", "test"), props, strict=True):
        # greedy placement of articles of up to 6 sentences: within one article's size
        assert abs(split.sizes()[name] - share * len(exs)) <= 6
    if props[2] == 0:
        assert split.test == []


def test_zero_dev_share(examples: list[Example]) -> None:
    split = split_by_article(examples, (0.9, 0.0, 0.1))
    assert split.dev == [] and len(split.train) + len(split.test) == len(examples)


def test_empty_input() -> None:
    assert split_by_article([]).sizes() == {"train": 0, "dev": 0, "test": 0}


@pytest.mark.parametrize("props", [(0.7, 0.2, 0.2), (1.2, -0.1, -0.1), (0.0, 0.5, 0.5),
                                   (0.5, 0.5), (0.7, float("nan"), 0.3)])
def test_bad_proportions(props: tuple[float, ...]) -> None:
    with pytest.raises(UsageError) as info:
        split_by_article([], props)
    assert info.value.field == "split"


def test_parse_split() -> None:
    assert parse_split("0.7,0.15,0.15") == (0.7, 0.15, 0.15)
    assert parse_split(" 0.8 , 0.2 ") == (0.8, 0.2, 0.0)
    assert parse_split("70,15,15") == pytest.approx((0.7, 0.15, 0.15))
    assert parse_split("1,0,0") == (1.0, 0.0, 0.0)


@pytest.mark.parametrize("value", ["", "0.7", "0.7;0.15;0.15", "a,b,c", "0.7,0.2,0.2",
                                   "0.5,0.6,-0.1", "0.7,,0.3", "0.25,0.25,0.25,0.25"])
def test_parse_split_errors(value: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_split(value)
    assert info.value.field == "split"
    assert str(info.value).startswith("split: ")
