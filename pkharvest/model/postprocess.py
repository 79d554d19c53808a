"""Rule-based post-processing of decoded entities: boundary repairs (brackets, abbreviations,
ratios, whole words and numbers) and drops (units, comparators and parameters the relation rules
of :mod:`pkharvest.relations` leave unlinked, words that are not PK parameters). Each step maps
``(text, entities) -> entities``; :data:`POSTPROCESS_STEPS` lists them in the order applied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from pkharvest.corpus.labels import WORD_PATTERN, pk_phrase_marks
from pkharvest.records import Entity
from pkharvest.relations import relations

_PAIRS = {"(": ")", "[": "]"}


def balance_brackets(text: str, start: int, end: int) -> tuple[int, int]:
    """Repair an entity whose brackets do not pair up (a frequent boundary error on names such
    as ``AUC(0-∞)`` or ``Cmax)``): a missing closing bracket right after the span is taken in;
    a stray leading opening, trailing opening ("peak concentration (" before a separately
    tagged "Cmax)") or trailing closing bracket is dropped. Other spans are unchanged."""
    for op, cl in _PAIRS.items():
        seg = text[start:end]
        opens, closes = seg.count(op), seg.count(cl)
        while opens > closes and end < len(text) and text[end] == cl:
            end += 1
            closes += 1
        if opens > closes and text[start:end].startswith(op) and end - start > 1:
            start += 1
            opens -= 1
        if opens > closes and text[start:end].endswith(op) and end - start > 1:
            end -= 1
            opens -= 1
        if closes > opens and text[start:end].endswith(cl) and end - start > 1:
            end -= 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while start < end and text[start].isspace():
        start += 1
    return start, end


def _respan(text: str, ent: Entity, start: int, end: int, score: float | None = None) -> Entity:
    """``ent`` moved to ``text[start:end]`` (same label; its own score unless given)."""
    return Entity(ent.label, start, end, text[start:end], ent.score if score is None else score)


# A parenthesised abbreviation right after a parameter name: "peak concentration (Cmax)",
# "half-life (t1/2)". It starts with a letter (not a value like "(3.1)") and is short.
_ABBREVIATION_RE = re.compile(r"\s*\((?=[^\d\s.,±+-])[^()]{1,20}\)")


def _extend_entities(
    text: str,
    entities: list[Entity],
    label: str,
    extension: Callable[[Entity], int | None],
    may_swallow: Callable[[Entity], bool] = lambda _e: True,
) -> list[Entity]:
    """Extend each ``label`` entity to the end that ``extension`` finds for the text right
    after it (``None``: no extension), dropping the entities inside the added stretch — unless
    one of them fails ``may_swallow``, in which case the entity stays as it was. Entities come
    in text order, so those swallowed are always later ones."""
    out: list[Entity] = []
    consumed: set[int] = set()
    for i, ent in enumerate(entities):
        if i in consumed:
            continue
        end = extension(ent) if ent.label == label else None
        if end is not None:
            inside = [j for j, o in enumerate(entities)
                      if j != i and o.start < end and o.end > ent.end]
            if all(may_swallow(entities[j]) for j in inside):
                consumed.update(inside)
                score = min([ent.score] + [entities[j].score for j in inside])
                ent = _respan(text, ent, ent.start, end, score)
        out.append(ent)
    return out


def attach_abbreviations(text: str, entities: list[Entity], label: str = "PK") -> list[Entity]:
    """Extend each ``label`` entity over a parenthesised abbreviation that follows it, and drop
    entities of the same label inside that parenthesis.

    The PRED annotation guideline spans "name (ABBR)" as one PK mention (24 of 25 such cases in
    the training split; the exception, "(PO compared to IM)", is not an abbreviation), while
    the tagger often stops at the name or tags the abbreviation apart -- a strict-match error
    either way. Parentheses holding another label's entity (a value, a unit) are left alone."""

    def extension(ent: Entity) -> int | None:
        m = _ABBREVIATION_RE.match(text, ent.end)
        if m is None or re.search(r"\bcompared\b|\bvs\.?\b|\bversus\b", m.group(0)):
            return None
        return m.end()

    return _extend_entities(text, entities, label, extension, lambda o: o.label == label)


_RATIO_RE = re.compile(r"[ \t]ratios?\b", re.IGNORECASE)


