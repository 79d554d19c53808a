"""Statistics of a study, computed from stored runs only: seed summaries, repeated-measures
ANOVA (statsmodels ``AnovaRM``, with the Greenhouse–Geisser sphericity correction), ablation
deltas and the task-pairing ANOVA."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg
from scipy import stats as sps
from statsmodels.stats.anova import AnovaRM
from statsmodels.stats.weightstats import DescrStatsW

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnovaRow:
    source: str
    f: float
    df_num: float
    df_den: float
    p: float
    eps_gg: float = 1.0
    """Greenhouse–Geisser epsilon (1 for an effect with one degree of freedom)."""

    @property
    def p_gg(self) -> float:
        """p with both degrees of freedom multiplied by ``eps_gg`` (NaN where F is)."""
        if not np.isfinite(self.f):
            return float("nan")
        return float(sps.f.sf(self.f, self.eps_gg * self.df_num, self.eps_gg * self.df_den))

    @property
    def partial_eta_sq(self) -> float:
        """Partial eta squared from F and its degrees of freedom."""
        num = self.f * self.df_num
        return float(num / (num + self.df_den)) if np.isfinite(num) else float("nan")


@dataclass
class AnovaResult:
    """A repeated-measures ANOVA, with what was left out to make the design balanced."""

    depvar: str
    subject: str
    within: tuple[str, ...]
    rows: list[AnovaRow] = field(default_factory=list)
    subjects_used: list = field(default_factory=list)
    subjects_dropped: list = field(default_factory=list)
    levels: dict[str, list] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.rows)

    def row(self, source: str) -> AnovaRow:
        for r in self.rows:
            if r.source == source:
                return r
        raise KeyError(source)


def complete_subjects(
    data: pd.DataFrame, subject: str, within: Sequence[str]
) -> tuple[pd.DataFrame, list, list]:
    """Keep the subjects that have exactly one observation in every cell of the within-factors'
    full crossing (over the levels present in ``data``). Returns (kept rows, kept, dropped)."""
    levels = [sorted(data[w].unique()) for w in within]
    n_cells = int(np.prod([len(lv) for lv in levels])) if levels else 1
    counts = data.groupby([subject, *within]).size()
    per_subject = counts.groupby(level=0).agg(["size", "max"])
    good = per_subject[(per_subject["size"] == n_cells) & (per_subject["max"] == 1)].index
    kept = sorted(good.tolist())
    dropped = sorted(set(data[subject].unique()) - set(kept))
    return data[data[subject].isin(kept)], kept, dropped


def rm_anova(
    data: pd.DataFrame, depvar: str, subject: str, within: Sequence[str]
) -> AnovaResult:
    """Repeated-measures ANOVA of ``depvar`` with ``subject`` as the repeated unit.

    Rows with a missing ``depvar`` are left out, then the design is restricted to complete
    subjects (AnovaRM needs a balanced design); a within-factor with a single level is dropped.
    Every such step is written to ``notes``. With fewer than two complete subjects, or no
    factor left, ``rows`` stays empty and ``notes`` says why.
    """
    result = AnovaResult(depvar=depvar, subject=subject, within=tuple(within))
    df = data[[subject, *within, depvar]].copy()
    missing = int(df[depvar].isna().sum())
    if missing:
        df = df[df[depvar].notna()]
        result.notes.append(f"{missing} observation(s) without a value were left out")
    factors = [w for w in within if df[w].nunique() > 1]
    for w in within:
        if w not in factors:
            result.notes.append(f"factor {w!r} has a single level here and was left out")
    if not factors:
        result.notes.append("no factor with two or more levels: no ANOVA")
        return result
    df, kept, dropped = complete_subjects(df, subject, factors)
    result.subjects_used, result.subjects_dropped = kept, dropped
    result.within = tuple(factors)
    result.levels = {w: sorted(df[w].unique().tolist()) for w in factors}
    if dropped:
        result.notes.append(
            f"restricted to the {len(kept)} complete {subject}(s); left out {len(dropped)} "
            f"with missing cells: {', '.join(map(str, dropped))}"
        )
    if len(kept) < 2:
        result.notes.append(f"fewer than two complete {subject}s: no ANOVA")
        return result
    df = df.copy()
    for w in factors:  # AnovaRM sorts levels; plain strings keep float levels exact
        df[w] = df[w].astype(str)
    with warnings.catch_warnings():
        # a zero error term (e.g. identical scores) divides by zero: F is NaN, said below
        warnings.simplefilter("ignore", RuntimeWarning)
        table = AnovaRM(df, depvar=depvar, subject=subject, within=list(factors)).fit().anova_table
    for source, r in table.iterrows():
        result.rows.append(
            AnovaRow(
                source=str(source),
                f=float(r["F Value"]),
                df_num=float(r["Num DF"]),
                df_den=float(r["Den DF"]),
                p=float(r["Pr > F"]),
                eps_gg=greenhouse_geisser(df, depvar, subject, factors, str(source).split(":")),
            )
        )
    undefined = [r.source for r in result.rows if not np.isfinite(r.f)]
    if undefined:
        result.notes.append(
            f"F is undefined for {', '.join(undefined)}: no variance left in the error term "
            "(e.g. identical scores)"
        )
    return result


def greenhouse_geisser(
    data: pd.DataFrame, depvar: str, subject: str, factors: Sequence[str],
    effect: Sequence[str],
) -> float:
    """Greenhouse–Geisser epsilon of the within-subject ``effect`` (a factor, or the factors of
    an interaction) in a balanced design of ``factors``.

    Written here because statsmodels' ``AnovaRM`` gives uncorrected F tests only and pingouin,
    which has the correction, would bring seaborn and xarray for one formula. The textbook
    estimate (Greenhouse & Geisser 1959; as in pingouin and SPSS): project every subject's cell
    scores on orthonormal contrasts of the effect (Helmert-like contrasts of the effect's
    factors, averaged over the other factors, Kronecker-combined), take their covariance ``S``
    (p × p) and ε = tr(S)² / (p · tr(S²)), which lies in [1/p, 1]; 1 when p = 1.
    """
    wide = data.pivot_table(index=subject, columns=list(factors), values=depvar,
                            aggfunc="mean", observed=True).sort_index(axis=1)
    contrast = np.ones((1, 1))
    for w in factors:  # column order of ``wide``: the first factor varies slowest
        k = data[w].nunique()
        part = (linalg.null_space(np.ones((1, k))) if w in effect
                else np.full((k, 1), 1.0 / np.sqrt(k)))
        contrast = np.kron(contrast, part)
    p = contrast.shape[1]
    if p == 1:
        return 1.0
    cov = np.cov(wide.to_numpy() @ contrast, rowvar=False, ddof=1)
    denominator = p * np.trace(cov @ cov)
    if denominator == 0:  # no variance at all: F is undefined anyway
        return 1.0
    return float(min(1.0, max(1.0 / p, np.trace(cov) ** 2 / denominator)))


def describe(data: pd.DataFrame, by: Sequence[str], value: str = "value") -> pd.DataFrame:
    """Mean, sample standard deviation (ddof=1), variance, min, max and n of ``value`` per
    group: the seed spread of each configuration and fraction."""
    grouped = data.groupby(list(by))[value]
    out = grouped.agg(["mean", "std", "var", "min", "max", "count"]).reset_index()
    return out.rename(columns={"std": "sd", "count": "n"})


def ablation_deltas(data: pd.DataFrame, value: str = "value") -> pd.DataFrame:
    """Pair each ablated run with the full-heads run of the same view, fraction, weighting and
    seed, and summarise ``ablated - full`` per view, weighting and removed heads: mean of each,
    mean and sd of the difference, n pairs, and a paired t-test p (NaN below two pairs)."""
    keys = ["view", "fraction", "weighting", "seed"]
    full = data[~data["ablated"]][[*keys, value]].rename(columns={value: "full"})
    abl = data[data["ablated"]][[*keys, "configuration", "heads", value]]
    abl = abl.rename(columns={value: "ablated_value"})
    pairs = abl.merge(full, on=keys, how="inner")
    pairs["delta"] = pairs["ablated_value"] - pairs["full"]
    pairs["removed"] = pairs["configuration"].str.split("-no_").str[1:].str.join("+")
    rows = []
    for (view, weighting, removed), g in pairs.groupby(["view", "weighting", "removed"]):
        ok = g[["full", "ablated_value"]].dropna()
        p = float("nan")
        if len(ok) >= 2 and not np.allclose(ok["ablated_value"] - ok["full"], 0):
            # a paired t-test is a one-sample t-test of the differences against 0
            p = float(DescrStatsW(ok["ablated_value"] - ok["full"]).ttest_mean(0.0)[1])
        rows.append(
            {
                "view": view,
                "weighting": weighting,
                "removed": removed,
                "full_mean": g["full"].mean(),
                "ablated_mean": g["ablated_value"].mean(),
                "delta_mean": g["delta"].mean(),
                "delta_sd": g["delta"].std(),
                "n": len(g),
                "p": p,
            }
        )
    columns = ["view", "weighting", "removed", "full_mean", "ablated_mean", "delta_mean",
               "delta_sd", "n", "p"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def pairing_anova(similarities: pd.DataFrame) -> AnovaResult:
    """Does the task pair matter? A repeated-measures ANOVA of the gradient cosine with the run
    as subject and the task pair as within-factor, over runs that trained all heads (an
    ablated run has fewer pairs)."""
    df = similarities[~similarities["ablated"]].copy()
    df["pair"] = df["task_a"] + "–" + df["task_b"]
    return rm_anova(df, depvar="cosine", subject="run_key", within=["pair"])


# -- seed stability and paired differences to the single-task baseline -------------------------
def seed_variance_tests(
    data: pd.DataFrame, value: str = "value", by: str = "fraction",
    group: str = "configuration",
) -> pd.DataFrame:
    """Per level of ``by`` (the training fraction), do the seed spreads of the ``group``\\ s
    (configurations) differ? Levene's test (deviations from the group mean) and the
    Brown–Forsythe variant (deviations from the group median, robust to skewed scores), both
    ``scipy.stats.levene``. Groups with fewer than two values are left out; with fewer than two
    groups left, or no spread at all, the statistics are NaN.

    The seeds are matched across configurations, so the groups are not independent samples as
    both tests assume: read their p-values as a screen; the paired variance ratios of
    :func:`variance_ratios` test each configuration against the single-task baseline with the
    pairing taken into account."""
    rows = []
    for level, g in data.dropna(subset=[value]).groupby(by):
        samples = {k: s[value].to_numpy(float) for k, s in g.groupby(group) if len(s) >= 2}
        lev = bf = (float("nan"), float("nan"))
        if len(samples) >= 2 and any(np.ptp(v) > 0 for v in samples.values()):
            with warnings.catch_warnings():  # a group without spread: scipy warns, we say NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                lev = tuple(map(float, sps.levene(*samples.values(), center="mean")))
                bf = tuple(map(float, sps.levene(*samples.values(), center="median")))
        n = sum(len(v) for v in samples.values())
        rows.append({by: level, "k": len(samples), "n": n,
                     "levene_w": lev[0], "levene_p": lev[1], "bf_w": bf[0], "bf_p": bf[1]})
    return pd.DataFrame(rows, columns=[by, "k", "n", "levene_w", "levene_p", "bf_w", "bf_p"])


def _paired(
    data: pd.DataFrame, reference: str, value: str, by: str, group: str, subject: str
) -> list[tuple[object, str, pd.DataFrame]]:
    """(level of ``by``, configuration, frame of matched ``x`` = configuration, ``y`` =
    reference per subject) for every configuration other than ``reference``."""
    out = []
    df = data.dropna(subset=[value])
    for level, g in df.groupby(by):
        ref = g[g[group] == reference][[subject, value]].rename(columns={value: "y"})
        if ref.empty:
            continue
        for config, c in g[g[group] != reference].groupby(group):
            pairs = c[[subject, value]].rename(columns={value: "x"}).merge(ref, on=subject)
            out.append((level, str(config), pairs))
    return out


def variance_ratios(
    data: pd.DataFrame, reference: str = "none", value: str = "value", by: str = "fraction",
    group: str = "configuration", subject: str = "seed",
) -> pd.DataFrame:
    """Seed variance of each configuration over that of ``reference`` (the single-task
    baseline) per fraction, over the seeds both ran (matched pairs): ``ratio`` = s²_config /
    s²_reference (< 1: the configuration is more stable across seeds), with the Pitman–Morgan
    test of equal variances for paired samples (Pitman 1939, Morgan 1939): var(x) = var(y)
    exactly when x + y and x − y are uncorrelated, so p is the p-value of Pearson's r between
    them (``scipy.stats.pearsonr``, t with n − 2 degrees of freedom). Written here because
    neither scipy nor statsmodels has the paired test; an F-test would treat the matched seeds
    as independent. NaN below three pairs, or where a variance is zero."""
    rows = []
    for level, config, p in _paired(data, reference, value, by, group, subject):
        n = len(p)
        var_x = float(p["x"].var(ddof=1)) if n >= 2 else float("nan")
        var_y = float(p["y"].var(ddof=1)) if n >= 2 else float("nan")
        ratio = var_x / var_y if n >= 2 and var_y > 0 else float("nan")
        pm = float("nan")
        s, d = p["x"] + p["y"], p["x"] - p["y"]
        if n >= 3 and np.ptp(s) > 0 and np.ptp(d) > 0:
            pm = float(sps.pearsonr(s, d).pvalue)
        rows.append({by: level, group: config, "n": n, "var": var_x, "var_ref": var_y,
                     "sd": float(np.sqrt(var_x)), "sd_ref": float(np.sqrt(var_y)),
                     "ratio": ratio, "p": pm})
    columns = [by, group, "n", "var", "var_ref", "sd", "sd_ref", "ratio", "p"]
    return pd.DataFrame(rows, columns=columns)


def paired_differences(
    data: pd.DataFrame, reference: str = "none", value: str = "value", by: str = "fraction",
    group: str = "configuration", subject: str = "seed", confidence: float = 0.95,
) -> pd.DataFrame:
    """Each configuration minus ``reference`` (the single-task baseline) per fraction, paired
    over matched seeds: n pairs, mean and sd of the differences, the t confidence interval of
    the mean difference (``scipy.stats.ttest_rel``), the paired t-test p, and that p
    Holm-adjusted over all the table's rows (``statsmodels`` ``multipletests``: every
    configuration at every fraction is one comparison). NaN where there are fewer than two
    pairs; where every difference is the same, the interval is that value and p is NaN."""
    from statsmodels.stats.multitest import multipletests

    rows = []
    for level, config, p in _paired(data, reference, value, by, group, subject):
        d = (p["x"] - p["y"]).to_numpy(float)
        n = len(d)
        mean = float(d.mean()) if n else float("nan")
        sd = float(d.std(ddof=1)) if n >= 2 else float("nan")
        low = high = pval = float("nan")
        if n >= 2 and np.ptp(d) > 0:
            test = sps.ttest_rel(p["x"], p["y"])
            ci = test.confidence_interval(confidence)
            low, high, pval = float(ci.low), float(ci.high), float(test.pvalue)
        elif n >= 2:  # no spread: the difference is known exactly, a test says nothing
            low = high = mean
        rows.append({by: level, group: config, "n": n, "mean_ref": float(p["y"].mean()),
                     "mean": float(p["x"].mean()), "diff": mean, "diff_sd": sd,
                     "ci_low": low, "ci_high": high, "p": pval})
    columns = [by, group, "n", "mean_ref", "mean", "diff", "diff_sd", "ci_low", "ci_high", "p"]
    out = pd.DataFrame(rows, columns=columns)
    out["p_holm"] = float("nan")
    tested = out["p"].notna()
    if tested.any():
        out.loc[tested, "p_holm"] = multipletests(out.loc[tested, "p"], method="holm")[1]
    return out
