"""`--encoder` with other Hugging Face families than the default BERT word-piece one.

A RoBERTa-family encoder (byte-level BPE, as BioMed-RoBERTa) is built here, small and
randomly initialised, in HF layout: a tokenizer trained on a few corpus sentences and a
two-layer ``RobertaModel``. Nothing is downloaded.
"""

from __future__ import annotations

import json

import pytest
from conftest import TINY_TRAINING as TINY
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.corpus.reader import read_corpus
from pkharvest.errors import ModelError
from pkharvest.model.config import DEFAULT_ENCODER, ModelConfig, resolve_encoder
from pkharvest.model.network import load_tokenizer
from pkharvest.model.tagger import PKTagger
from pkharvest.training.trainer import TrainConfig, train

runner = CliRunner()


@pytest.fixture(scope="module")
def examples(corpus_path):
    return read_corpus(corpus_path)[:24]


@pytest.fixture(scope="module")
def roberta_dir(examples, tmp_path_factory):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    out = tmp_path_factory.mktemp("roberta")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([e.text for e in examples], vocab_size=400,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(out))
    tokenizer = RobertaTokenizerFast(vocab_file=str(out / "vocab.json"),
                                     merges_file=str(out / "merges.txt"))
    tokenizer.save_pretrained(out)
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=64,
                           max_position_embeddings=80, pad_token_id=tokenizer.pad_token_id)
    RobertaModel(config).save_pretrained(out)
    return out


def _pieces(tokenizer, words: list[str]) -> list[str]:
    ids = tokenizer(words, is_split_into_words=True, add_special_tokens=False)["input_ids"]
    return tokenizer.convert_ids_to_tokens(ids)


def test_byte_level_tokenizer_takes_words_with_a_prefix_space(roberta_dir):
    tokenizer = load_tokenizer(str(roberta_dir))
    assert tokenizer.add_prefix_space
    # a word is encoded the same wherever it stands: as a word after a space
    first = _pieces(tokenizer, ["clearance", "was"])
    later = _pieces(tokenizer, ["The", "clearance", "was"])
    assert first == later[-len(first):]
    assert first[0].startswith("Ġ")
    # the default word-piece tokenizer is loaded as it is
    bert = load_tokenizer(resolve_encoder(DEFAULT_ENCODER))
    assert not bert.add_prefix_space
    assert _pieces(bert, ["clearance", "was"]) == ["clearance", "was"]


def test_roberta_encoder_trains_saves_and_reloads(roberta_dir, examples, tmp_path):
    out = tmp_path / "model"
    result = train(examples[:16], examples[16:], TrainConfig(seed=3, encoder=str(roberta_dir),
                                                             **TINY),
                   out_dir=out, progress=False)
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert saved["encoder"] == str(roberta_dir)
    assert saved["encoder_config"]["model_type"] == "roberta"
    texts = [e.text for e in examples[16:]]
    again = PKTagger.load(out)
    assert again.tokenizer.add_prefix_space
    before = [[(e.start, e.end, e.label) for e in p.entities]
              for p in result.tagger.predict(texts)]
    after = [[(e.start, e.end, e.label) for e in p.entities] for p in again.predict(texts)]
    assert before == after
    first, second = result.tagger.word_scores(texts[:2]), again.word_scores(texts[:2])
    for a, b in zip(first, second, strict=True):
        assert a.ner.allclose(b.ner, atol=1e-6)


def test_cli_train_and_tag_with_a_roberta_encoder(roberta_dir, corpus_path, tmp_path):
    corpus = tmp_path / "tiny.jsonl"
    corpus.write_text("\n".join(corpus_path.read_text(encoding="utf-8").splitlines()[:30])
                      + "\n", encoding="utf-8")
    out = tmp_path / "model"
    res = runner.invoke(app, ["train", "--corpus", str(corpus), "--out", str(out),
                              "--encoder", str(roberta_dir), "--epochs", "1",
                              "--batch-size", "8", "--max-length", "64", "--quiet"])
    assert res.exit_code == 0, res.output
    tagged = runner.invoke(app, ["tag", "--model", str(out), "--json",
                                 "The clearance was 5.2 L/h."])
    assert tagged.exit_code == 0, tagged.output
    assert json.loads(tagged.output)[0]["text"] == "The clearance was 5.2 L/h."


def test_encoder_without_bert_style_special_tokens_is_refused(roberta_dir, tmp_path):
    # a byte-level tokenizer with no [CLS]/[SEP]/[PAD] (GPT-2 style): named, not a traceback
    from transformers import PreTrainedTokenizerFast

    bare = tmp_path / "bare"
    bare.mkdir()
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(roberta_dir / "tokenizer.json"))
    tokenizer.save_pretrained(bare)
    for name in ("config.json", "model.safetensors"):
        (bare / name).write_bytes((roberta_dir / name).read_bytes())
    with pytest.raises(ModelError, match=r"not a BERT-style encoder.*cls_token") as info:
        PKTagger.create(ModelConfig(labels=("PK",), encoder=str(bare)))
    assert info.value.field == "encoder"
