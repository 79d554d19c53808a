"""``experiment report``: report.md and PNG figures of a study, from its run store only."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pkharvest.errors import UsageError
from pkharvest.experiment.grid import HEADS, SINGLE_TASK_WEIGHTING
from pkharvest.experiment.runstore import RUNS_FILE, RunStore
from pkharvest.experiment.statistics import (
    AnovaResult,
    ablation_deltas,
    describe,
    paired_differences,
    pairing_anova,
    rm_anova,
    seed_variance_tests,
    variance_ratios,
)

log = logging.getLogger(__name__)

REPORT_FILE = "report.md"
DEFAULT_METRIC = "ner.strict.micro.f1"


@dataclass
class Report:
    """What :func:`write_report` wrote."""

    path: Path
    figures: list[Path] = field(default_factory=list)
    n_runs: int = 0
    anovas: dict[str, AnovaResult] = field(default_factory=dict)
    stability: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    """Per view: ``variance_tests``, ``variance_ratios`` and ``paired_differences`` tables."""


def write_report(
    folder: Path, metric: str = DEFAULT_METRIC, out_dir: Path | None = None
) -> Report:
    """Write ``report.md`` and its figures into ``out_dir`` (default: the experiment folder)
    from the runs stored in ``folder/runs.duckdb``."""
    folder = Path(folder)
    if not (folder / RUNS_FILE).exists():
        raise UsageError(f"no {RUNS_FILE} in {folder}: run `pkharvest experiment run` first")
    store = RunStore(folder, create=False)
    out_dir = Path(out_dir) if out_dir else folder
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = store.runs()
    if runs.empty:
        raise UsageError(f"{folder / RUNS_FILE} holds no finished run yet")
    known = store.metrics()
    if metric not in known:
        raise UsageError(
            f"no stored test score named {metric!r} (stored: {', '.join(known[:12])}…)",
            field="metric",
        )
    scores = store.scores(metric=metric)
    all_scores = store.scores()
    sims = store.similarities()
    report = Report(path=out_dir / REPORT_FILE, n_runs=len(runs))

    md: list[str] = ["# Low-resource study: report", ""]
    md += _overview(folder, runs, store.settings(), metric)
    for view in sorted(runs["view"].unique()):
        md += [f"## View `{view}`", ""]
        vs = scores[scores["view"] == view]
        main = vs[~vs["ablated"]]
        md += _main_section(view, main, metric, out_dir, report)
        md += _anova_section(view, main, metric, report)
        md += _stability_section(view, main, metric, out_dir, report)
        md += _stopping_section(runs[(runs["view"] == view) & ~runs["ablated"]])
        md += _task_section(all_scores[(all_scores["view"] == view) & ~all_scores["ablated"]])
        md += _ablation_section(vs, metric)
        md += _similarity_section(view, sims[sims["view"] == view], out_dir, report)
    report.path.write_text("\n".join(md) + "\n", encoding="utf-8")
    log.info("wrote %s and %d figure(s)", report.path, len(report.figures))
    return report


# -- sections ----------------------------------------------------------------------------------
def _overview(folder: Path, runs: pd.DataFrame, settings: dict, metric: str) -> list[str]:
    full = runs[~runs["ablated"]]
    lines = [
        f"All numbers below are computed from the {len(runs)} finished run(s) stored in "
        f"`{RUNS_FILE}` of this folder; nothing else is read. Main score: test `{metric}`.",
        "",
        f"- views: {', '.join(sorted(runs['view'].unique()))}",
        f"- training fractions: {', '.join(_frac(f) for f in sorted(runs['fraction'].unique()))}",
        f"- configurations: {', '.join(sorted(full['configuration'].unique()))}",
        f"- ablation runs: {int(runs['ablated'].sum())}",
        f"- seeds: {', '.join(str(s) for s in sorted(runs['seed'].unique()))}",
        f"- total training time: {runs['wall_time_s'].sum() / 60:.1f} min",
    ]
    matched = _matched_subsets(runs)
    lines.append(f"- matched seeds: {matched}")
    if settings:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
        lines.append(f"- settings: {shown}")
    return [*lines, ""]


def _matched_subsets(runs: pd.DataFrame) -> str:
    """Check from the stored hashes that each (view, seed, fraction) saw one training subset and
    each (view, seed) one dev and one test set."""
    n_train = runs.groupby(["view", "seed", "fraction"])["train_hash"].nunique()
    n_eval = runs.groupby(["view", "seed"])[["dev_hash", "test_hash"]].nunique()
    bad = int((n_train > 1).sum()) + int((n_eval > 1).any(axis=1).sum())
    if bad:
        return f"**NO** — {bad} seed group(s) saw different examples across configurations"
    return "yes — every configuration of a seed and fraction trained on the same subset (hash)"


def _main_section(
    view: str, main: pd.DataFrame, metric: str, out_dir: Path, report: Report
) -> list[str]:
    if main.empty:
        return ["No full-head runs for this view.", ""]
    summary = describe(main, ["configuration", "fraction"])
    fractions = sorted(main["fraction"].unique(), reverse=True)
    configs = sorted(main["configuration"].unique())
    cell = {(r.configuration, r.fraction): r for r in summary.itertuples()}
    head = ["configuration", *[_frac(f) for f in fractions]]
    rows = [
        [c, *[_mean_sd(cell.get((c, f))) for f in fractions]] for c in configs
    ]
    lines = [f"### Test `{metric}` by configuration and training fraction", ""]
    lines += ["Mean ± sd over seeds (n seeds).", ""]
    lines += _table(head, rows)
    var_rows = [
        [c, *[_var(cell.get((c, f))) for f in fractions]] for c in configs
    ]
    lines += ["", "Seed variance (sd², with min–max) per configuration and fraction:", ""]
    lines += _table(head, var_rows)
    fig = out_dir / f"f1_vs_fraction_{view}.png"
    _plot_fraction_curve(main, summary, configs, metric, view, fig)
    fig_sd = out_dir / f"seed_sd_{view}.png"
    _plot_heatmap(
        summary.pivot(index="configuration", columns="fraction", values="sd").reindex(
            index=configs, columns=fractions
        ),
        [_frac(f) for f in fractions],
        configs,
        f"seed sd of {metric} ({view})",
        fig_sd,
        cmap="viridis",
    )
    report.figures += [fig, fig_sd]
    lines += ["", f"![{metric} vs training fraction]({fig.name})", ""]
    lines += [f"![seed sd]({fig_sd.name})", ""]
    return lines


def _anova_section(view: str, main: pd.DataFrame, metric: str, report: Report) -> list[str]:
    lines = ["### Repeated-measures ANOVA", ""]
    lines += [
        f"`statsmodels` AnovaRM of test `{metric}`; subjects = seeds; within-factors "
        "configuration and training fraction. ε (GG) is the Greenhouse–Geisser estimate of "
        "sphericity and p (GG) the p-value with both degrees of freedom scaled by it (read "
        "this one for the fraction factor, whose scores spread differently at each level).",
        "",
    ]
    if main.empty:
        return [*lines, "No runs.", ""]
    result = rm_anova(main, depvar="value", subject="seed", within=["configuration", "fraction"])
    report.anovas[view] = result
    lines += _anova_lines(result)
    return lines


def _stability_section(
    view: str, main: pd.DataFrame, metric: str, out_dir: Path, report: Report
) -> list[str]:
    """Seed stability per fraction (Levene / Brown–Forsythe across configurations), variance
    ratios to the single-task baseline (Pitman–Morgan, paired) and paired differences to it
    with confidence intervals."""
    if main.empty:
        return []
    ref = SINGLE_TASK_WEIGHTING
    tests = seed_variance_tests(main)
    ratios = variance_ratios(main, reference=ref)
    diffs = paired_differences(main, reference=ref)
    report.stability[view] = {"variance_tests": tests, "variance_ratios": ratios,
                              "paired_differences": diffs}  # fmt: skip
    fractions = sorted(main["fraction"].unique(), reverse=True)
    lines = ["### Seed stability and paired differences to single-task", ""]
    lines += [
        f"Do the configurations' seed spreads of test `{metric}` differ at a fraction? "
        "Levene's test (deviations from each configuration's mean) and Brown–Forsythe's "
        "(from its median; robust to skew), across the full-head configurations, per fraction. "
        "Both assume independent groups, while the seeds are matched: read them as a screen.",
        "",
    ]
    lines += _table(
        ["fraction", "configurations", "runs", "Levene W", "p", "Brown–Forsythe W", "p"],
        [[_frac(r.fraction), str(r.k), str(r.n), _num(r.levene_w), _p(r.levene_p),
          _num(r.bf_w), _p(r.bf_p)]
         for r in tests.sort_values("fraction", ascending=False).itertuples()],
    )  # fmt: skip
    lines.append("")
    if ratios.empty:
        return [*lines, f"No `{ref}` (single-task) runs to compare with.", ""]
    configs = sorted(ratios["configuration"].unique())
    cell = {(r.configuration, r.fraction): r for r in ratios.itertuples()}
    lines += [
        f"Seed variance of each configuration over that of `{ref}` (single-task), over the "
        "seeds both ran: < 1 means steadier across seeds than single-task. p: Pitman–Morgan "
        "test of equal variances for paired samples (n pairs in parentheses).",
        "",
    ]
    lines += _table(
        ["configuration", *[_frac(f) for f in fractions]],
        [[c, *[_ratio(cell.get((c, f))) for f in fractions]] for c in configs],
    )
    lines += [
        "",
        f"Paired differences to `{ref}` (configuration − single-task, matched seeds): mean, "
        "95 % t confidence interval, paired t-test p and p Holm-adjusted over all rows of "
        "the table.",
        "",
    ]
    lines += _table(
        ["fraction", "configuration", "n", ref, "configuration mean", "Δ", "95 % CI", "p",
         "p (Holm)"],
        [[_frac(r.fraction), r.configuration, str(r.n), _num(r.mean_ref), _num(r.mean),
          _num(r.diff, signed=True), _ci(r.ci_low, r.ci_high), _p(r.p), _p(r.p_holm)]
         for r in diffs.sort_values(["fraction", "configuration"],
                                    ascending=[False, True]).itertuples()],
    )  # fmt: skip
    fig = out_dir / f"seed_sd_vs_fraction_{view}.png"
    fig_d = out_dir / f"paired_diff_{view}.png"
    _plot_sd_curve(describe(main, ["configuration", "fraction"]), metric, view, fig)
    _plot_paired(diffs, ref, metric, view, fig_d)
    report.figures += [fig, fig_d]
    lines += ["", f"![seed sd vs fraction]({fig.name})", "",
              f"![difference to {ref}]({fig_d.name})", ""]  # fmt: skip
    return lines


def _anova_lines(result: AnovaResult) -> list[str]:
    lines = [f"- note: {n}" for n in result.notes]
    if result.ok:
        used = result.subjects_used
        shown = ", ".join(str(s) for s in used) if len(used) <= 12 else f"{len(used)}"
        lines.append(f"- subjects used ({result.subject}): {shown}")
        lines.append("")
        lines += _table(
            ["source", "F", "df", "df error", "p", "ε (GG)", "p (GG)", "partial η²"],
            [
                [r.source, f"{r.f:.3f}", f"{r.df_num:g}", f"{r.df_den:g}", _p(r.p),
                 f"{r.eps_gg:.3f}", _p(r.p_gg), f"{r.partial_eta_sq:.3f}"]
                for r in result.rows
            ],
        )  # fmt: skip
    return [*lines, ""]


def scheduled_epochs(config: dict, history: list) -> float:
    """The epochs a run's schedule allowed: ``max(epochs, ⌈min_steps / steps an epoch⌉)``,
    steps an epoch read from its history (NaN where the history does not say)."""
    last = history[-1] if history else {}
    if not isinstance(last, dict) or not last.get("step") or not last.get("epoch"):
        return float("nan")
    per_epoch = last["step"] / last["epoch"]
    return float(max(int(config.get("epochs", 0)),
                     math.ceil(int(config.get("min_steps", 0)) / per_epoch)))  # fmt: skip


def stopping_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per configuration and fraction: runs, mean epochs run and best epoch, the scheduled
    epochs, how many runs early stopping ended before the end of their schedule (of those
    whose schedule is known), and the mean training wall time."""
    df = runs.copy()
    df["scheduled"] = [
        scheduled_epochs(json.loads(c or "{}"), json.loads(h or "[]"))
        for c, h in zip(df["config_json"], df["history_json"], strict=True)
    ]
    df["known"] = df["scheduled"].notna()
    df["stopped"] = df["known"] & (df["epochs_run"] < df["scheduled"])
    out = df.groupby(["configuration", "fraction"]).agg(
        n=("run_key", "size"), epochs_run=("epochs_run", "mean"),
        best_epoch=("best_epoch", "mean"), scheduled=("scheduled", "mean"),
        known=("known", "sum"), stopped=("stopped", "sum"), wall_time_s=("wall_time_s", "mean"),
    )  # fmt: skip
    return out.reset_index()


