"""Sentence splitting: tricky biomedical punctuation, offsets, articles, the shared corpus."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkharvest.records import AbstractSection, Article
from pkharvest.sentences import split_article, split_text


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_text(text)]


TRICKY: list[list[str]] = [
    # each case: the expected sentences; the text is them joined by one space
    ["Patients received 5 mg/kg i.v. over 1 h.", "The t1/2 was 3.5 h vs. 4.2 h (n = 12)."],
    ["CL was 1.2 l.h-1 (Fig. 2), i.e. lower than e.g. in adults.", "V was 3 L."],
    ["Smith et al. found approx. 2.5 mg b.i.d. p.o. to be enough.", "Others disagreed."],
    ["The drug was given p.o.", "The AUC was 12.5 ng.h/ml and Cmax 3.4 ng/ml."],
    ["Infusion lasted 30 min.", "Then CL was 3 mL.kg-1.min-1 (range 2.1-4.5)."],
    ["Half-life was 3 hr.", "Tmax was 2 h.", "Dosing was q.d. in fasted subjects."],
    ["Dose was 2 mg b.i.d.", "Plasma levels (approx. 3 ng/ml) rose."],
    ["Clearance was 4.5 ml/min/1.73 m².", "The value (n = 12) was 3.4 h."],
    ["B. fragilis and E. coli were sensitive (MIC 0.5 mg/L).", "Resistance was rare."],
    ["Results are from Smith et al. (2001).", "The t(1/2) was 2.0 ± 0.3 h."],
    ["Results: 1. CL was high.", "2. V was low."],
    ["Mean (+- S.E.M.) clearance was 162.7 +- 36.6 ml/min.", "It fell to 17.0 ml/min."],
    ["Values are in Table 2, cf. Fig. 3.", "Vss was 0.8 L/kg."],
    ["Bioavailability was 85%.", "Protein binding was approx. 90%."],
    ["Runners (maximal oxygen uptake ( V . O 2 m a x ) 67.6 ml·kg-1·min-1) ran.", "Next one."],
]


@pytest.mark.parametrize("expected", TRICKY, ids=lambda c: c[0][:30])
def test_tricky_examples(expected: list[str]) -> None:
    text = " ".join(expected)
    assert sentences(text) == expected


def test_offsets_are_exact_trimmed_and_ordered() -> None:
    text = "  Done.  Done.\n\nDone again.   "
    spans = split_text(text)
    assert [text[s:e] for s, e in spans] == ["Done.", "Done.", "Done again."]
    assert spans == sorted(spans)
    assert spans[0][0] == 2  # leading whitespace skipped, offsets into the original text


def test_repeated_sentences_get_their_own_offsets() -> None:
    text = "CL was 2 L/h. CL was 2 L/h. CL was 2 L/h."
    spans = split_text(text)
    assert spans == [(0, 13), (14, 27), (28, 41)]


def test_numbered_list_markers_stay_with_their_item() -> None:
    text = "1. Six compounds were studied. 2. CL differed twofold."
    assert sentences(text) == ["1. Six compounds were studied.", "2. CL differed twofold."]


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_blank_text_has_no_sentences(text: str) -> None:
    assert split_text(text) == []


def test_text_without_final_period_is_one_sentence() -> None:
    assert sentences("AUC0-∞ 46.5 h·μg/mL") == ["AUC0-∞ 46.5 h·μg/mL"]


def test_split_article_title_and_sections() -> None:
    article = Article(
        pmid="123",
        title="Pharmacokinetics of X in children. A population study.",
        sections=(
            AbstractSection("We studied 20 children. Children received 5 mg/kg i.v.", "METHODS"),
            AbstractSection("CL was 1.2 L/h. V was 10 L.", "RESULTS"),
            AbstractSection("An unlabelled part.", None),
        ),
    )
    out = split_article(article)
    assert [s.section for s in out] == [
        "title", "title", "METHODS", "METHODS", "RESULTS", "RESULTS", "abstract",
    ]  # fmt: skip
    assert [s.index for s in out] == list(range(len(out)))
    assert {s.pmid for s in out} == {"123"}
    texts = {"title": article.title, "abstract": article.sections[2].text}
    texts.update({sec.label: sec.text for sec in article.sections if sec.label})
    for s in out:
        assert texts[s.section][s.start : s.end] == s.text
    assert out[3].text == "Children received 5 mg/kg i.v."


def test_split_article_with_empty_title_and_no_abstract() -> None:
    assert split_article(Article(pmid="1", title="")) == []


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab AB.,;:!?()\n1 2µ·-/%")), max_size=120))
def test_split_never_loses_text(text: str) -> None:
    spans = split_text(text)
    covered = set()
    prev_end = 0
    for s, e in spans:
        assert prev_end <= s < e <= len(text)
        assert text[s:e] == text[s:e].strip()
        covered.update(range(s, e))
        prev_end = e
    for i, ch in enumerate(text):
        if not ch.isspace():
            assert i in covered


def _recovery(groups: list[list[str]]) -> tuple[int, int]:
    hit = total = 0
    for group in groups:
        text = " ".join(group)
        pred = set(split_text(text))
        start = 0
        for sent in group:
            total += 1
            hit += (start, start + len(sent)) in pred
            start += len(sent) + 1
    return hit, total


def test_recovers_corpus_sentences(corpus_path: Path) -> None:
    """Every annotated sentence is one gold unit: join them per article (and in random groups
    of five) and count the gold units recovered exactly. Some gold units hold two sentences
    (the corpus's own splitting), which caps the figure below 100 %."""
    rows = [json.loads(line) for line in corpus_path.read_text(encoding="utf-8").splitlines()]
    by_article: dict[object, list[tuple[int, int, str]]] = defaultdict(list)
    for r in rows:
        md = r.get("metadata", {})
        by_article[md.get("pmid")].append(
            (md.get("paragraph_id") or 0, md.get("sentence_id") or 0, r["text"])
        )
    articles = [[t for *_, t in sorted(v)] for v in by_article.values()]
    texts = [r["text"] for r in rows]
    random.Random(13).shuffle(texts)
    fives = [texts[i : i + 5] for i in range(0, len(texts), 5)]
    hit_a, total_a = _recovery(articles)
    hit_r, total_r = _recovery(fives)
    print(
        f"\nexact recovery: per article {hit_a}/{total_a} = {hit_a / total_a:.1%}; "
        f"random groups of 5 {hit_r}/{total_r} = {hit_r / total_r:.1%}"
    )
    assert total_a == len(rows)
    assert hit_a / total_a >= 0.90
    assert hit_r / total_r >= 0.88


def test_unit_letter_after_a_number_ends_a_sentence() -> None:
    text = "The volume was 52 L. The elimination half-life was 6 h. Dr. B. Smith agreed."
    got = [text[a:b] for a, b in split_text(text)]
    assert got == [
        "The volume was 52 L.",
        "The elimination half-life was 6 h.",
        "Dr. B. Smith agreed.",
    ]
