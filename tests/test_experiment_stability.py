"""Seed-variance tests, paired variance ratios and paired differences to the single-task
baseline, on constructed data whose answers are known or computed independently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.weightstats import DescrStatsW

from pkharvest.experiment.statistics import (
    paired_differences,
    seed_variance_tests,
    variance_ratios,
)


def _grid(n_seeds: int = 10, seed: int = 0) -> pd.DataFrame:
    """Configurations none / fixed / uncertainty at fractions 0.05 and 1 over matched seeds.
    At 0.05, `none` has 8x the seed sd of the others and `uncertainty` is 0.15 better than
    `none`; at 1 all have the same sd and mean."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_seeds):
        for fraction in (0.05, 1.0):
            for config in ("none", "fixed", "uncertainty"):
                sd = 0.08 if (fraction == 0.05 and config == "none") else 0.01
                mean = 0.4 if fraction == 0.05 else 0.8
                if fraction == 0.05 and config == "uncertainty":
                    mean += 0.15
                rows.append({"seed": s, "fraction": fraction, "configuration": config,
                             "value": mean + rng.normal(0, sd)})
    return pd.DataFrame(rows)


def _levene_by_hand(groups: list[np.ndarray], center: str) -> float:
    """W = (N−k)/(k−1) · Σ n_i (Z̄_i − Z̄)² / ΣΣ (Z_ij − Z̄_i)², Z = |Y − centre of its group|."""
    z = [np.abs(g - (np.mean(g) if center == "mean" else np.median(g))) for g in groups]
    n, k = sum(len(g) for g in z), len(z)
    grand = np.concatenate(z).mean()
    between = sum(len(g) * (g.mean() - grand) ** 2 for g in z)
    within = sum(((g - g.mean()) ** 2).sum() for g in z)
    return (n - k) / (k - 1) * between / within


def test_seed_variance_tests_match_the_formula_and_find_the_noisy_fraction() -> None:
    df = _grid(n_seeds=12)
    out = seed_variance_tests(df).set_index("fraction")
    assert list(out.index) == [0.05, 1.0] and (out["k"] == 3).all() and (out["n"] == 36).all()
    g = [df[(df.fraction == 0.05) & (df.configuration == c)]["value"].to_numpy()
         for c in ("fixed", "none", "uncertainty")]  # fmt: skip
    assert out.loc[0.05, "levene_w"] == pytest.approx(_levene_by_hand(g, "mean"))
    assert out.loc[0.05, "bf_w"] == pytest.approx(_levene_by_hand(g, "median"))
    # p from the F(k − 1, N − k) distribution
    assert out.loc[0.05, "bf_p"] == pytest.approx(sps.f.sf(out.loc[0.05, "bf_w"], 2, 33))
    assert out.loc[0.05, "levene_p"] < 0.001 and out.loc[0.05, "bf_p"] < 0.001
    assert out.loc[1.0, "bf_p"] > 0.01


def test_seed_variance_tests_without_spread_or_groups_give_nan() -> None:
    flat = pd.DataFrame({"fraction": 0.1, "configuration": ["a", "a", "b", "b", "c"],
                         "value": [0.5, 0.5, 0.5, 0.5, 0.7]})  # fmt: skip
    out = seed_variance_tests(flat).iloc[0]
    assert out["k"] == 2 and out["n"] == 4  # "c" has one value: left out
    assert np.isnan(out["levene_p"]) and np.isnan(out["bf_w"])