def attach_ratios(text: str, entities: list[Entity], label: str = "PK") -> list[Entity]:
    """Extend a ``label`` entity over a "ratio" that follows it ("AUCINR" + " ratio"), taking
    in a same-label entity there. A ratio of a parameter is a parameter of its own in the
    annotation scheme (six PK spans of the corpus end in "ratio": "AUC(0,∞) ratio",
    "accumulation ratio", "AUC0-24 h/MIC ratio"…; none is followed by one, tested), and the
    value that follows is the ratio's, not the parameter's: without this an AUC ratio of 1.04
    would be stored as an AUC of 1.04."""

    def extension(ent: Entity) -> int | None:
        m = _RATIO_RE.match(text, ent.end)
        return None if m is None else m.end()

    return _extend_entities(text, entities, label, extension, lambda o: o.label == label)


_TIME_TO_RE = re.compile(r"\btime to (?:reach )?(?:the )?$", re.IGNORECASE)


def attach_time_to(text: str, entities: list[Entity], label: str = "PK") -> list[Entity]:
    """Grow a ``label`` entity back over a "time to (reach) (the)" right before it ("time to"
    + "maximum plasma concentration (Tmax)"), unless that reaches into another entity. The
    time to a concentration is another parameter than the concentration: cut short, a Tmax of
    15 min is read as a Cmax. No PK span of the corpus is preceded by "time to" (tested); five
    start with it."""
    out: list[Entity] = []
    for i, ent in enumerate(entities):
        if ent.label == label and (m := _TIME_TO_RE.search(text, 0, ent.start)) \
                and _free(entities, i, m.start(), ent.end):
            ent = _respan(text, ent, m.start(), ent.end)
        out.append(ent)
    return out


_BSA_RE = re.compile(r"\s*(?:/|\bper\b)?\s*1[.·]73\s*(?:m2|m²|m\^2|sq\.?\s*m)(?![A-Za-z0-9])",
                     re.IGNORECASE)


def absorb_bsa_units(text: str, entities: list[Entity], label: str = "UNITS") -> list[Entity]:
    """Extend a ``label`` entity over a body-surface-area denominator that follows it
    ("mL/min" + "/1.73 m²"), dropping entities inside it.

    The tagger tends to read the "1.73" of "mL/min/1.73 m²" as a value — which the linker
    then pairs with the parameter, a wrong measurement. 1.73 m² is the standard body surface
    area, so after a unit it is always part of that unit."""

    def extension(ent: Entity) -> int | None:
        m = _BSA_RE.match(text, ent.end)
        if m is None or not ("/" in m.group(0) or "per" in m.group(0).lower()
                             or ent.text.rstrip().endswith("/")):
            return None
        return m.end()

    return _extend_entities(text, entities, label, extension)


def drop_unlinked_units(text: str, entities: list[Entity]) -> list[Entity]:
    """Keep UNITS and COMPARE entities only where the linker (:func:`pkharvest.relations.relations`)
    ties them to a value that belongs to a parameter; other labels pass unchanged.

    The PRED annotation guideline marks numbers only as values (or deviations) of a PK
    parameter -- all 619 VALUE/RANGE spans of the shared corpus are the child of a ``C_VAL`` or
    the deviation of one -- and units and comparators only with such values. Doses and
    sampling times ("600 μg/m2", "0-24 h") are left unmarked, but the tagger, seeing units,
    tags them. Measured on the dev split
    (docs/experiments/log/2026-11-25-decoding-and-20-epochs.md): dropping unlinked units never
    lowered strict micro-F1 (0 to +0.027 over 11 models); dropping unlinked *values* as well
    lowered it on 4 of 6 models tried (−0.010 to −0.021: a missed parameter orphans its values),
    so values are left alone."""
    rels = relations(text, entities)

    def key(e: Entity) -> tuple[int, int, str]:
        return (e.start, e.end, e.label)

    central = {key(r.child) for r in rels if r.label == "C_VAL"}
    deviation_of = {key(r.head): key(r.child) for r in rels if r.label == "D_VAL"}
    owned = {
        key(e) for e in entities
        if e.label in ("VALUE", "RANGE")
        and (key(e) in central or deviation_of.get(key(e)) in central)
    }
    related = {key(r.head) for r in rels if r.label == "RELATED" and key(r.child) in owned}
    return [e for e in entities if e.label not in ("UNITS", "COMPARE") or key(e) in related]


