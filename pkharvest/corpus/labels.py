"""Derive the four task targets of the multi-task PK NER model from annotated spans.

Scheme (documented in docs/model.md):

* **Words.** A sentence is cut into words by :data:`WORD_PATTERN`: runs of digits, runs of
  letters, and every other non-space character on its own (``"AUC0-∞"`` → ``AUC``, ``0``, ``-``,
  ``∞``; ``"0.5"`` → ``0``, ``.``, ``5``). This is a refinement of the Prodigy/spaCy tokens of the
  corpus — every span boundary of the shared corpus falls on a word boundary — and, unlike the
  Prodigy tokens, it can be recomputed from raw text at prediction time, so training and tagging
  see exactly the same units. A span covers the words that overlap it.
* **NER**: word-level BIO over the labels of the view (``B-X`` on the first word of a span,
  ``I-X`` on the others, ``O`` elsewhere).
* **mtCLS** (token level): ``O`` / ``single`` (the word is a whole one-word entity) / ``multi``
  (the word is part of a multi-word entity).
* **bCLS** (sentence level): 1 when the sentence (window) holds at least one span of the view —
  any PK span for view ``pk``, any span at all for view ``full`` — else 0.
* **mCLS** (sentence level): number of spans of the view, bucketed as :data:`MENTION_BUCKETS`
  (``0``, ``1``, ``2``, ``3-4``, ``5+``).
* **Word pieces.** The first word piece of each word carries the word's labels and features;
  the other pieces (and the special tokens) get ``-100`` (ignored by the losses).
* **Windows.** A sentence longer than ``max_length`` word pieces is cut, on word boundaries,
  into overlapping windows (each next window starts about half-way through the previous one);
  nothing is truncated. Sentence-level targets of a window count the spans lying wholly inside
  it. At prediction time the per-word scores of overlapping windows are averaged
  (see :mod:`pkharvest.model.tagger`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

WORD_PATTERN = re.compile(r"\d+|[^\W\d_]+|[^\w\s]|_")
IGNORE_INDEX = -100
MTCLS_LABELS: tuple[str, ...] = ("O", "single", "multi")
# Lower edges of the mention-count buckets: 0, 1, 2, 3-4, 5+.
MENTION_BUCKETS: tuple[int, ...] = (0, 1, 2, 3, 5)
MENTION_BUCKET_NAMES: tuple[str, ...] = ("0", "1", "2", "3-4", "5+")


def words(text: str) -> list[tuple[int, int]]:
    """Character offsets ``[start, end)`` of the words of ``text`` (see module docstring)."""
    return [(m.start(), m.end()) for m in WORD_PATTERN.finditer(text)]


def bio_tags(labels: Sequence[str]) -> list[str]:
    """The BIO tag set of a view's labels: ``O`` first, then ``B-X``, ``I-X`` per label."""
    tags = ["O"]
    for lab in labels:
        tags += [f"B-{lab}", f"I-{lab}"]
    return tags


def mention_bucket(count: int) -> int:
    """Index of the bucket of :data:`MENTION_BUCKETS` that ``count`` mentions fall in."""
    if count < 0:
        raise ValueError(f"negative mention count {count}")
    idx = 0
    for i, edge in enumerate(MENTION_BUCKETS):
        if count >= edge:
            idx = i
    return idx


def _span_fields(span: Any) -> tuple[int, int, str]:
    if isinstance(span, tuple):
        return int(span[0]), int(span[1]), str(span[2])
    return int(span.start), int(span.end), str(span.label)


def word_spans(
    word_offsets: Sequence[tuple[int, int]], spans: Iterable[Any], labels: Sequence[str]
) -> list[tuple[int, int, str]]:
    """Map character spans (``Span`` records or ``(start, end, label)``) to inclusive word
    ranges ``(first_word, last_word, label)``; spans of other labels or covering no word are
    dropped (the latter logged)."""
    out: list[tuple[int, int, str]] = []
    for span in spans:
        start, end, label = _span_fields(span)
        if label not in labels:
            continue
        covered = [i for i, (ws, we) in enumerate(word_offsets) if ws < end and we > start]
        if not covered:
            logger.warning("span %d-%d (%s) covers no word; ignored", start, end, label)
            continue
        out.append((covered[0], covered[-1], label))
    return sorted(out)


