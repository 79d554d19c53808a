"""Statistics of the study on constructed data whose effects are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pkharvest.experiment.statistics import (
    ablation_deltas,
    complete_subjects,
    describe,
    pairing_anova,
    rm_anova,
)


def _design(effect: float, n_seeds: int = 8, noise: float = 0.01, seed: int = 0) -> pd.DataFrame:
    """F1 = 0.5 + fraction effect + `effect` for configuration "b" + seed offset + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_seeds):
        offset = rng.normal(0, 0.05)  # a subject effect that RM-ANOVA removes
        for config in ("a", "b"):
            for fraction in (0.1, 0.5, 1.0):
                value = 0.5 + 0.2 * fraction + (effect if config == "b" else 0.0) + offset
                rows.append(
                    {"seed": s, "configuration": config, "fraction": fraction,
                     "value": value + rng.normal(0, noise)}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_rm_anova_detects_a_known_configuration_effect() -> None:
    result = rm_anova(_design(effect=0.05), "value", "seed", ["configuration", "fraction"])
    assert result.ok
    config = result.row("configuration")
    assert config.df_num == 1 and config.df_den == 7
    assert config.p < 1e-4
    assert result.row("fraction").p < 1e-4
    assert result.row("configuration:fraction").p > 0.001
    assert 0.9 < config.partial_eta_sq <= 1.0


def test_rm_anova_finds_no_effect_where_there_is_none() -> None:
    ps = [
        rm_anova(_design(effect=0.0, seed=k), "value", "seed", ["configuration", "fraction"])
        .row("configuration")
        .p
        for k in range(20)
    ]
    # under the null, p is uniform: most runs are far from significant
    assert sum(p < 0.05 for p in ps) <= 4
    assert np.median(ps) > 0.2


def test_rm_anova_matches_a_hand_computed_one_way_design() -> None:
    # subjects x 3 conditions, hand-computed: SS_cond = 2*n*... use the textbook formula
    data = np.array([[1.0, 2.0, 4.0], [2.0, 2.5, 5.0], [0.5, 3.0, 3.5], [1.5, 1.0, 4.5]])
    n, k = data.shape
    grand = data.mean()
    ss_cond = n * ((data.mean(axis=0) - grand) ** 2).sum()
    ss_subj = k * ((data.mean(axis=1) - grand) ** 2).sum()
    ss_total = ((data - grand) ** 2).sum()
    ss_err = ss_total - ss_cond - ss_subj
    f_expected = (ss_cond / (k - 1)) / (ss_err / ((n - 1) * (k - 1)))
    df = pd.DataFrame(
        [{"s": i, "c": f"c{j}", "y": data[i, j]} for i in range(n) for j in range(k)]
    )
    row = rm_anova(df, "y", "s", ["c"]).row("c")
    assert row.f == pytest.approx(f_expected)
    assert (row.df_num, row.df_den) == (k - 1, (n - 1) * (k - 1))


def test_incomplete_subjects_are_left_out_and_said() -> None:
    df = _design(effect=0.05, n_seeds=5)
    # seed 3 lost one cell, seed 4 lost all of configuration b
    df = df[~((df.seed == 3) & (df.configuration == "a") & (df.fraction == 0.1))]
    df = df[~((df.seed == 4) & (df.configuration == "b"))]
    kept_rows, kept, dropped = complete_subjects(df, "seed", ["configuration", "fraction"])
    assert kept == [0, 1, 2] and dropped == [3, 4]
    assert len(kept_rows) == 3 * 6
    result = rm_anova(df, "value", "seed", ["configuration", "fraction"])
    assert result.subjects_used == [0, 1, 2]
    assert any("complete seed" in n and "3, 4" in n for n in result.notes)
    assert result.row("configuration").df_den == 2


def test_too_few_subjects_or_levels_give_no_table_and_a_reason() -> None:
    df = _design(effect=0.05, n_seeds=1)
    result = rm_anova(df, "value", "seed", ["configuration", "fraction"])
    assert not result.ok
    assert any("fewer than two" in n for n in result.notes)
    single = _design(effect=0.05, n_seeds=4)
    single = single[single.fraction == 0.5]
    result = rm_anova(single, "value", "seed", ["configuration", "fraction"])
    assert result.ok and result.within == ("configuration",)
    assert any("'fraction' has a single level" in n for n in result.notes)


def test_describe_gives_seed_spread() -> None:
    df = pd.DataFrame({"g": ["x", "x", "x", "y"], "value": [1.0, 2.0, 3.0, 5.0]})
    out = describe(df, ["g"]).set_index("g")
    assert out.loc["x", "mean"] == 2.0 and out.loc["x", "sd"] == 1.0 and out.loc["x", "n"] == 3
    assert out.loc["x", "var"] == 1.0 and np.isnan(out.loc["y", "sd"])


def test_ablation_deltas_pair_runs_by_seed_and_fraction() -> None:
    rows = []
    for seed in range(4):
        for fraction in (0.5, 1.0):
            base = 0.6 + 0.01 * seed
            common = {"view": "pk", "fraction": fraction, "weighting": "fixed", "seed": seed}
            rows.append({**common, "ablated": False, "configuration": "fixed",
                         "heads": "ner+mtcls+bcls+mcls", "value": base})
            rows.append({**common, "ablated": True, "configuration": "fixed-no_mcls",
                         "heads": "ner+mtcls+bcls", "value": base - 0.02 - 0.001 * seed})
    out = ablation_deltas(pd.DataFrame(rows))  # fmt: skip
    assert len(out) == 1
    r = out.iloc[0]
    assert r["removed"] == "mcls" and r["n"] == 8
    assert r["delta_mean"] == pytest.approx(-0.02 - 0.0015)
    assert r["p"] < 0.001


def test_pairing_anova_sees_a_pair_that_conflicts() -> None:
    rng = np.random.default_rng(1)
    rows = []
    pairs = [("ner", "mtcls", 0.6), ("ner", "bcls", 0.1), ("bcls", "mcls", -0.2)]
    for run in range(6):
        for a, b, mu in pairs:
            rows.append({"run_key": f"r{run}", "ablated": False, "task_a": a, "task_b": b,
                         "cosine": mu + rng.normal(0, 0.05)})
    rows.append({"run_key": "abl", "ablated": True, "task_a": "ner", "task_b": "bcls",
                 "cosine": 0.9})
    result = pairing_anova(pd.DataFrame(rows))  # fmt: skip
    assert result.ok and result.subjects_used == [f"r{i}" for i in range(6)]
    assert result.row("pair").p < 1e-4 and result.row("pair").df_num == 2


def test_identical_scores_give_an_undefined_f_and_a_note() -> None:
    df = _design(effect=0.0, n_seeds=3)
    df["value"] = 0.0
    result = rm_anova(df, "value", "seed", ["configuration", "fraction"])
    assert result.ok and np.isnan(result.row("configuration").f)
    assert any("F is undefined" in n for n in result.notes)


def _heteroscedastic_design() -> pd.DataFrame:
    """3 configurations x 4 fractions x 7 seeds; configuration "b" gets noisier with the
    fraction, so the sphericity assumption does not hold."""
    rng = np.random.default_rng(3)
    rows = []
    for s in range(7):
        offset = rng.normal(0, 0.05)
        for config in ("a", "b", "c"):
            for fraction in (0.025, 0.1, 0.5, 1.0):
                sd = 0.01 + 0.05 * fraction * (config == "b")
                rows.append({"seed": s, "configuration": config, "fraction": str(fraction),
                             "value": 0.5 + 0.2 * fraction + offset + rng.normal(0, sd)})
    return pd.DataFrame(rows)


def test_greenhouse_geisser_matches_an_independent_implementation() -> None:
    # reference: pingouin 0.7.0 rm_anova(..., correction=True) on this very design, computed
    # once in a separate environment (pingouin is not a dependency of pkharvest)
    df = _heteroscedastic_design()
    result = rm_anova(df, "value", "seed", ["configuration", "fraction"])
    expected = {
        "configuration": (0.599767, 9.368932e-01),
        "fraction": (0.525354, 5.377905e-09),
        "configuration:fraction": (0.335327, 4.407755e-01),
    }
    for source, (eps, p_gg) in expected.items():
        row = result.row(source)
        assert row.eps_gg == pytest.approx(eps, abs=1e-6)
        assert row.p_gg == pytest.approx(p_gg, rel=1e-5)
        if row.f > 1:  # fewer degrees of freedom: a larger F is needed for the same p
            assert row.p_gg > row.p
    one_way = rm_anova(df[df.configuration == "a"], "value", "seed", ["fraction"]).row("fraction")
    assert one_way.eps_gg == pytest.approx(0.689973, abs=1e-6)
    assert one_way.p_gg == pytest.approx(1.157021e-12, rel=1e-5)


def test_greenhouse_geisser_is_one_for_two_levels_and_bounded_otherwise() -> None:
    result = rm_anova(_design(effect=0.05), "value", "seed", ["configuration", "fraction"])
    config = result.row("configuration")  # two levels: sphericity holds trivially
    assert config.eps_gg == 1.0 and config.p_gg == pytest.approx(config.p)
    for source in ("fraction", "configuration:fraction"):
        row = result.row(source)
        assert 1 / row.df_num <= row.eps_gg <= 1.0
