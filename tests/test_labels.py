"""Label derivation: words, BIO, mtCLS, buckets, word-piece alignment and windows."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from pkharvest.corpus.labels import (
    FEATURE_NAMES,
    IGNORE_INDEX,
    MENTION_BUCKETS,
    bio_tags,
    encode_sentence,
    mention_bucket,
    pk_phrase_marks,
    sentence_targets,
    word_bio,
    word_features,
    word_mtcls,
    word_spans,
    words,
)
from pkharvest.corpus.records import ENTITY_LABELS
from pkharvest.model.config import DEFAULT_ENCODER, resolve_encoder
from pkharvest.model.decoding import spans_from_tags

TEXT = "The AUC0-∞ was 34.7 mg·h/L (range 30–100) and t1/2 < 5 h."


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(resolve_encoder(DEFAULT_ENCODER))


def _span(text: str, sub: str, label: str, occurrence: int = 0) -> tuple[int, int, str]:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(sub, start + 1)
    return (start, start + len(sub), label)


def test_words_split_digits_letters_and_symbols():
    toks = [TEXT[s:e] for s, e in words(TEXT)]
    assert toks[:8] == ["The", "AUC", "0", "-", "∞", "was", "34", "."]
    assert "mg" in toks and "·" in toks and "–" in toks
    assert words("") == []


def test_bio_tags_layout():
    assert bio_tags(("PK", "VALUE")) == ["O", "B-PK", "I-PK", "B-VALUE", "I-VALUE"]


def test_word_bio_and_mtcls_from_spans():
    spans = [_span(TEXT, "AUC0-∞", "PK"), _span(TEXT, "34.7", "VALUE"),
             _span(TEXT, "mg·h/L", "UNITS"), _span(TEXT, "<", "COMPARE"),
             _span(TEXT, "5", "VALUE", 0)]
    offs = words(TEXT)
    tags = word_bio(offs, spans, ENTITY_LABELS)
    toks = [TEXT[s:e] for s, e in offs]
    pairs = list(zip(toks, tags, strict=True))
    assert pairs[1:5] == [("AUC", "B-PK"), ("0", "I-PK"), ("-", "I-PK"), ("∞", "I-PK")]
    assert pairs[6:9] == [("34", "B-VALUE"), (".", "I-VALUE"), ("7", "I-VALUE")]
    assert tags[toks.index("<")] == "B-COMPARE"
    mt = word_mtcls(offs, spans, ENTITY_LABELS)
    assert mt[toks.index("<")] == 1  # single-word entity
    assert mt[1] == 2 and mt[6] == 2  # parts of multi-word entities
    assert mt[0] == 0
    # the pk view ignores the other labels
    assert set(word_bio(offs, spans, ("PK",))) == {"O", "B-PK", "I-PK"}
    # word ranges map back to the same character spans
    back = [(offs[f][0], offs[la][1], lab) for f, la, lab in spans_from_tags(tags)]
    assert sorted(back) == sorted(spans)


def test_mention_buckets():
    assert [mention_bucket(n) for n in range(8)] == [0, 1, 2, 3, 3, 4, 4, 4]
    assert len(MENTION_BUCKETS) == 5
    with pytest.raises(ValueError):
        mention_bucket(-1)
    assert sentence_targets([(0, 1, "PK"), (2, 3, "VALUE")], ("PK",)) == (1, 1)
    assert sentence_targets([(2, 3, "VALUE")], ("PK",)) == (0, 0)
    assert sentence_targets([(2, 3, "VALUE")] * 3, ENTITY_LABELS) == (1, 3)


def test_word_features_shape():
    offs = words(TEXT)
    feats = word_features(TEXT, offs)
    assert len(feats) == len(offs)
    toks = [TEXT[s:e] for s, e in offs]
    digits = feats[toks.index("34")]
    assert digits[0] == 1.0 and digits[1] == 0.0
    assert feats[toks.index("mg")][8] == 1.0  # unit atom
    assert feats[toks.index("<")][5] == 1.0  # comparator


def test_alignment_first_piece_carries_label(tokenizer):
    text = "Clearance was 12.5 mL/min in nonagenarians."
    spans = [_span(text, "Clearance", "PK"), _span(text, "12.5", "VALUE"),
             _span(text, "mL/min", "UNITS")]
    enc = encode_sentence(text, tokenizer, ENTITY_LABELS, 64, spans=spans)
    assert len(enc.windows) == 1
    win = enc.windows[0]
    assert win.input_ids[0] == tokenizer.cls_token_id
    assert win.input_ids[-1] == tokenizer.sep_token_id
    tags = bio_tags(ENTITY_LABELS)
    labelled = [(pw, tags[t]) for pw, t in zip(win.piece_word, win.ner, strict=True)
                if t != IGNORE_INDEX]
    # exactly one labelled piece per word, in word order, equal to the word BIO
    assert [w for w, _ in labelled] == list(range(len(enc.word_offsets)))
    assert [t for _, t in labelled] == enc.word_tags
    # a word split into several pieces ("nonagenarians") has ignored continuation pieces
    assert len(win.input_ids) > len(enc.word_offsets) + 2
    for pw, t, m in zip(win.piece_word, win.ner, win.mtcls, strict=True):
        assert (pw >= 0) == (t != IGNORE_INDEX) == (m != IGNORE_INDEX)
    assert (win.bcls, win.mcls) == (1, 3)


def test_long_sentence_is_windowed_not_truncated(tokenizer):
    text = " ".join(f"clearance {i} L/h" for i in range(40))
    spans = [(m, m + len("clearance"), "PK") for m in range(0, len(text))
             if text.startswith("clearance", m)]
    enc = encode_sentence(text, tokenizer, ("PK",), 32, spans=spans)
    assert len(enc.windows) > 2
    covered: set[int] = set()
    for a, b in zip(enc.windows, enc.windows[1:], strict=False):
        assert b.first_word <= a.last_word  # consecutive windows overlap
        assert b.first_word > a.first_word
    for w in enc.windows:
        assert len(w.input_ids) <= 32
        covered |= set(range(w.first_word, w.last_word + 1))
        assert [p for p in w.piece_word if p >= 0] == list(range(w.first_word, w.last_word + 1))
        inside = sum(1 for s in spans if enc.word_offsets[w.first_word][0] <= s[0]
                     and s[1] <= enc.word_offsets[w.last_word][1])
        assert w.bcls == int(inside > 0) and w.mcls == mention_bucket(inside)
    assert covered == set(range(len(enc.word_offsets)))
    assert enc.windows[-1].last_word == len(enc.word_offsets) - 1


def test_without_spans_only_inputs(tokenizer):
    enc = encode_sentence("AUC was 3 h.", tokenizer, ("PK",), 16)
    assert enc.word_tags is None and enc.windows[0].ner == []
    with pytest.raises(ValueError):
        encode_sentence("x", tokenizer, ("PK",), 4)


def test_corpus_spans_round_trip(corpus_path):
    """Every span of the shared corpus falls on word boundaries and survives BIO encoding."""
    from pkharvest.corpus.reader import read_corpus

    examples = read_corpus(corpus_path)
    for ex in examples:
        offs = words(ex.text)
        gold = sorted((s.start, s.end, s.label) for s in ex.spans)
        assert [(offs[f][0], offs[la][1], lab) for f, la, lab in
                word_spans(offs, ex.spans, ENTITY_LABELS)] == gold
        tags = word_bio(offs, ex.spans, ENTITY_LABELS)
        back = sorted((offs[f][0], offs[la][1], lab) for f, la, lab in spans_from_tags(tags))
        assert back == gold, ex.source


def test_pk_phrase_marks_longest_vocabulary_match():
    text = "The time to maximum plasma concentration (Tmax) and the volume of distribution."
    offs = words(text)
    toks = [text[s:e] for s, e in offs]
    marks = dict(zip(toks, pk_phrase_marks(toks), strict=True))
    assert marks["time"] == 1 and marks["maximum"] == 2 and marks["concentration"] == 2
    assert marks["Tmax"] == 1 and marks["("] == 0 and marks["The"] == 0
    assert marks["volume"] == 1 and marks["distribution"] == 2
    # the longest spelling wins over the shorter one it starts with ("volume")
    assert pk_phrase_marks(["volume", "of", "distribution"]) == [1, 2, 2]
    # one-letter symbols are too ambiguous to mark
    assert pk_phrase_marks(["V", "was", "large"]) == [0, 0, 0]
    # plural endings are folded only when asked (decoding); the word features match exactly
    assert pk_phrase_marks(["volumes", "of", "distribution"]) == [0, 0, 0]
    assert pk_phrase_marks(["volumes", "of", "distribution"], fold_plurals=True) == [1, 2, 2]
    assert pk_phrase_marks(["Peak", "concentrations", "was"], fold_plurals=True) == [1, 2, 0]


def test_word_features_carry_phrase_marks():
    text = "Elimination half-life was 4 h."
    offs = words(text)
    feats = word_features(text, offs)
    begin, inside = FEATURE_NAMES.index("pk_phrase_begin"), FEATURE_NAMES.index("pk_phrase_inside")
    assert [f[begin] for f in feats][:4] == [1.0, 0.0, 0.0, 0.0]
    assert [f[inside] for f in feats][:4] == [0.0, 1.0, 1.0, 1.0]


def test_encode_sentence_reads_only_the_features_a_model_was_trained_with(tokenizer):
    text = "Elimination half-life was 4 h."
    full = encode_sentence(text, tokenizer, ENTITY_LABELS, 64)
    old = encode_sentence(text, tokenizer, ENTITY_LABELS, 64, num_features=16)
    assert len(full.windows[0].features[1]) == len(FEATURE_NAMES)
    assert [row[:16] for row in full.windows[0].features] == old.windows[0].features
