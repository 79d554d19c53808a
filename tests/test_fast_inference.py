"""The fast inference path: int8 dynamic quantisation, length buckets, thread settings.

Predictions must not depend on how sentences are batched: the same sentences tagged one by one,
in batches of other sizes or in another order give the same entities, scores and probabilities
(exactly), at both precisions. A model with freshly initialised heads on the bundled encoder is
enough for that (its predictions are arbitrary but deterministic)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.corpus.reader import read_corpus
from pkharvest.errors import ModelError, UsageError
from pkharvest.model.tagger import PKTagger, length_buckets, set_threads
from pkharvest.pipeline import Extractor

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(untrained_model_factory) -> Path:  # type: ignore[no-untyped-def]
    return untrained_model_factory(10)


@pytest.fixture(scope="module")
def texts(corpus_path: Path) -> list[str]:
    # 40 corpus sentences of many lengths, some repeated lengths (several per bucket)
    return [e.text for e in read_corpus(corpus_path)][:40]


def _as_tuples(preds) -> list:
    return [dataclasses.astuple(p) for p in preds]


def test_length_buckets_cover_every_index_once_without_mixing_lengths() -> None:
    lengths = [5, 3, 5, 9, 3, 5, 5, 1]
    buckets = length_buckets(lengths, batch_size=2)
    flat = [i for b in buckets for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(len({lengths[i] for i in b}) == 1 and len(b) <= 2 for b in buckets)
    assert [lengths[b[0]] for b in buckets] == sorted(lengths[b[0]] for b in buckets)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_predictions_do_not_depend_on_batching(model_dir: Path, texts: list[str],
                                               precision: str) -> None:
    tagger = PKTagger.load(model_dir, precision=precision)
    reference = _as_tuples(tagger.predict(texts, batch_size=1))
    assert any(p[1] for p in reference)  # some entities, or the comparison says little
    for batch_size in (3, 32):
        assert _as_tuples(tagger.predict(texts, batch_size=batch_size)) == reference
    shuffled = list(reversed(texts))
    assert _as_tuples(tagger.predict(shuffled, batch_size=16)) == list(reversed(reference))
    # each sentence alone, as the search pipeline tags one article at a time
    alone = [_as_tuples(tagger.predict([t]))[0] for t in texts[:8]]
    assert alone == reference[:8]


def test_int8_quantises_the_encoder_and_keeps_the_version(model_dir: Path,
                                                          texts: list[str]) -> None:
    fp32 = PKTagger.load(model_dir)
    int8 = fp32.with_precision("int8")
    assert fp32.with_precision("fp32") is fp32
    assert int8.precision == "int8" and int8.version == fp32.version
    assert fp32.run_version == fp32.version
    assert int8.run_version == f"{fp32.version}-int8"
    assert Extractor(int8).model_version == int8.run_version
    kinds = {type(m).__module__ for m in int8.network.encoder.modules()}
    assert any("quantized" in k for k in kinds)
    assert not any("quantized" in type(m).__module__ for m in fp32.network.modules())
    # the heads stay float; the fp32 tagger is untouched by the copy
    assert isinstance(int8.network.heads["ner"], torch.nn.Linear)
    a, b = fp32.predict(texts[:10]), int8.predict(texts[:10])
    assert [p.text for p in a] == [p.text for p in b]
    assert max(abs(x.pk_probability - y.pk_probability) for x, y in zip(a, b, strict=True)) < 0.1
    with pytest.raises(ModelError):
        int8.save(model_dir.parent / "int8")
    with pytest.raises(UsageError) as err:
        PKTagger.load(model_dir, precision="fp16")
    assert err.value.field == "precision"


def test_set_threads() -> None:
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1
        assert set_threads(None) == 1
        with pytest.raises(UsageError):
            set_threads(0)
    finally:
        torch.set_num_threads(before)


def test_tag_cli_precision(model_dir: Path) -> None:
    args = ["tag", "--model", str(model_dir), "--json", "CL was 4.2 L/h."]
    fp32 = runner.invoke(app, [*args, "--precision", "fp32"])
    int8 = runner.invoke(app, [*args, "--precision", "int8"])
    assert fp32.exit_code == 0 and int8.exit_code == 0, fp32.output + int8.output
    bad = runner.invoke(app, [*args, "--precision", "fp16"])
    assert bad.exit_code == 2 and "--precision" in bad.output


def test_digit_prefilter_keeps_every_gold_record(corpus_path: Path) -> None:
    from pkharvest.scoring import gold_records
    from pkharvest.screen import may_carry_value

    assert may_carry_value("CL was 4.2 L/h") and may_carry_value("CL ٤ L/h")
    assert not may_carry_value("Clearance was reduced in neonates.")
    examples = read_corpus(corpus_path)
    dropped = [e for e in examples if not may_carry_value(e.text)]
    assert gold_records(examples) and not gold_records(dropped)
