"""Tiny training runs: train → save → load → predict, determinism, evaluation structure."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest
import torch
from conftest import TINY_TRAINING as TINY

from pkharvest.corpus.reader import apply_view, read_corpus
from pkharvest.errors import UsageError
from pkharvest.model.tagger import (
    CARD_FILE,
    METRICS_FILE,
    WEIGHTS_FILE,
    PKTagger,
    WordScores,
    resolve_device,
)
from pkharvest.training.evaluate import evaluate, get_score
from pkharvest.training.trainer import TrainConfig, augment_digits, swap_mentions, train


@pytest.fixture(scope="module")
def data(corpus_path):
    examples = read_corpus(corpus_path)
    pos = [e for e in examples if e.spans][:10]
    neg = [e for e in examples if not e.spans][:4]
    return pos[:7] + neg[:2], pos[7:] + neg[2:]


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    result = train(data[0], data[1], TrainConfig(seed=3, **TINY), out_dir=out, progress=False)
    return result, out


@pytest.mark.slow
def test_train_result_and_folder(trained, data):
    result, out = trained
    assert result.epochs_run == 1 and result.best_epoch == 1
    assert result.history[0]["step"] == result.steps == 2
    assert set(result.history[0]["task_losses"]) == {"ner", "mtcls", "bcls", "mcls"}
    assert all(v > 0 for v in result.history[0]["task_losses"].values())
    assert result.wall_time_s > 0
    assert (out / WEIGHTS_FILE).is_file()
    metrics = json.loads((out / METRICS_FILE).read_text())
    assert metrics["train_config"]["seed"] == 3 and metrics["n_train"] == len(data[0])
    assert "dev_f1" in result.history[0]


@pytest.mark.slow
def test_save_load_round_trip_identical_predictions(trained, data, tmp_path):
    result, out = trained
    loaded = PKTagger.load(out)
    assert loaded.version == result.tagger.version
    texts = [e.text for e in data[1]] + ["", "AUC was 12 mg·h/L."]
    a = result.tagger.predict(texts)
    b = loaded.predict(texts)
    assert a == b
    # other batch sizes pad differently: same entities, probabilities equal up to float noise
    c = loaded.predict(texts, batch_size=3)
    for x, y in zip(b, c, strict=True):
        assert [(e.label, e.start, e.end) for e in x.entities] == \
            [(e.label, e.start, e.end) for e in y.entities]
        assert x.pk_probability == pytest.approx(y.pk_probability, abs=1e-5)
    for p, t in zip(b, texts, strict=True):
        assert p.text == t and 0.0 <= p.pk_probability <= 1.0 and 0 <= p.mention_bucket <= 4
        for e in p.entities:
            assert t[e.start : e.end] == e.text and 0.0 < e.score <= 1.0
    # saving the loaded model again gives the same weights file
    loaded.save(tmp_path / "again")
    assert (tmp_path / "again" / WEIGHTS_FILE).read_bytes() == (out / WEIGHTS_FILE).read_bytes()


@pytest.mark.slow
def test_determinism_same_seed_same_weights(trained, data):
    result, _ = trained
    again = train(data[0], data[1], TrainConfig(seed=3, **TINY), progress=False)
    assert again.tagger.version == result.tagger.version
    assert again.history == result.history
    other = train(data[0], [], TrainConfig(seed=4, **TINY), progress=False)
    assert other.tagger.version != result.tagger.version


@pytest.mark.slow
def test_average_last_epochs(data):
    two_epochs = {**TINY, "epochs": 2}
    plain = train(data[0], [], TrainConfig(seed=3, **two_epochs), progress=False)
    # the mean of one epoch's weights is that epoch's weights
    one = train(data[0], [], TrainConfig(seed=3, average_last=1, **two_epochs),
                progress=False)
    assert one.tagger.version == plain.tagger.version
    assert one.tagger.metrics["averaged_epochs"] == 1 and plain.tagger.metrics[
        "averaged_epochs"] == 0
    two = train(data[0], [], TrainConfig(seed=3, average_last=2, **two_epochs),
                progress=False)
    assert two.tagger.version != plain.tagger.version
    assert two.tagger.metrics["averaged_epochs"] == 2
    assert two.history == plain.history  # averaging leaves the training trajectory alone
    # with a dev split the average competes with the best epoch; the recorded dev scores are
    # those of the weights kept
    dev = train(data[0], data[1], TrainConfig(seed=3, average_last=2, **two_epochs),
                progress=False)
    assert dev.tagger.metrics["averaged_epochs"] in (0, 2)
    assert evaluate(dev.tagger, data[1])["ner"] == dev.dev_scores["ner"]
    if dev.tagger.metrics["averaged_epochs"]:
        assert dev.best_epoch == dev.epochs_run == 2


@pytest.mark.slow
def test_evaluate_structure(trained, data):
    result, _ = trained
    scores = evaluate(result.tagger, data[1])
    for mode in ("strict", "partial"):
        for key in ("precision", "recall", "f1"):
            assert 0.0 <= get_score(scores, f"ner.{mode}.micro.{key}") <= 1.0
        assert set(scores["ner"][mode]["per_label"]) == {"PK", "VALUE", "UNITS", "RANGE",
                                                         "COMPARE"}
    assert scores["ner"]["strict"]["micro"]["support"] == sum(len(e.spans) for e in data[1])
    assert scores["ner"]["partial"]["micro"]["f1"] >= scores["ner"]["strict"]["micro"]["f1"]
    assert {"bcls", "mcls", "mtcls"} <= set(scores)
    pk_only = evaluate(result.tagger, apply_view(data[1], "pk"), labels=("PK",))
    assert set(pk_only["ner"]["strict"]["per_label"]) == {"PK"}


@pytest.mark.slow
def test_ablation_heads_and_single_task(data):
    cfg = TrainConfig(seed=3, heads=("ner", "bcls"), weighting="uncertainty", view="pk", **TINY)
    result = train(data[0], [], cfg, progress=False)
    assert set(result.tagger.network.heads) == {"ner", "bcls"}
    assert set(result.history[0]["task_losses"]) == {"ner", "bcls"}
    assert result.tagger.labels == ("PK",)
    base = train(data[0], [], TrainConfig(seed=3, weighting="none", **TINY), progress=False)
    assert set(base.history[0]["task_losses"]) == {"ner"}
    assert set(base.tagger.network.heads) == {"ner"}
    pred = base.tagger.predict([data[1][0].text])[0]
    assert pred.pk_probability == max((e.score for e in pred.entities), default=0.0)


def test_train_config_validation():
    assert TrainConfig().weighting == "fixed"
    ref = TrainConfig.reference()
    assert (ref.batch_size, ref.max_length, ref.lr, ref.patience) == (32, 256, 3e-5, 3)
    for bad, option in [({"view": "x"}, "--view"), ({"weighting": "x"}, "--weighting"),
                        ({"fraction": 0.0}, "--fraction"), ({"split": (0.5, 0.5, 0.5)},
                                                           "--split"),
                        ({"lr": 0.0}, "--lr"), ({"heads": ("ner", "zzz")}, "--heads"),
                        ({"max_length": 2}, "--max-length"), ({"batch_size": 0},
                                                              "--batch-size"),
                        ({"average_last": -1}, "--average-last"), ({"device": "gpu"},
                                                                    "--device"),
                        ({"ensemble": 0}, "--ensemble")]:
        with pytest.raises(UsageError) as err:
            TrainConfig(**bad)
        assert err.value.field == option.lstrip("-").replace("-", "_")
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()
    with pytest.raises(UsageError):
        train([], [], TrainConfig())


def test_seed_ensemble_is_its_members_averaged(data, trained, tmp_path):
    """``ensemble=2`` trains seeds 3 and 4; member 0 is the seed-3 single model; the
    ensemble's word scores are its members' log-probabilities averaged (up to one constant per
    word, which the decoding ignores: the tags are those of the averaged scores); the folder
    reloads as the same ensemble."""
    result = train(data[0], data[1], TrainConfig(seed=3, ensemble=2, **TINY),
                   out_dir=tmp_path / "ens", progress=False)
    tagger = result.tagger
    assert tagger.config.members == 2
    assert [m["seed"] for m in tagger.metrics["members"]] == [3, 4]
    single = trained[0].tagger.network.state_dict()
    member0 = tagger.network.members[0].state_dict()
    assert all(torch.equal(single[k], member0[k]) for k in single)
    member1 = tagger.network.members[1].state_dict()
    assert not all(torch.equal(single[k], member1[k]) for k in single)

    texts = [e.text for e in data[0] + data[1]]
    members = [PKTagger(replace(tagger.config, members=1), net, tagger.tokenizer)
               for net in tagger.network.members]
    per_member = [m.word_scores(texts) for m in members]
    averaged = [WordScores(a.text, a.word_offsets, (a.ner + b.ner) / 2, a.mtcls, a.bcls, a.mcls)
                for a, b in zip(*per_member, strict=True)]
    for ens, avg in zip(tagger.word_scores(texts), averaged, strict=True):
        shift = ens.ner - avg.ner
        assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-5)
    assert [p.word_tags for p in tagger.predict_detailed(texts)] == \
        [p.word_tags for p in tagger.decode(averaged)]

    loaded = PKTagger.load(tmp_path / "ens")
    assert loaded.config.members == 2 and loaded.version == tagger.version
    assert loaded.predict(texts) == tagger.predict(texts)
    assert "seed ensemble of 2 networks (seeds 3, 4)" in (tmp_path / "ens" / CARD_FILE).read_text()


def test_device_resolution(trained):
    """``auto`` picks what torch sees; a GPU that is not there is refused naming --device;
    a tagger moved to the CPU predicts as before."""
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError) as err:
            resolve_device("cuda:0")
        assert err.value.field == "device"
    tagger = trained[0].tagger
    before = tagger.predict(["CL was 5.2 L/h."])
    assert tagger.to("cpu") is tagger and tagger.device.type == "cpu"
    assert tagger.predict(["CL was 5.2 L/h."]) == before


def test_augment_digits_keeps_offsets(corpus_path):
    ex = next(e for e in read_corpus(corpus_path) if any(c.isdigit() for c in e.text))
    aug = augment_digits(ex, random.Random(1))
    assert len(aug.text) == len(ex.text) and aug.spans == ex.spans
    assert [c.isdigit() for c in aug.text] == [c.isdigit() for c in ex.text]
    assert [c for c in aug.text if not c.isdigit()] == [c for c in ex.text if not c.isdigit()]
    assert aug.text != ex.text


def test_swap_mentions_moves_every_span_with_the_text(corpus_path):
    examples = read_corpus(corpus_path)
    ex = next(e for e in examples if sum(s.label == "PK" for s in e.spans) >= 2
              and any(s.label != "PK" for s in e.spans))
    pool = ["terminal elimination half-life", "CL"]
    aug = swap_mentions(ex, pool, random.Random(3))
    assert len(aug.spans) == len(ex.spans)
    for old, new in zip(sorted(ex.spans, key=lambda s: s.start), aug.spans, strict=True):
        assert new.label == old.label
        if old.label == "PK":
            assert aug.text[new.start:new.end] in pool
        else:  # other spans keep their text at their shifted place
            assert aug.text[new.start:new.end] == ex.text[old.start:old.end]
    assert aug.text != ex.text and aug.relations == [] and aug.tokens == []
    # nothing to swap: the example itself comes back
    neg = next(e for e in examples if not e.spans)
    assert swap_mentions(neg, pool, random.Random(3)) is neg
    assert swap_mentions(ex, [], random.Random(3)) is ex
    with pytest.raises(UsageError, match="mention_swap"):
        TrainConfig(mention_swap=1.5)