def drop_unlinked_parameters(text: str, entities: list[Entity]) -> list[Entity]:
    """Keep PK entities only where the linker (:func:`pkharvest.relations.relations`) gives them a
    value (they head a ``C_VAL``); other labels pass unchanged.

    The annotation scheme marks a parameter only where the sentence gives its value: every PK
    span of the shared corpus heads a ``C_VAL`` relation, while mentions such as "the total AUC
    in plasma" or "predictor of aminoglycoside clearance" stay unmarked. Measured on dev over
    15 trained models and on out-of-fold predictions of a 5-fold cross-validation over train
    and dev (docs/experiments/log/2026-11-25-cross-validation-decoding.md)."""
    heads = {(r.head.start, r.head.end) for r in relations(text, entities) if r.label == "C_VAL"}
    return [e for e in entities if e.label != "PK" or (e.start, e.end) in heads]


_DECIMAL_TAIL_RE = re.compile(r"[.·,]\d+")
_DECIMAL_HEAD_RE = re.compile(r"\d+[.·,]$")


def whole_numbers(text: str, entities: list[Entity]) -> list[Entity]:
    """Extend VALUE/RANGE entities that stop inside a decimal number ("1" of "1·0", the Lancet
    decimal point; "0.5" of "10.5") to the whole number, dropping entities inside the
    extension. A number is never half a value in the annotation scheme."""
    out: list[Entity] = []
    for ent in entities:
        if ent.label in ("VALUE", "RANGE") and ent.text[-1:] in ".·," and len(ent.text) > 1 \
                and text[ent.end : ent.end + 1].isdigit():  # "4." of "4.6": back to "4"
            ent = Entity(ent.label, ent.start, ent.end - 1, ent.text[:-1], ent.score)
        if ent.label in ("VALUE", "RANGE") and ent.text[-1:].isdigit():
            start, end = ent.start, ent.end
            while (m := _DECIMAL_TAIL_RE.match(text, end)) and (
                    m.end() >= len(text) or not text[m.end()].isdigit()):
                if text[end] == "," and (m.end() - end - 1) != 3:
                    break  # "5,6" is a list; "1,200" a thousands separator
                end = m.end()
            if ent.text[:1].isdigit() and (m := _DECIMAL_HEAD_RE.search(text[:start])):
                start = m.start()
            if (start, end) != (ent.start, ent.end):
                out = [o for o in out if o.end <= start]
                ent = _respan(text, ent, start, end)
        elif out and ent.start < out[-1].end:
            continue  # swallowed by the extension of the previous value
        out.append(ent)
    return out


def _free(entities: list[Entity], i: int, start: int, end: int) -> bool:
    """Whether ``start:end`` overlaps no entity but the ``i``-th (which it would replace)."""
    return not any(o.start < end and o.end > start for j, o in enumerate(entities) if j != i)


_DASHES = "-‐‑–"


def _joined(text: str, i: int, step: int) -> bool:
    """Whether position ``i`` continues the word next to it in direction ``step`` (+1: the
    character after a span end, −1: the one before a span start): a letter or digit, or a
    dash between two of them ("half-|lives", "AUC0|–24")."""
    if not 0 <= i < len(text):
        return False
    if text[i].isalnum():
        return True
    j = i + step
    return text[i] in _DASHES and 0 <= j < len(text) and text[j].isalnum() and \
        text[i - step].isalnum()


def whole_words(text: str, entities: list[Entity], label: str = "PK") -> list[Entity]:
    """Extend ``label`` entities that start or stop inside a word ("elimination half-" of
    "half-lives") to the whole word, hyphenated compounds included. No PK span of the corpus
    starts or ends inside a word (tested). An extension that would reach into another entity
    is not made."""
    out: list[Entity] = []
    for i, ent in enumerate(entities):
        if ent.label != label:
            out.append(ent)
            continue
        start, end = ent.start, ent.end
        while _joined(text, end, 1):
            end += 1
        while _joined(text, start - 1, -1):
            start -= 1
        if (start, end) != (ent.start, ent.end) and _free(entities, i, start, end):
            ent = _respan(text, ent, start, end)
        out.append(ent)
    return out