def test_variance_ratios_are_exact_and_pitman_morgan_matches_its_t_form() -> None:
    df = _grid(n_seeds=10)
    out = variance_ratios(df).set_index(["fraction", "configuration"])
    assert set(out.index) == {(f, c) for f in (0.05, 1.0) for c in ("fixed", "uncertainty")}
    for (fraction, config), r in out.iterrows():
        x = df[(df.fraction == fraction) & (df.configuration == config)].sort_values("seed")
        y = df[(df.fraction == fraction) & (df.configuration == "none")].sort_values("seed")
        x, y = x["value"].to_numpy(), y["value"].to_numpy()
        assert r["n"] == 10
        assert r["ratio"] == pytest.approx(np.var(x, ddof=1) / np.var(y, ddof=1))
        # Pitman–Morgan in its textbook form: t = (F − 1)√(n − 2) / √(4F(1 − r²)), F the
        # variance ratio and r the correlation of x and y
        f, rxy, n = np.var(x, ddof=1) / np.var(y, ddof=1), np.corrcoef(x, y)[0, 1], len(x)
        t = (f - 1) * np.sqrt(n - 2) / np.sqrt(4 * f * (1 - rxy**2))
        assert r["p"] == pytest.approx(2 * sps.t.sf(abs(t), n - 2))
    assert out.loc[(0.05, "uncertainty"), "ratio"] < 0.1  # sd 0.01 against 0.08
    assert out.loc[(0.05, "uncertainty"), "p"] < 0.001
    assert out.loc[(1.0, "fixed"), "p"] > 0.01


def test_pairs_use_only_the_seeds_both_configurations_ran() -> None:
    df = _grid(n_seeds=6)
    df = df[~((df.configuration == "none") & (df.seed == 5))]
    df = df[~((df.configuration == "fixed") & (df.seed == 0))]
    ratios = variance_ratios(df).set_index(["fraction", "configuration"])
    diffs = paired_differences(df).set_index(["fraction", "configuration"])
    assert ratios.loc[(0.05, "fixed"), "n"] == 4 and ratios.loc[(0.05, "uncertainty"), "n"] == 5
    assert diffs.loc[(1.0, "fixed"), "n"] == 4


def test_paired_differences_match_statsmodels_and_find_the_known_gain() -> None:
    df = _grid(n_seeds=10)
    out = paired_differences(df).set_index(["fraction", "configuration"])
    for (fraction, config), r in out.iterrows():
        x = df[(df.fraction == fraction) & (df.configuration == config)].sort_values("seed")
        y = df[(df.fraction == fraction) & (df.configuration == "none")].sort_values("seed")
        d = DescrStatsW(x["value"].to_numpy() - y["value"].to_numpy())
        low, high = d.tconfint_mean(alpha=0.05)
        assert (r["ci_low"], r["ci_high"]) == (pytest.approx(low), pytest.approx(high))
        assert r["diff"] == pytest.approx(d.mean)
        assert r["p"] == pytest.approx(d.ttest_mean(0.0)[1])
    gain = out.loc[(0.05, "uncertainty")]
    assert gain["ci_low"] > 0 and gain["ci_low"] < 0.15 < gain["ci_high"]
    assert out.loc[(1.0, "fixed"), "ci_low"] < 0 < out.loc[(1.0, "fixed"), "ci_high"]
    # Holm over the 4 rows: the smallest p times 4, the others never below it
    ps = out["p"].sort_values()
    assert out.loc[ps.index[0], "p_holm"] == pytest.approx(min(1.0, 4 * ps.iloc[0]))
    assert (out["p_holm"] >= out["p"]).all()


def test_paired_differences_without_spread_give_the_exact_difference() -> None:
    df = pd.DataFrame({"seed": [0, 1, 2, 0, 1, 2], "fraction": 0.1,
                       "configuration": ["none"] * 3 + ["fixed"] * 3,
                       "value": [0.5, 0.6, 0.7, 0.52, 0.62, 0.72]})  # fmt: skip
    r = paired_differences(df).iloc[0]
    assert r["diff"] == pytest.approx(0.02) and r["ci_low"] == r["ci_high"] == r["diff"]
    assert np.isnan(r["p"]) and np.isnan(r["p_holm"])
    assert paired_differences(df[df.configuration == "fixed"]).empty  # no baseline: no rows
