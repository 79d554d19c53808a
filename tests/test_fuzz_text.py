"""Fuzzing the text-to-measurement path with hypothesis: whatever the text, no exception escapes,
offsets stay consistent with the text, nothing is silently swallowed, and what comes out can be
stored and read back.

Covers ``sentences.split_text``/``split_article``, ``link.link`` with arbitrary entity offsets,
``normalise.normalise`` on measurements with arbitrary strings and numbers, ``parse_unit``,
``normalise_parameter``, and ``Extractor.sentences_to_measurements`` with an untrained model
(fewer examples: each one runs the network).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkharvest.link import link
from pkharvest.model.tagger import PKTagger
from pkharvest.normalise import normalise, normalise_parameter, parse_unit
from pkharvest.normalise.units import UnitResult
from pkharvest.pipeline import Extractor
from pkharvest.records import AbstractSection, Article, ArticleResult, Entity, Measurement, Sentence
from pkharvest.sentences import split_article, split_text
from pkharvest.store import Store

LABELS = ("PK", "VALUE", "UNITS", "RANGE", "COMPARE")

# Text that looks like PK abstracts, with the odd characters they really contain, mixed with
# anything at all.
PK_WORDS = [
    "Vancomycin", "clearance", "CL/F", "Vd", "t1/2", "AUC0-∞", "Cmax", "was", "were", "of",
    "4.2", "0.5", "1,200", "6.1 ± 1.3", "(95% CI 3.1-5.0)", "range", "20-35", "to", "<", "≤",
    ">=", "~", "approx.", "e.g.", "i.v.", "mg/L", "L/h", "µg·h/mL", "μg/mL", "h", "min.", "ng/mL",
    "mL/min/1.73 m2", "L·h−1·kg−1", "%", "CV", "SD", "median", "mean", "IQR", "n = 12", "et al.",
    "Fig.", "1.", "(ii)", "\u00a0", "\u200b", "\u200f", "\u0301", "−", "–", "·", ";", ".", ". ",
    ",", ":", "\n", "RESULTS:", "p < 0.05", "r2<0.25", "1e308", "NaN", "inf", "-0",
]  # fmt: skip
pk_text = st.lists(st.one_of(st.sampled_from(PK_WORDS), st.text(max_size=6)), max_size=40).map(
    " ".join
)
any_text = st.one_of(st.text(max_size=300), pk_text)
UNIT_ALPHABET = "mgLhkµμuncpd/·.*^-−0123456789 ()%²³⁻¹minsdaywkyrmolIUMg×"
unit_text = st.one_of(
    st.text(alphabet=UNIT_ALPHABET, max_size=25),
    st.sampled_from([w for w in PK_WORDS if not w[0].isalpha() or "/" in w]),
    st.text(max_size=40),
)
numbers = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(
    min_value=-(10**30), max_value=10**30).map(float))  # fmt: skip
# PKHARVEST_FUZZ_EXAMPLES raises the example count for a deeper (local, nightly) run.
FUZZ_EXAMPLES = int(os.environ.get("PKHARVEST_FUZZ_EXAMPLES", "150"))
FAST = settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@contextmanager
def swallowed(logger_name: str = "pkharvest") -> Iterator[list[logging.LogRecord]]:
    """Collect log records that carry a traceback: an exception the library caught to stay
    total. ``link``/``normalise`` never raise by contract, so a swallowed exception is the only
    trace of a bug (a measurement silently lost or left un-normalised)."""
    records: list[logging.LogRecord] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info:
                records.append(record)

    handler = _Collect(level=logging.DEBUG)
    log = logging.getLogger(logger_name)
    old_level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)


def _describe(records: list[logging.LogRecord]) -> str:
    return "; ".join(
        f"{r.name}: {r.getMessage()} ({r.exc_info[1]!r})" for r in records if r.exc_info
    )


# ---------------------------------------------------------------------------------- split


@FAST
@given(any_text)
def test_split_text_covers_the_text_with_trimmed_ordered_spans(text: str) -> None:
    spans = split_text(text)
    prev_end = 0
    for start, end in spans:
        assert prev_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip() and piece
        prev_end = end
    # nothing but whitespace falls between or around the sentences
    covered = set()
    for start, end in spans:
        covered.update(range(start, end))
    lost = [c for i, c in enumerate(text) if i not in covered and not c.isspace()]
    assert not lost, lost


@FAST
@given(any_text, st.lists(st.tuples(st.one_of(st.none(), any_text), any_text), max_size=3))
def test_split_article_indexes_every_sentence_once(
    title: str, sections: list[tuple[str | None, str]]
) -> None:
    article = Article(
        pmid="1", title=title, sections=tuple(AbstractSection(t, lab) for lab, t in sections)
    )
    sentences = split_article(article)
    assert [s.index for s in sentences] == list(range(len(sentences)))
    for s in sentences:
        if s.section == "title":
            assert title[s.start : s.end] == s.text
        assert s.text and s.text == s.text.strip()


# ------------------------------------------------------------------------------------ link


@st.composite
def sentence_and_entities(draw: st.DrawFn) -> tuple[Sentence, list[Entity]]:
    text = draw(any_text)
    n = len(text)
    entities = []
    for _ in range(draw(st.integers(0, 12))):
        label = draw(st.one_of(st.sampled_from(LABELS), st.sampled_from(("pk", "X", ""))))
        start = draw(st.integers(-3, n + 3))
        end = draw(st.integers(-3, n + 3))
        valid = 0 <= start < end <= n
        etext = text[start:end] if valid else draw(st.text(max_size=5))
        score = draw(st.floats(0, 1))
        entities.append(Entity(label, start, end, etext, score))
    index = draw(st.integers(0, 50))
    return Sentence(pmid="42", index=index, text=text, start=0, end=n), entities


@FAST
@given(sentence_and_entities())
def test_link_with_arbitrary_entities_gives_consistent_measurements(
    case: tuple[Sentence, list[Entity]],
) -> None:
    sentence, entities = case
    text = sentence.text
    with swallowed("pkharvest") as caught:
        measurements = link(sentence, entities)
    assert not caught, _describe(caught)
    for m in measurements:
        assert isinstance(m, Measurement)
        assert (m.pmid, m.sentence_index) == ("42", sentence.index)
        assert 0 <= m.parameter_start < m.parameter_end <= len(text)
        assert text[m.parameter_start : m.parameter_end] == m.parameter_text
        if m.value_start is not None or m.value_end is not None:
            assert m.value_start is not None and m.value_end is not None
            assert 0 <= m.value_start < m.value_end <= len(text)
            assert text[m.value_start : m.value_end] == m.value_text
        for v in (m.value, m.value_low, m.value_high, m.deviation):
            assert v is None or isinstance(v, float)


# ------------------------------------------------------------------------------- normalise


@st.composite
def measurements(draw: st.DrawFn) -> Measurement:
    texts = st.one_of(st.none(), any_text)
    return Measurement(
        pmid=draw(st.text(max_size=8)),
        sentence_index=draw(st.integers(-1, 10**6)),
        parameter_text=draw(st.one_of(any_text, st.sampled_from(PK_WORDS))),
        parameter_start=draw(st.integers(-5, 500)),
        parameter_end=draw(st.integers(-5, 500)),
        value_text=draw(texts),
        value_start=draw(st.one_of(st.none(), st.integers(-5, 500))),
        value_end=draw(st.one_of(st.none(), st.integers(-5, 500))),
        value=draw(numbers),
        value_low=draw(numbers),
        value_high=draw(numbers),
        comparator=draw(
            st.one_of(st.none(), st.sampled_from(["<", "≤", ">=", "~", "="]), any_text)
        ),
        deviation_text=draw(texts),
        deviation=draw(numbers),
        deviation_type=draw(st.one_of(st.none(), st.sampled_from(["SD", "CV", "SE"]), any_text)),
        measurement_type=draw(
            st.one_of(st.none(), st.sampled_from(["mean", "median", "range"]), any_text)
        ),
        unit_text=draw(st.one_of(st.none(), unit_text)),
        flags=draw(st.lists(st.text(max_size=10), max_size=3)),
    )


@FAST
@given(measurements())
def test_normalise_any_measurement(m: Measurement) -> None:
    before = dataclasses.asdict(m)
    with swallowed("pkharvest.normalise") as caught:
        out = normalise(m)
    assert dataclasses.asdict(m) == before, "normalise modified its input"
    assert not caught, _describe(caught)
    assert not any(f.startswith("normalisation_error") for f in out.flags), out.flags
    assert all(isinstance(f, str) for f in out.flags)
    assert set(before["flags"]) <= set(out.flags)
    for v in (out.value_canonical, out.value_low_canonical, out.value_high_canonical):
        assert v is None or (isinstance(v, float) and math.isfinite(v))
    assert out.unit is None or (isinstance(out.unit, str) and out.unit)
    assert out.parameter is None or isinstance(out.parameter, str)
    # the raw fields are kept as they were
    for name in ("parameter_text", "value_text", "unit_text", "value", "comparator"):
        assert getattr(out, name) == before[name] or (
            isinstance(before[name], float) and math.isnan(before[name])
        )


@FAST
@given(unit_text)
def test_parse_unit_any_text(text: str) -> None:
    result = parse_unit(text)
    assert isinstance(result, UnitResult)
    assert result.input == text
    if result.ok:
        assert result.factor is not None and math.isfinite(result.factor) and result.factor != 0
        assert result.unit and result.kind
    else:
        assert result.error
    assert parse_unit(text) == result  # deterministic


@FAST
@given(st.one_of(any_text, st.sampled_from(PK_WORDS)))
def test_normalise_parameter_any_text(text: str) -> None:
    match = normalise_parameter(text)
    if match is not None:
        assert match.key and match.name
        assert 0.0 <= match.score <= 1.0
    assert normalise_parameter(text) == match


# --------------------------------------------------------------------- the whole extraction


@pytest.fixture(scope="module")
def extractor(untrained_model: Path) -> Extractor:
    return Extractor(PKTagger.load(untrained_model), threshold=0.0)


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzzstore") / "fuzz.duckdb"


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=any_text, abstract=any_text, chemicals=st.lists(any_text, max_size=2))
def test_sentences_to_measurements_any_text_and_store_round_trip(
    extractor: Extractor, fuzz_store: Path, title: str, abstract: str, chemicals: list[str]
) -> None:
    article = Article(
        pmid="7", title=title, sections=(AbstractSection(abstract),), chemicals=tuple(chemicals)
    )
    sentences = split_article(article)
    with swallowed() as caught:
        scored, mentions, found = extractor.sentences_to_measurements(
            sentences, title=title, chemicals=chemicals, query=title
        )
    assert not caught, _describe(caught)
    assert [s.sentence for s in scored] == sentences
    by_index = {s.index: s for s in sentences}
    for mention in mentions:
        sent = by_index[mention.sentence_index]
        e = mention.entity
        assert 0 <= e.start < e.end <= len(sent.text)
        assert sent.text[e.start : e.end] == e.text
        assert e.label in LABELS
    for m in found:
        sent = by_index[m.sentence_index]
        assert sent.text[m.parameter_start : m.parameter_end] == m.parameter_text

    # what the extraction produced is stored and read back unchanged
    with Store(fuzz_store) as store:
        store.write_batch(
            [ArticleResult(article, scored, mentions, found)], None, extractor.model_version
        )
        view = store.article_view("7")
        stored = store.measurements("7")
    assert view is not None
    assert view.article == article
    assert [s.text for s in view.sentences] == [s.text for s in sentences]
    stored_mentions = {(s.index, e) for s in view.sentences for e in s.mentions}
    assert stored_mentions == {(m.sentence_index, m.entity) for m in mentions}
    keys = {(m.sentence_index, m.parameter_start, m.parameter_end, m.value_start, m.value_end)
            for m in found}  # fmt: skip
    assert len(stored) == len(keys)
    assert {(m.sentence_index, m.parameter_text, m.value_text) for m in stored} == {
        (m.sentence_index, m.parameter_text, m.value_text) for m in found
    }
