"""Model pieces that need no training: decoding, loss weighting, config, folder checks."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch

from pkharvest.errors import ModelError, UsageError
from pkharvest.model.config import ModelConfig
from pkharvest.model.decoding import spans_from_tags, transition_mask, viterbi
from pkharvest.model.tagger import REQUIRED_FILES, PKTagger
from pkharvest.model.weighting import (
    FIXED_WEIGHTS,
    HYBRID_FLOOR,
    LossWeighting,
    uncertainty_loss,
)

TAGS = ["O", "B-PK", "I-PK", "B-VALUE", "I-VALUE"]


def _scores(rows: list[list[float]]) -> torch.Tensor:
    return torch.log_softmax(torch.tensor(rows), dim=-1)


def test_viterbi_repairs_invalid_argmax():
    # argmax would be O, I-PK, I-PK: an entity without a beginning
    s = _scores([[3, 0, 0, 0, 0], [0, 1, 2.5, 0, 0], [0, 0, 3, 0, 0]])
    assert [TAGS[i] for i in s.argmax(-1).tolist()] == ["O", "I-PK", "I-PK"]
    path = [TAGS[i] for i in viterbi(s, TAGS)]
    assert path == ["O", "B-PK", "I-PK"]


def test_viterbi_no_label_switch_inside_entity():
    s = _scores([[0, 3, 0, 0, 0], [0, 0, 1, 0, 2.9], [0, 0, 2.0, 0, 0]])
    path = [TAGS[i] for i in viterbi(s, TAGS)]
    for prev, cur in itertools.pairwise(path):
        if cur.startswith("I-"):
            assert prev[2:] == cur[2:] and prev != "O"
    # the best valid path keeps the PK entity going
    assert path == ["B-PK", "I-PK", "I-PK"]


def test_viterbi_matches_brute_force():
    import itertools

    torch.manual_seed(0)
    start, trans = transition_mask(TAGS)
    for _ in range(20):
        s = torch.randn(4, len(TAGS))
        best, best_path = -math.inf, None
        for path in itertools.product(range(len(TAGS)), repeat=4):
            v = float(start[path[0]] + sum(s[t, p] for t, p in enumerate(path)) +
                      sum(trans[a, b] for a, b in itertools.pairwise(path)))
            if v > best:
                best, best_path = v, list(path)
        assert viterbi(s, TAGS) == best_path
    assert viterbi(torch.zeros(0, len(TAGS)), TAGS) == []


def test_spans_from_invalid_tags_are_lenient():
    tags = ["I-PK", "I-PK", "O", "B-VALUE", "I-PK", "I-VALUE", "B-VALUE"]
    assert spans_from_tags(tags) == [(0, 1, "PK"), (3, 3, "VALUE"), (4, 4, "PK"),
                                     (5, 5, "VALUE"), (6, 6, "VALUE")]
    assert spans_from_tags([]) == []


def test_uncertainty_loss_value_and_gradients():
    losses = torch.tensor([2.0, 0.5, 1.0])
    s = torch.tensor([0.0, 1.0, -0.5], requires_grad=True)
    total = uncertainty_loss(losses, s)
    expected = sum(math.exp(-si) * li + si for li, si in zip([2.0, 0.5, 1.0], [0.0, 1.0, -0.5],
                                                            strict=True))
    assert float(total.detach()) == pytest.approx(expected)
    total.backward()
    # d/ds_i = 1 - exp(-s_i) * L_i
    want = [1 - math.exp(-si) * li for li, si in zip([2.0, 0.5, 1.0], [0.0, 1.0, -0.5],
                                                      strict=True)]
    assert s.grad.tolist() == pytest.approx(want)
    # the optimum of s_i is log L_i (gradient zero there)
    s2 = torch.log(losses).clone().requires_grad_(True)
    uncertainty_loss(losses, s2).backward()
    assert s2.grad.abs().max() < 1e-6


def test_weighting_schemes():
    losses = {"ner": torch.tensor(2.0), "mtcls": torch.tensor(1.0), "bcls": torch.tensor(0.5),
              "mcls": torch.tensor(1.5)}
    tasks = ("ner", "mtcls", "bcls", "mcls")
    assert float(LossWeighting("none", tasks)(losses)) == 2.0
    fixed = sum(FIXED_WEIGHTS[t] * float(v) for t, v in losses.items())
    assert float(LossWeighting("fixed", tasks)(losses)) == pytest.approx(fixed)
    unc = LossWeighting("uncertainty", tasks)
    assert unc.learned == tasks
    assert float(unc(losses).detach()) == pytest.approx(5.0)  # s_i = 0 -> plain sum
    hyb = LossWeighting("hybrid", tasks)
    assert hyb.learned == ("mtcls", "bcls", "mcls")
    floor = HYBRID_FLOOR
    assert hyb.log_vars.tolist() == pytest.approx([floor] * 3)  # starts at the floor
    with torch.no_grad():
        hyb.log_vars.copy_(torch.tensor([floor + 1.0, -2.0, floor]))
    # NER weight 1; auxiliary s clamped at >= floor (weight <= 0.25)
    w = math.exp(-floor)
    want = 2.0 + (w / math.e * 1.0 + floor + 1.0) + (w * 0.5 + floor) + (w * 1.5 + floor)
    assert float(hyb(losses).detach()) == pytest.approx(want)
    assert hyb.weights()["bcls"] == pytest.approx(0.25) and hyb.weights()["ner"] == 1.0
    assert max(hyb.weights().values()) == 1.0
    # removing a head removes its task
    assert LossWeighting("uncertainty", ("ner", "bcls")).log_vars.shape == (2,)
    with pytest.raises(ValueError):
        LossWeighting("uncertainty", ("ner",))({"mtcls": torch.tensor(1.0)})
    with pytest.raises(ValueError):
        LossWeighting("magic", tasks)


def test_hybrid_log_variance_leaves_the_floor_when_the_auxiliary_loss_grows():
    """A small auxiliary loss pushes s under the floor; projected back after each step, s rises
    again once the loss exceeds exp(floor) = 4 (without the projection it stays stuck below the
    floor, where the clamp passes no gradient)."""
    tasks = ("ner", "bcls")
    hyb = LossWeighting("hybrid", tasks)
    opt = torch.optim.SGD([hyb.log_vars], lr=0.5)

    def steps(aux_loss: float, n: int) -> None:
        for _ in range(n):
            opt.zero_grad()
            hyb({"ner": torch.tensor(1.0), "bcls": torch.tensor(aux_loss)}).backward()
            opt.step()
            hyb.project_()

    steps(0.5, 5)
    assert float(hyb.log_vars.detach()[0]) == pytest.approx(HYBRID_FLOOR)  # held on the floor
    steps(40.0, 20)
    assert float(hyb.log_vars.detach()[0]) > HYBRID_FLOOR + 0.5  # learns again: optimum log 40
    # the other schemes are untouched by the projection
    unc = LossWeighting("uncertainty", tasks)
    with torch.no_grad():
        unc.log_vars.fill_(-3.0)
    unc.project_()
    assert unc.log_vars.tolist() == [-3.0, -3.0]


def test_model_config_validation_and_round_trip(tmp_path):
    c = ModelConfig(labels=("PK",), heads=("ner", "bcls"), max_length=64)
    c.save(tmp_path / "config.json")
    assert ModelConfig.load(tmp_path / "config.json") == c
    with pytest.raises(UsageError, match="heads"):
        ModelConfig(labels=("PK",), heads=("mtcls",))
    with pytest.raises(UsageError, match="heads"):
        ModelConfig(labels=("PK",), heads=("ner", "relation"))
    with pytest.raises(UsageError, match="max_length"):
        ModelConfig(labels=("PK",), max_length=4)
    with pytest.raises(UsageError):
        ModelConfig(labels=())
    with pytest.raises(UsageError, match="num_features"):
        ModelConfig(labels=("PK",), num_features=999)
    data = json.loads((tmp_path / "config.json").read_text())
    data["surprise"] = 1
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="surprise"):
        ModelConfig.load(tmp_path / "config.json")


def test_missing_model_files_named(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        PKTagger.load(tmp_path / "nope")
    folder = tmp_path / "m"
    folder.mkdir()
    with pytest.raises(ModelError, match=REQUIRED_FILES[0]):
        PKTagger.load(folder)
    for name in REQUIRED_FILES[:-1]:
        (folder / name).write_text("{}")
    with pytest.raises(ModelError, match=REQUIRED_FILES[-1]):
        PKTagger.load(folder)


def test_balance_brackets():
    from pkharvest.model.postprocess import balance_brackets

    t = "The AUC(0-∞) was 5 and Cmax) was 3; (Tmax 2 h) and x."
    s = t.index("AUC")
    assert balance_brackets(t, s, s + len("AUC(0-∞")) == (s, s + len("AUC(0-∞)"))
    c = t.index("Cmax")
    assert balance_brackets(t, c, c + len("Cmax)")) == (c, c + 4)
    p = t.index("(Tmax")
    assert balance_brackets(t, p, p + len("(Tmax")) == (p + 1, p + 5)
    ok = t.index("5")
    assert balance_brackets(t, ok, ok + 1) == (ok, ok + 1)
    # a dangling opening bracket at the end goes: the abbreviation was tagged on its own
    u = "The peak concentration (Cmax) was 3"
    assert balance_brackets(u, 4, len("The peak concentration (")) == (4, u.index(" (Cmax"))


def test_balance_brackets_leaves_gold_spans(corpus_path):
    from pkharvest.corpus.reader import read_corpus
    from pkharvest.model.postprocess import balance_brackets

    spans = [(e.text, s) for e in read_corpus(corpus_path) for s in e.spans]
    changed = sum(balance_brackets(t, s.start, s.end) != (s.start, s.end) for t, s in spans)
    assert changed <= len(spans) // 100  # an annotation oddity or two at most


def test_attach_abbreviations_follows_the_annotation_convention() -> None:
    from pkharvest.model.postprocess import attach_abbreviations
    from pkharvest.records import Entity

    text = (
        "The peak concentration (Cmax) was 3.1 mg/L and AUCR (1.1) rose; "
        "bioavailability (PO vs IM)."
    )
    ents = [
        Entity("PK", 4, 22, "peak concentration", 0.9),
        Entity("PK", 24, 28, "Cmax", 0.8),
        Entity("VALUE", 34, 37, "3.1", 0.9),
        Entity("PK", 47, 51, "AUCR", 0.9),
        Entity("VALUE", 53, 56, "1.1", 0.9),
        Entity("PK", 63, 78, "bioavailability", 0.9),
    ]
    got = attach_abbreviations(text, ents)
    assert [(e.label, e.text) for e in got] == [
        ("PK", "peak concentration (Cmax)"),
        ("VALUE", "3.1"),
        ("PK", "AUCR"),
        ("VALUE", "1.1"),
        ("PK", "bioavailability"),
    ]
    assert got[0].score == 0.8


def _ents(text: str, *parts: tuple[str, str]) -> list:
    from pkharvest.records import Entity

    out, pos = [], 0
    for label, piece in parts:
        start = text.index(piece, pos)
        out.append(Entity(label, start, start + len(piece), piece, 0.9))
        pos = start + len(piece)
    return out


def test_absorb_bsa_units_keeps_the_body_surface_area_in_the_unit() -> None:
    from pkharvest.model.postprocess import absorb_bsa_units

    text = "CL was 455 ml/min/1.73m2 and 80 mL/min per 1.73 m², versus 1.73 m2 alone."
    ents = _ents(text, ("VALUE", "455"), ("UNITS", "ml/min/"), ("VALUE", "1.73"),
                 ("UNITS", "m2"), ("VALUE", "80"), ("UNITS", "mL/min"), ("VALUE", "1.73"),
                 ("VALUE", "1.73"), ("UNITS", "m2"))
    got = [(e.label, e.text) for e in absorb_bsa_units(text, ents)]
    assert got == [("VALUE", "455"), ("UNITS", "ml/min/1.73m2"), ("VALUE", "80"),
                   ("UNITS", "mL/min per 1.73 m²"), ("VALUE", "1.73"), ("UNITS", "m2")]
    # a unit that is followed by a value that is not a BSA denominator is left alone
    text2 = "CL was 5 L/h/1.73 kg"
    ents2 = _ents(text2, ("VALUE", "5"), ("UNITS", "L/h"), ("VALUE", "1.73"))
    assert absorb_bsa_units(text2, ents2) == ents2


def test_drop_unlinked_units_keeps_units_of_parameter_values_only() -> None:
    from pkharvest.model.postprocess import drop_unlinked_units

    text = "After a dose of 600 mg, the clearance was 5.2 ± 1.1 L/h (p < 0.05)."
    ents = _ents(text, ("VALUE", "600"), ("UNITS", "mg"), ("PK", "clearance"),
                 ("VALUE", "5.2"), ("VALUE", "1.1"), ("UNITS", "L/h"))
    got = [(e.label, e.text) for e in drop_unlinked_units(text, ents)]
    assert got == [("VALUE", "600"), ("PK", "clearance"), ("VALUE", "5.2"), ("VALUE", "1.1"),
                   ("UNITS", "L/h")]
    # no parameter in the sentence: its units and comparators go, its numbers stay
    text2 = "Samples were taken 0-24 h after < 600 mg."
    ents2 = _ents(text2, ("RANGE", "0-24"), ("UNITS", "h"), ("COMPARE", "<"), ("VALUE", "600"),
                  ("UNITS", "mg"))
    got2 = [(e.label, e.text) for e in drop_unlinked_units(text2, ents2)]
    assert got2 == [("RANGE", "0-24"), ("VALUE", "600")]


def test_drop_unlinked_parameters_keeps_parameters_with_values_only() -> None:
    from pkharvest.model.postprocess import drop_unlinked_parameters

    text = ("Tmax was longer than the infusion, and the AUC accounted for most of the total "
            "AUC in plasma; the clearance was 5.2 L/h.")
    ents = _ents(text, ("PK", "Tmax"), ("PK", "AUC"), ("PK", "AUC"), ("PK", "clearance"),
                 ("VALUE", "5.2"), ("UNITS", "L/h"))
    got = [(e.label, e.text) for e in drop_unlinked_parameters(text, ents)]
    assert got == [("PK", "clearance"), ("VALUE", "5.2"), ("UNITS", "L/h")]


# Every step that edits spans is a property of the annotation scheme: applied to the corpus's
# own spans it changes none (all 401 sentences; for drop_unlinked_parameters: every PK span
# heads a C_VAL and the linker finds each one's value).
GOLD_PRESERVING_STEPS = ("whole_words", "trim_function_words", "vocabulary_phrases",
                         "known_letters", "drop_non_parameters", "attach_ratios",
                         "attach_time_to", "drop_unlinked_parameters")


@pytest.mark.parametrize("step", GOLD_PRESERVING_STEPS)
def test_decoding_steps_leave_gold_spans(corpus_path, step) -> None:
    from pkharvest.corpus.reader import read_corpus
    from pkharvest.model import postprocess
    from pkharvest.records import Entity

    func = getattr(postprocess, step)
    for ex in read_corpus(corpus_path):
        ents = [Entity(s.label, s.start, s.end, ex.text[s.start:s.end]) for s in ex.spans]
        assert func(ex.text, ents) == ents, ex.text


def test_whole_numbers_never_split_a_decimal() -> None:
    from pkharvest.model.postprocess import whole_numbers

    text = "Cmin above 1·0 mg/L, t1/2 10.5 h, AUC 1,200 and 5,6 or 7; PFS 4.6 months."
    ents = _ents(text, ("PK", "Cmin"), ("VALUE", "1"), ("VALUE", "0"), ("PK", "t1/2"),
                 ("VALUE", "5"), ("PK", "AUC"), ("VALUE", "1"), ("VALUE", "5"), ("VALUE", "4."))
    got = [(e.label, e.text) for e in whole_numbers(text, ents)]
    assert got == [("PK", "Cmin"), ("VALUE", "1·0"), ("PK", "t1/2"), ("VALUE", "10.5"),
                   ("PK", "AUC"), ("VALUE", "1,200"), ("VALUE", "5"), ("VALUE", "4.6")]


def test_trim_function_words_off_parameter_edges() -> None:
    from pkharvest.model.postprocess import trim_function_words

    text = "the peak concentration at 9 h; the of; mean residence time (MRT) was 4 h"
    ents = _ents(text, ("PK", "the peak concentration at"), ("PK", "the of"),
                 ("PK", "mean residence time (MRT) was"), ("VALUE", "4"))
    got = [(e.label, e.text) for e in trim_function_words(text, ents)]
    assert got == [("PK", "peak concentration"), ("PK", "mean residence time (MRT)"),
                   ("VALUE", "4")]


def test_whole_words_extends_parameters_to_word_edges() -> None:
    from pkharvest.model.postprocess import whole_words

    text = "elimination half-lives of 4 h, AUC0–24 of 3, x-Cmax, and life-span 2-3"
    ents = _ents(text, ("PK", "elimination half-"), ("VALUE", "4"), ("PK", "AUC0"),
                 ("PK", "Cmax"), ("PK", "span"), ("RANGE", "2-3"))
    got = [(e.label, e.text) for e in whole_words(text, ents)]
    assert got == [("PK", "elimination half-lives"), ("VALUE", "4"), ("PK", "AUC0–24"),
                   ("PK", "x-Cmax"), ("PK", "life-span"), ("RANGE", "2-3")]
    # an extension that would run into another entity is not made
    text = "AUC0-24"
    ents = _ents(text, ("PK", "AUC0"), ("VALUE", "24"))
    assert whole_words(text, ents) == ents


def test_vocabulary_phrases_grow_parameters_to_a_vocabulary_spelling() -> None:
    from pkharvest.model.postprocess import vocabulary_phrases

    text = ("The time to peak concentration was 2 h, the AUC(0-∞) 5 mg·h/L, the mean "
            "half-life 3 h and the mean residence time 4 h.")
    ents = _ents(text, ("PK", "peak concentration"), ("VALUE", "2"), ("PK", "AUC"),
                 ("PK", "half-life"), ("PK", "residence time"))
    got = [e.text for e in vocabulary_phrases(text, ents)]
    assert got == ["time to peak concentration", "2", "AUC(0-∞)", "half-life",
                   "mean residence time"]
    # a spelling that would take in another entity is not used
    text = "the time to peak concentration"
    ents = _ents(text, ("PK", "time"), ("PK", "peak concentration"))
    assert vocabulary_phrases(text, ents) == ents


def test_known_letters_drops_stray_one_letter_parameters() -> None:
    from pkharvest.model.postprocess import known_letters

    text = "where t = 72, Q was 3 L/h and F 0.8; 1-U for 2.5"
    ents = _ents(text, ("PK", "t"), ("VALUE", "72"), ("PK", "Q"), ("PK", "F"), ("PK", "U"),
                 ("VALUE", "2.5"))
    assert [e.text for e in known_letters(text, ents)] == ["72", "Q", "F", "2.5"]


def test_drop_non_parameters_drops_mutations_statistics_and_unknown_words() -> None:
    from pkharvest.model.postprocess import drop_non_parameters

    text = ("Mutations: L10I/V (35.7%), A71T/V (35.7%), V82A (42.9%), (N88D). Mean (SD) Cmax was "
            "15 (2) ng/mL, a significant clearance of 4 L/h; the total half-lives 3 h, max 7.")
    ents = _ents(text, ("PK", "L10I/V"), ("VALUE", "35.7"), ("PK", "T/V"), ("PK", "V82A"),
                 ("PK", "N88D"), ("PK", "(SD)"), ("PK", "Cmax"), ("VALUE", "15"),
                 ("PK", "significant"), ("PK", "clearance"), ("PK", "total"), ("PK", "half-lives"),
                 ("PK", "max"))
    got = [e.text for e in drop_non_parameters(text, ents)]
    assert got == ["35.7", "Cmax", "15", "clearance", "half-lives", "max"]
    # statistics written out, in either case; a fuzzy vocabulary word stays
    text = "Standard deviation 2, standard error of the mean 1, the clearence 3, CI 1-2"
    ents = _ents(text, ("PK", "Standard deviation"), ("PK", "standard error of the mean"),
                 ("PK", "clearence"), ("PK", "CI"))
    assert [e.text for e in drop_non_parameters(text, ents)] == ["clearence"]


def test_attach_ratios_makes_the_ratio_the_parameter() -> None:
    from pkharvest.model.postprocess import attach_ratios

    text = "The AUCINR ratio was 1.04, Cmax ratios 0.9 and the AUC rationale 2; Cmax 5 ratio"
    ents = _ents(text, ("PK", "AUCINR"), ("VALUE", "1.04"), ("PK", "Cmax"), ("PK", "ratios"),
                 ("VALUE", "0.9"), ("PK", "AUC"), ("VALUE", "2"), ("PK", "Cmax"), ("VALUE", "5"))
    got = [(e.label, e.text) for e in attach_ratios(text, ents)]
    assert got == [("PK", "AUCINR ratio"), ("VALUE", "1.04"), ("PK", "Cmax ratios"),
                   ("VALUE", "0.9"), ("PK", "AUC"), ("VALUE", "2"), ("PK", "Cmax"),
                   ("VALUE", "5")]


def test_attach_time_to_keeps_a_time_apart_from_its_concentration() -> None:
    from pkharvest.model.postprocess import attach_time_to

    text = ("The time to maximum plasma concentration (Tmax) was 15 min, the Time to reach the "
            "peak 2 h; the time to Cmax 3 h; a lifetime to Cmax 4")
    ents = _ents(text, ("PK", "maximum plasma concentration (Tmax)"), ("VALUE", "15"),
                 ("PK", "peak"), ("VALUE", "2"), ("PK", "to"), ("PK", "Cmax"), ("PK", "Cmax"))
    got = [e.text for e in attach_time_to(text, ents)]
    assert got == ["time to maximum plasma concentration (Tmax)", "15",
                   "Time to reach the peak", "2", "to", "Cmax", "Cmax"]


def test_tagger_runs_the_unlinked_steps_as_configured() -> None:
    """Entities = the documented steps applied to the decoded spans: both ``drop_unlinked_*``
    steps with the folder's settings by default, none with ``drop_unlinked=False``."""
    from pkharvest.model.config import ModelConfig
    from pkharvest.model.postprocess import POSTPROCESS_STEPS, postprocess
    from pkharvest.model.tagger import PKTagger

    torch.manual_seed(10)  # untrained heads whose noise includes parameters with values
    tagger = PKTagger.create(ModelConfig(labels=("PK", "VALUE", "UNITS", "RANGE", "COMPARE")))
    texts = ["Vancomycin clearance was 4.2 L/h and the volume of distribution was 52 L.",
             "Cmax ranged from 20 to 35 mg/L after a 1 g dose; the total AUC in plasma rose."]
    labels = tagger.config.labels
    keep = [s for s in POSTPROCESS_STEPS if not s.startswith("drop_unlinked")]

    def check(expected_steps: list[str], **kw) -> list:
        preds = tagger.predict_detailed(texts, **kw)
        for t, p in zip(texts, preds, strict=True):
            assert p.entities == postprocess(t, p.decoded, labels, expected_steps)
        return [e for p in preds for e in p.entities]

    everything = check(keep, drop_unlinked=False)
    default = check(list(POSTPROCESS_STEPS))
    assert check(list(POSTPROCESS_STEPS), drop_unlinked=True) == default
    assert len(default) < len(everything)  # this noise has something to drop
    tagger.config.drop_unlinked_parameters = False
    check([*keep, "drop_unlinked_units"])
    tagger.config.drop_unlinked_units = False
    check(keep)