def word_bio(
    word_offsets: Sequence[tuple[int, int]], spans: Iterable[Any], labels: Sequence[str]
) -> list[str]:
    """Word-level BIO tags of a sentence. Overlapping spans: the earlier one wins."""
    tags = ["O"] * len(word_offsets)
    for first, last, label in word_spans(word_offsets, spans, labels):
        if any(t != "O" for t in tags[first : last + 1]):
            logger.warning("overlapping spans at words %d-%d; keeping the first", first, last)
            continue
        tags[first] = f"B-{label}"
        for i in range(first + 1, last + 1):
            tags[i] = f"I-{label}"
    return tags


def word_mtcls(
    word_offsets: Sequence[tuple[int, int]], spans: Iterable[Any], labels: Sequence[str]
) -> list[int]:
    """Word-level mtCLS targets (indices into :data:`MTCLS_LABELS`)."""
    out = [0] * len(word_offsets)
    for first, last, _ in word_spans(word_offsets, spans, labels):
        kind = 1 if first == last else 2
        for i in range(first, last + 1):
            out[i] = kind
    return out


# ---------------------------------------------------------------- lexical (shape) features
# Hand-written, generic character-shape cues (no corpus dictionary is copied): they help the
# small encoder tell numbers, units and comparators apart on little data.
_UNIT_ATOMS = frozenset(
    [
        "g", "mg", "µg", "ug", "μg", "ng", "pg", "kg", "l", "ml", "µl", "ul", "μl", "dl", "h",
        "hr", "hrs", "min", "s", "sec", "d", "day", "days", "wk", "week", "weeks", "mol", "mmol",
        "µmol", "umol", "μmol", "nmol", "pmol", "m2", "iu", "u"
    ]
)
_PK_WORDS = frozenset(
    [
        "auc", "auclast", "aucinf", "aucτ", "cmax", "cmin", "tmax", "tlag", "ctrough", "cl",
        "clr", "clcr", "cl/f", "vd", "vss", "vz", "vc", "vp", "ka", "ke", "kel", "mrt", "t",
        "half", "life", "clearance", "volume", "bioavailability", "elimination", "absorption",
        "exposure", "concentration", "concentrations", "distribution", "rate", "constant"
    ]
)
_COMPARATORS = frozenset("<>≤≥~±=≈≲≳")
_DASHES = frozenset("-–—−")
_SLASHES = frozenset("/·•×*^")
_GREEK = re.compile(r"[α-ωΑ-Ωµμ∞]")

FEATURE_NAMES: tuple[str, ...] = (
    "digits",
    "letters",
    "title_case",
    "all_caps",
    "symbol",
    "comparator",
    "dash",
    "slash_or_dot_operator",
    "unit_atom",
    "pk_word",
    "period_or_comma",
    "prev_digits",
    "next_digits",
    "greek_or_inf",
    "short_word",
    "space_before",
    # Appended later: a model folder records how many features it was trained with
    # (``ModelConfig.num_features``) and reads only that many, so older folders keep working.
    "pk_phrase_begin",
    "pk_phrase_inside",
)


def word_features(text: str, word_offsets: Sequence[tuple[int, int]]) -> list[list[float]]:
    """One binary feature vector (:data:`FEATURE_NAMES`) per word."""
    toks = [text[s:e] for s, e in word_offsets]
    phrase = pk_phrase_marks(toks)
    feats: list[list[float]] = []
    for i, ((s, _e), w) in enumerate(zip(word_offsets, toks, strict=True)):
        low = w.lower()
        prev = toks[i - 1] if i > 0 else ""
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        row = [
            w.isdigit(),
            w.isalpha(),
            w[:1].isupper() and w[1:].islower(),
            w.isupper() and len(w) > 1,
            not w.isalnum(),
            w in _COMPARATORS,
            w in _DASHES,
            w in _SLASHES,
            low in _UNIT_ATOMS,
            low in _PK_WORDS,
            w in {".", ","},
            prev.isdigit(),
            nxt.isdigit(),
            bool(_GREEK.search(w)),
            len(w) <= 3 and w.isalpha(),
            s > 0 and text[s - 1].isspace(),
            phrase[i] == 1,
            phrase[i] == 2,
        ]
        feats.append([1.0 if f else 0.0 for f in row])
    return feats