def _stopping_section(runs: pd.DataFrame) -> list[str]:
    if runs.empty:
        return []
    table = stopping_summary(runs).sort_values(["configuration", "fraction"],
                                               ascending=[True, False])  # fmt: skip
    lines = ["### Training length and early stopping", ""]
    lines += [
        "Mean epochs run and best (kept) epoch over seeds; the epochs the schedule allowed; "
        "how many runs early stopping ended before that (of the runs whose history gives "
        "the schedule); mean training wall time per run (`wall_time_s`, the hardware is "
        "the machine that ran the folder).",
        "",
    ]
    lines += _table(
        ["configuration", "fraction", "runs", "epochs run", "best epoch", "scheduled",
         "stopped early", "wall time (s)"],
        [[r.configuration, _frac(r.fraction), str(r.n), f"{r.epochs_run:.1f}",
          f"{r.best_epoch:.1f}", "–" if math.isnan(r.scheduled) else f"{r.scheduled:.0f}",
          f"{int(r.stopped)}/{int(r.known)}", f"{r.wall_time_s:.0f}"]
         for r in table.itertuples()],
    )  # fmt: skip
    return [*lines, ""]


def _task_section(all_scores: pd.DataFrame) -> list[str]:
    """Per-label NER F1 and the auxiliary tasks' F1/accuracy, mean ± sd over all runs of a
    configuration (all fractions and seeds)."""
    wanted = all_scores[
        all_scores["metric"].str.match(r"^ner\.strict\.per_label\.[^.]+\.f1$")
        | (
            all_scores["metric"].str.match(r"^(bcls|mcls|mtcls)\.")
            & all_scores["metric"].str.contains(r"(?:f1|accuracy)$")
            & ~all_scores["metric"].str.contains("per_label")
        )
    ]
    if wanted.empty:
        return []
    summary = describe(wanted, ["configuration", "metric"])
    metrics = sorted(summary["metric"].unique())
    configs = sorted(summary["configuration"].unique())
    cell = {(r.configuration, r.metric): r for r in summary.itertuples()}
    lines = ["### Per-label and per-task test scores", ""]
    lines += ["Mean ± sd over all fractions and seeds (n runs)."]
    if SINGLE_TASK_WEIGHTING in configs:
        lines.append(
            f"`{SINGLE_TASK_WEIGHTING}` trains NER alone (no auxiliary head): its sentence- "
            "and mtCLS scores are derived by the tagger from its entities."
        )
    lines += [""]
    lines += _table(
        ["metric", *configs], [[m, *[_mean_sd(cell.get((c, m))) for c in configs]] for m in metrics]
    )
    return [*lines, ""]