# Words no PK span of the shared corpus starts or ends with (its 315 PK spans; tested).
_EDGE_WORDS = frozenset((
    "at", "of", "in", "to", "for", "with", "by", "from", "on", "after", "during", "following",
    "was", "were", "is", "are", "and", "or", "the", "an", "than", "as",
))
_EDGE_RE = re.compile(r"[^\W\d_]+")


def trim_function_words(text: str, entities: list[Entity], label: str = "PK") -> list[Entity]:
    """Cut prepositions, articles and verbs off the edges of ``label`` entities ("peak
    concentration at" → "peak concentration"); an entity of nothing but such words goes."""
    out: list[Entity] = []
    for ent in entities:
        if ent.label != label:
            out.append(ent)
            continue
        start, end = ent.start, ent.end
        while (m := _EDGE_RE.match(text, start, end)) and m.group().lower() in _EDGE_WORDS:
            start = m.end()
            while start < end and text[start].isspace():
                start += 1
        while start < end:
            tail = list(_EDGE_RE.finditer(text, start, end))
            if not tail or tail[-1].end() != end or tail[-1].group().lower() not in _EDGE_WORDS:
                break
            end = len(text[: tail[-1].start()].rstrip())
        if end <= start:
            continue
        if (start, end) != (ent.start, ent.end):
            ent = _respan(text, ent, start, end)
        out.append(ent)
    return out


def vocabulary_phrases(text: str, entities: list[Entity], label: str = "PK") -> list[Entity]:
    """Grow a ``label`` entity that lies inside a spelling of the PK vocabulary
    (:data:`pkharvest.normalise.parameters.VOCABULARY`, matched as for the word features:
    greedy longest, case-insensitive) to that spelling: "peak concentration" of "time to peak
    concentration", "AUC" of "AUC(0-∞)", "volumes" of "volumes of distribution" (plural
    endings folded on both sides), unless the spelling reaches into another entity. No PK span
    of the corpus lies inside a longer spelling (tested; the synonym "mean half-life" was
    removed from the vocabulary for that, normalisation reads "mean" as a modifier anyway)."""
    words = list(WORD_PATTERN.finditer(text))
    marks = pk_phrase_marks([w.group() for w in words], fold_plurals=True)
    phrases: list[tuple[int, int]] = []
    for w, mark in zip(words, marks, strict=True):
        if mark == 1:
            phrases.append((w.start(), w.end()))
        elif mark == 2:
            phrases[-1] = (phrases[-1][0], w.end())
    out: list[Entity] = []
    for i, ent in enumerate(entities):
        if ent.label == label:
            for start, end in phrases:
                if start <= ent.start and ent.end <= end and (start, end) != (ent.start, ent.end) \
                        and _free(entities, i, start, end):
                    ent = _respan(text, ent, start, end)
                    break
        out.append(ent)
    return out


@lru_cache(maxsize=1)
def _one_letter_symbols() -> frozenset[str]:
    from pkharvest.normalise.parameters import VOCABULARY  # local: keeps Pint off import

    return frozenset(s for p in VOCABULARY if p.category == "pk"
                     for s in (p.name, *p.synonyms) if len(s) == 1)


def known_letters(text: str, entities: list[Entity], label: str = "PK") -> list[Entity]:
    """Drop one-letter ``label`` entities that are not a one-letter symbol of the PK
    vocabulary ("Q", "F", "V"): a lone "t" of "where t = 72" or the "U" of "1-U" is not a
    parameter. The corpus's one-letter PK spans are "Q" (twice) and "F" (tested)."""
    symbols = _one_letter_symbols()
    return [e for e in entities
            if e.label != label or len(e.text) != 1 or e.text in symbols]


# One-letter amino-acid codes: a substitution is written wild type, position, mutant(s).
_AMINO = "ACDEFGHIKLMNPQRSTVWY"
_MUTATION_RE = re.compile(rf"[{_AMINO}]\d{{1,4}}[{_AMINO}](?:/[{_AMINO}])*")
_STATISTIC_RE = re.compile(
    r"\(?(?:SD|SEM?|CI|standard deviation|standard error(?: of the mean)?|"
    r"confidence interval)(?: \((?:SD|SEM?|CI)\))?\)?", re.IGNORECASE)
_LONE_WORD_RE = re.compile(r"[a-z][a-z-]{3,}")