def _fold_plural(word: str) -> str:
    """"concentrations" → "concentration", "AUCs" → "AUC"; "mass", "was" stay. Applied to both
    sides of a match, so a wrong cut ("kinetics" → "kinetic") matches nothing new."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") \
        else word


@lru_cache(maxsize=2)
def _pk_phrases(fold_plurals: bool = False) -> tuple[frozenset[tuple[str, ...]], int]:
    """Spellings of the PK parameter vocabulary (:mod:`pkharvest.normalise.parameters`) as
    lower-cased word tuples (plural endings folded if asked), and the longest one's length;
    one-letter symbols ("V", "Q") are left out (too ambiguous)."""
    from pkharvest.normalise.parameters import VOCABULARY  # local: keeps Pint off import

    fold = _fold_plural if fold_plurals else str
    keys = {
        tuple(fold(m.group().lower()) for m in WORD_PATTERN.finditer(syn))
        for p in VOCABULARY if p.category == "pk"
        for syn in (p.name, *p.synonyms)
    }
    phrases = frozenset(k for k in keys if k and (len(k) > 1 or len(k[0]) > 1))
    return phrases, max((len(k) for k in phrases), default=0)


def pk_phrase_marks(tokens: Sequence[str], fold_plurals: bool = False) -> list[int]:
    """Per word: 1 where a PK vocabulary spelling starts, 2 inside one, 0 elsewhere. Greedy
    longest match from left to right — a lexical cue for span boundaries ("time to peak
    concentration"), not a decision: the model learns how far to trust it. With
    ``fold_plurals``, "volumes of distribution" matches "volume of distribution" (used by
    decoding; the word features match exactly, as the models were trained)."""
    phrases, longest = _pk_phrases(fold_plurals)
    fold = _fold_plural if fold_plurals else str
    low = [fold(t.lower()) for t in tokens]
    marks = [0] * len(tokens)
    i = 0
    while i < len(low):
        for n in range(min(longest, len(low) - i), 0, -1):
            if tuple(low[i : i + n]) in phrases:
                marks[i] = 1
                for j in range(i + 1, i + n):
                    marks[j] = 2
                i += n
                break
        else:
            i += 1
    return marks


# ------------------------------------------------------------------------- encoded windows
@dataclass
class EncodedWindow:
    """One model input: a window of a sentence, with its word-piece aligned targets.

    ``piece_word[i]`` is the sentence word index whose *first* piece is ``input_ids[i]``, or
    ``-1``. Target lists use :data:`IGNORE_INDEX` on pieces that carry no label.
    """

    sentence: int
    input_ids: list[int]
    piece_word: list[int]
    features: list[list[float]]
    ner: list[int] = field(default_factory=list)
    mtcls: list[int] = field(default_factory=list)
    bcls: int = 0
    mcls: int = 0
    first_word: int = 0
    last_word: int = -1  # inclusive


@dataclass
class EncodedSentence:
    text: str
    word_offsets: list[tuple[int, int]]
    windows: list[EncodedWindow]
    word_tags: list[str] | None = None


def _window_bounds(piece_counts: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Word ranges ``[start, end)`` whose piece totals fit ``budget``, each next one starting
    about half-way through the previous one, covering every word."""
    n = len(piece_counts)
    if sum(piece_counts) <= budget:
        return [(0, n)]
    bounds: list[tuple[int, int]] = []
    start = 0
    while True:
        total, end = 0, start
        while end < n and total + piece_counts[end] <= budget:
            total += piece_counts[end]
            end += 1
        if end == start:  # a single word longer than the budget: it gets a window of its own
            end = start + 1
        bounds.append((start, end))
        if end >= n:
            return bounds
        half, acc, nxt = total / 2, 0, start
        while nxt < end - 1 and acc < half:
            acc += piece_counts[nxt]
            nxt += 1
        start = max(nxt, start + 1)


def encode_sentence(
    text: str,
    tokenizer: Any,
    labels: Sequence[str],
    max_length: int,
    spans: Iterable[Any] | None = None,
    sentence: int = 0,
    num_features: int | None = None,
) -> EncodedSentence:
    """Tokenise ``text`` into windows of at most ``max_length`` word pieces (special tokens
    included). With ``spans`` the four task targets are filled in; without, only inputs."""
    if max_length < 8:
        raise ValueError(f"max_length must be at least 8, got {max_length}")
    offsets = words(text)
    tokens = [text[s:e] for s, e in offsets]
    pieces: list[list[int]] = []
    if tokens:
        enc = tokenizer(tokens, is_split_into_words=True, add_special_tokens=False)
        ids, wids = enc["input_ids"], enc.word_ids()
        pieces = [[] for _ in tokens]
        for pid, wid in zip(ids, wids, strict=True):
            if wid is not None:
                pieces[wid].append(pid)
        for i, p in enumerate(pieces):  # a word the tokenizer drops (e.g. a control char)
            if not p:
                pieces[i] = [tokenizer.unk_token_id]
    budget = max_length - 2
    span_list = list(spans) if spans is not None else None
    tags = word_bio(offsets, span_list, labels) if span_list is not None else None
    tag_index = {t: i for i, t in enumerate(bio_tags(labels))}
    mt = word_mtcls(offsets, span_list, labels) if span_list is not None else None
    wspans = word_spans(offsets, span_list, labels) if span_list is not None else []
    n_feat = len(FEATURE_NAMES) if num_features is None else num_features
    feats = [row[:n_feat] for row in word_features(text, offsets)]
    zero = [0.0] * n_feat
    windows: list[EncodedWindow] = []
    for start, end in _window_bounds([len(p) for p in pieces], budget):
        ids = [tokenizer.cls_token_id]
        pw, ft, ner, mtc = [-1], [zero], [IGNORE_INDEX], [IGNORE_INDEX]
        for w in range(start, end):
            wp = pieces[w][:budget]
            if len(wp) < len(pieces[w]):
                logger.warning("word %r longer than %d pieces; its tail is ignored", tokens[w],
                               budget)
            for k, pid in enumerate(wp):
                ids.append(pid)
                first = k == 0
                pw.append(w if first else -1)
                ft.append(feats[w] if first else zero)
                if tags is not None and mt is not None:
                    ner.append(tag_index[tags[w]] if first else IGNORE_INDEX)
                    mtc.append(mt[w] if first else IGNORE_INDEX)
        ids.append(tokenizer.sep_token_id)
        pw.append(-1)
        ft.append(zero)
        ner.append(IGNORE_INDEX)
        mtc.append(IGNORE_INDEX)
        inside = sum(1 for f, la, _ in wspans if f >= start and la < end)
        windows.append(
            EncodedWindow(
                sentence=sentence,
                input_ids=ids,
                piece_word=pw,
                features=ft,
                ner=ner if tags is not None else [],
                mtcls=mtc if tags is not None else [],
                bcls=int(inside > 0),
                mcls=mention_bucket(inside),
                first_word=start,
                last_word=end - 1,
            )
        )
    return EncodedSentence(text=text, word_offsets=offsets, windows=windows, word_tags=tags)


def sentence_targets(spans: Iterable[Any], labels: Sequence[str]) -> tuple[int, int]:
    """Whole-sentence ``(bcls, mcls_bucket)`` targets of a span list for a view's labels."""
    n = sum(1 for s in spans if _span_fields(s)[2] in labels)
    return int(n > 0), mention_bucket(n)