def _ablation_section(view_scores: pd.DataFrame, metric: str) -> list[str]:
    if not view_scores["ablated"].any():
        return []
    table = ablation_deltas(view_scores)
    lines = ["### Ablation: auxiliary head removed", ""]
    lines += [
        f"Test `{metric}` of each configuration without one auxiliary head, paired with the "
        "full-head run of the same weighting, fraction and seed; Δ = ablated − full; p from a "
        "paired t-test over all pairs (all fractions and seeds).",
        "",
    ]
    lines += _table(
        ["weighting", "removed head", "full", "ablated", "Δ mean", "Δ sd", "n", "p"],
        [
            [r.weighting, r.removed, _num(r.full_mean), _num(r.ablated_mean),
             _num(r.delta_mean, signed=True), _num(r.delta_sd), str(r.n), _p(r.p)]
            for r in table.itertuples()
        ],
    )  # fmt: skip
    return [*lines, ""]


def _similarity_section(
    view: str, sims: pd.DataFrame, out_dir: Path, report: Report
) -> list[str]:
    if sims.empty:
        return []
    lines = ["### Task interaction: gradient cosine similarity", ""]
    n_batches = sorted(sims["n_batches"].unique())
    lines += [
        "For each task i, g_i = ∇ of L_i over the shared encoder parameters, averaged over "
        f"{', '.join(str(int(n)) for n in n_batches)} dev batch(es) and flattened; the value is "
        "cos(g_i, g_j) (see docs/experiments.md). Mean ± sd over runs.",
        "",
    ]
    full = sims[~sims["ablated"]].copy()
    full["pair"] = full["task_a"] + "–" + full["task_b"]
    summary = describe(full, ["pair", "configuration"], value="cosine")
    configs = sorted(summary["configuration"].unique())
    pairs = sorted(summary["pair"].unique())
    cell = {(r.pair, r.configuration): r for r in summary.itertuples()}
    rows = [[p, *[_mean_sd(cell.get((p, c))) for c in configs]] for p in pairs]
    lines += _table(["task pair", *configs], rows)
    tasks = [h for h in HEADS if h in set(full["task_a"]) | set(full["task_b"])]
    mean = full.groupby(["task_a", "task_b"])["cosine"].mean()
    matrix = pd.DataFrame(np.eye(len(tasks)), index=tasks, columns=tasks)
    for (a, b), v in mean.items():
        matrix.loc[a, b] = matrix.loc[b, a] = v
    fig = out_dir / f"task_similarity_{view}.png"
    _plot_heatmap(
        matrix, tasks, tasks, f"mean gradient cosine ({view})", fig, cmap="coolwarm",
        vmin=-1.0, vmax=1.0,
    )  # fmt: skip
    report.figures.append(fig)
    lines += ["", f"![task similarity]({fig.name})", ""]
    lines += ["Repeated-measures ANOVA of the cosine across task pairs (subject = run):", ""]
    lines += _anova_lines(pairing_anova(sims))
    return lines