def _enclosing_word(text: str, start: int, end: int) -> str:
    """The whitespace-delimited word around ``start:end``, brackets and punctuation cut off."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end].strip("([,;:.)]")


def drop_non_parameters(text: str, entities: list[Entity], label: str = "PK") -> list[Entity]:
    """Drop ``label`` entities that cannot name a PK parameter: an amino-acid substitution or
    a piece of one ("V82A", "T/V" of "A71T/V": resistance mutations listed with their
    frequencies look like a parameter with a value), a statistic ("SD", "standard deviation
    (SD)", "CI"), or a lone lower-case word of four letters or more that the parameter
    vocabulary does not know, exactly or fuzzily
    (:func:`pkharvest.normalise.parameters.lookup_parameter`): a modifier or fragment left
    alone ("significant", "renal", "total", "elimination").
    None of the corpus's PK spans is one of these (tested); its lone-word PK spans are all
    vocabulary words ("half-life", "bioavailability", "clearance", "trough", "peak") but
    "max" and "min", too short for the rule. Capitalised words are left alone: symbols such
    as "Emax" are written that way. Measured on out-of-fold predictions of the
    cross-validation (docs/experiments/log/2026-11-26-non-parameter-decoding.md)."""
    from pkharvest.normalise.parameters import lookup_parameter  # local: keeps Pint off import

    def parameter_like(ent: Entity) -> bool:
        if _MUTATION_RE.fullmatch(_enclosing_word(text, ent.start, ent.end)):
            return False
        if _STATISTIC_RE.fullmatch(ent.text):
            return False
        return not (_LONE_WORD_RE.fullmatch(ent.text)
                    and lookup_parameter(ent.text).match is None)

    return [e for e in entities if e.label != label or parameter_like(e)]


# Entity post-processing after decoding, in this order (docs/model.md, *Decoding*, says what
# each does and why; each was measured on dev or on the out-of-fold predictions of the
# cross-validation, docs/experiments/log/; bench/bench_decoding.py prints F1 after each step):
# step name → (function, label the model must predict for the step to run; None: always).
# The two ``drop_unlinked_*`` steps must stay last: they link the entities the others have
# repaired. The tagger runs them only when ``drop_unlinked`` is on (the search pipeline links
# every entity itself).
_STEPS: dict[str, tuple[Callable[[str, list[Entity]], list[Entity]], str | None]] = {
    "whole_words": (whole_words, "PK"),
    "trim_function_words": (trim_function_words, "PK"),
    "vocabulary_phrases": (vocabulary_phrases, "PK"),
    "known_letters": (known_letters, "PK"),
    "drop_non_parameters": (drop_non_parameters, "PK"),
    "attach_abbreviations": (attach_abbreviations, "PK"),
    "attach_ratios": (attach_ratios, "PK"),
    "attach_time_to": (attach_time_to, "PK"),
    "absorb_bsa_units": (absorb_bsa_units, "UNITS"),
    "whole_numbers": (whole_numbers, None),
    "drop_unlinked_units": (drop_unlinked_units, "PK"),
    "drop_unlinked_parameters": (drop_unlinked_parameters, "VALUE"),
}
POSTPROCESS_STEPS: tuple[str, ...] = tuple(_STEPS)
# The steps ``predict(..., drop_unlinked=...)`` switches, each with its ModelConfig flag.
UNLINKED_STEPS: tuple[str, ...] = ("drop_unlinked_units", "drop_unlinked_parameters")


def postprocess_stages(text: str, entities: list[Entity], labels: Sequence[str],
                       steps: Sequence[str] = POSTPROCESS_STEPS) -> list[list[Entity]]:
    """The entities before any step and after each of ``steps`` in turn (``len(steps) + 1``
    lists; each step runs once), for benchmarks that score every stage."""
    stages = [entities]
    for step in steps:
        if step not in _STEPS:
            raise ValueError(f"unknown post-processing step {step!r}; choose from "
                             f"{', '.join(POSTPROCESS_STEPS)}")
        func, needed = _STEPS[step]
        if needed is None or needed in labels:
            entities = func(text, entities)
        stages.append(entities)
    return stages


def postprocess(text: str, entities: list[Entity], labels: Sequence[str],
                steps: Sequence[str] = POSTPROCESS_STEPS) -> list[Entity]:
    """Apply the post-processing ``steps`` (names from :data:`POSTPROCESS_STEPS`) to decoded
    entities; a step whose label the model does not predict is skipped."""
    return postprocess_stages(text, entities, labels, steps)[-1]
