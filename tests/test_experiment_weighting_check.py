"""The weighting check's figures from training histories with known numbers (no training)."""

from __future__ import annotations

import math

import pytest

from pkharvest.experiment.weighting_check import (
    WeightingFigures,
    history_figures,
    initial_weights,
    learned_tasks,
    loss_shares,
    sentence_share,
)


def test_loss_shares_weigh_each_task_loss() -> None:
    out = loss_shares({"ner": 2.0, "mtcls": 1.0, "bcls": 1.0, "mcls": 4.0},
                      {"ner": 1.0, "mtcls": 0.3, "bcls": 0.1, "mcls": 0.1})  # fmt: skip
    # 2 + 0.3 + 0.1 + 0.4 = 2.8
    assert out == pytest.approx({"ner": 2 / 2.8, "mtcls": 0.3 / 2.8, "bcls": 0.1 / 2.8,
                                 "mcls": 0.4 / 2.8})  # fmt: skip
    assert sentence_share(out) == pytest.approx(0.5 / 2.8)
    assert all(math.isnan(v) for v in loss_shares({"ner": 0.0}, {"ner": 1.0}).values())


def test_initial_weights_and_learned_tasks_follow_the_schemes() -> None:
    assert initial_weights("fixed") == {"ner": 1.0, "mtcls": 0.3, "bcls": 0.1, "mcls": 0.1}
    assert initial_weights("uncertainty") == pytest.approx(dict.fromkeys(
        ("ner", "mtcls", "bcls", "mcls"), 1.0))  # fmt: skip
    hybrid = initial_weights("hybrid")
    assert hybrid["ner"] == 1.0 and hybrid["bcls"] == pytest.approx(0.25)
    assert learned_tasks("uncertainty") == ("ner", "mtcls", "bcls", "mcls")
    assert learned_tasks("hybrid") == ("mtcls", "bcls", "mcls")
    assert learned_tasks("fixed") == learned_tasks("none") == ()


def test_history_gives_log_variances_their_change_and_the_verdict() -> None:
    tasks = ("ner", "mtcls", "bcls", "mcls")
    history = [
        {"epoch": 1, "step": 2, "task_losses": dict.fromkeys(tasks, 1.0),
         "weights": dict.fromkeys(tasks, 1.0)},
        # s_bcls = s_mcls = -log 3 (weight 3); losses equal: the sentence tasks hold 6 of 8
        {"epoch": 2, "step": 4, "task_losses": dict.fromkeys(tasks, 0.5),
         "weights": {"ner": 1.0, "mtcls": 1.0, "bcls": 3.0, "mcls": 3.0}},
    ]  # fmt: skip
    epochs = history_figures(history, "uncertainty")
    assert [e.epoch for e in epochs] == [1, 2]
    assert epochs[1].log_vars["bcls"] == pytest.approx(-math.log(3.0))
    assert epochs[1].sentence_share == pytest.approx(6 / 8)
    fig = WeightingFigures(weighting="uncertainty", n_train=7, steps=4, wall_time_s=1.0,
                           dev_f1=None, epochs=epochs,
                           initial_weights=initial_weights("uncertainty"))  # fmt: skip
    assert fig.log_var_change == pytest.approx(
        {"ner": 0.0, "mtcls": 0.0, "bcls": -math.log(3.0), "mcls": -math.log(3.0)})
    assert fig.dominated
    fixed = history_figures([{**history[0], "weights": initial_weights("fixed")}], "fixed")
    assert fixed[0].log_vars == {} and fixed[0].sentence_share == pytest.approx(0.2 / 1.5)
    assert not WeightingFigures("fixed", 7, 2, 1.0, None, fixed,
                                initial_weights("fixed")).dominated  # fmt: skip