# -- figures -----------------------------------------------------------------------------------
def _plot_fraction_curve(
    main: pd.DataFrame,
    summary: pd.DataFrame,
    configs: Sequence[str],
    metric: str,
    view: str,
    path: Path,
) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, config in enumerate(configs):
        color = f"C{i}"
        s = summary[summary["configuration"] == config].sort_values("fraction")
        sd = s["sd"].fillna(0.0)
        ax.plot(s["fraction"], s["mean"], marker="o", color=color, label=config)
        ax.fill_between(s["fraction"], s["mean"] - sd, s["mean"] + sd, color=color, alpha=0.15)
        pts = main[main["configuration"] == config]
        ax.scatter(pts["fraction"], pts["value"], color=color, s=8, alpha=0.5)
    fractions = sorted(main["fraction"].unique())
    if len(fractions) > 1 and fractions[-1] / fractions[0] > 4:
        ax.set_xscale("log")
    ax.set_xticks(fractions)
    ax.set_xticklabels([_frac(f) for f in fractions], rotation=45)
    ax.minorticks_off()
    ax.set_xlabel("training fraction")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(f"{metric} vs training fraction ({view}): mean ± sd, points = seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_sd_curve(summary: pd.DataFrame, metric: str, view: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (config, s) in enumerate(summary.groupby("configuration")):
        s = s.sort_values("fraction")
        ax.plot(s["fraction"], s["sd"], marker="o", color=f"C{i}", label=str(config))
    _fraction_axis(ax, sorted(summary["fraction"].unique()))
    ax.set_ylabel(f"seed sd of test {metric}")
    ax.set_title(f"seed sd vs training fraction ({view})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_paired(diffs: pd.DataFrame, ref: str, metric: str, view: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    configs = sorted(diffs["configuration"].unique())
    for i, config in enumerate(configs):
        d = diffs[diffs["configuration"] == config].sort_values("fraction")
        # a small offset per configuration so the intervals do not hide each other
        x = d["fraction"] * (1.0 + 0.04 * (i - (len(configs) - 1) / 2))
        err = np.vstack([d["diff"] - d["ci_low"], d["ci_high"] - d["diff"]])
        ax.errorbar(x, d["diff"], yerr=np.nan_to_num(err), marker="o", capsize=3,
                    color=f"C{i}", label=config)  # fmt: skip
    ax.axhline(0.0, color="grey", lw=0.8)
    _fraction_axis(ax, sorted(diffs["fraction"].unique()))
    ax.set_ylabel(f"Δ test {metric} vs {ref}")
    ax.set_title(f"paired difference to {ref}, mean and 95 % CI ({view})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _fraction_axis(ax: plt.Axes, fractions: Sequence[float]) -> None:
    if len(fractions) > 1 and fractions[-1] / fractions[0] > 4:
        ax.set_xscale("log")
    ax.set_xticks(fractions)
    ax.set_xticklabels([_frac(f) for f in fractions], rotation=45)
    ax.minorticks_off()
    ax.set_xlabel("training fraction")


def _plot_heatmap(
    matrix: pd.DataFrame,
    xlabels: Sequence[str],
    ylabels: Sequence[str],
    title: str,
    path: Path,
    *,
    cmap: str,
    vmin: float | None = None,
    vmax: float | None = None,
) -> None:
    values = matrix.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(xlabels), 1.2 + 0.6 * len(ylabels)))
    im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(xlabels)), labels=list(xlabels), rotation=45)
    ax.set_yticks(range(len(ylabels)), labels=list(ylabels))
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- formatting --------------------------------------------------------------------------------
def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    # A few lines instead of pandas.to_markdown, which needs the extra `tabulate` package.
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _frac(f: float) -> str:
    return f"{f:g}"


def _num(v: float, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:+.4f}" if signed else f"{v:.4f}"


def _p(p: float) -> str:
    if p is None or math.isnan(p):
        return "–"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _ci(low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return "–"
    return f"[{low:+.4f}, {high:+.4f}]"


def _ratio(r: object | None) -> str:
    if r is None or math.isnan(r.ratio):
        return "–"
    return f"{r.ratio:.2f} (p {_p(r.p)}, {r.n})"


def _mean_sd(r: object | None) -> str:
    if r is None:
        return "–"
    sd = "" if math.isnan(r.sd) else f" ± {r.sd:.4f}"
    return f"{r.mean:.4f}{sd} ({r.n})"


def _var(r: object | None) -> str:
    if r is None:
        return "–"
    var = "–" if math.isnan(r.var) else f"{r.var:.2e}"
    return f"{var} [{r.min:.4f}–{r.max:.4f}]"
