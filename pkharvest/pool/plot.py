"""Forest plot of pooled results (matplotlib, written to a PNG/SVG/PDF file).

One row per study (label, n and statistic, CI bar, a square sized by its weight, estimate and
weight on the right), excluded rows in grey with their reason, then the pooled diamond and the
95% prediction interval; one block per subgroup. The x axis is logarithmic (pooling is on the
log scale).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from pkharvest.pool.records import PoolError, PoolResult, StudyEffect
from pkharvest.pool.transform import Z975

_STAT_SHORT = {"mean": "mean", "geometric_mean": "GM", "median": "median"}


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.3g}"


MAX_STUDIES = 60  # rows drawn per subgroup; a pool of thousands of store values stays readable


def _drawn(r: PoolResult) -> list[StudyEffect]:
    """The study rows drawn: all, or the MAX_STUDIES heaviest included ones (in input order)."""
    if len(r.studies) <= MAX_STUDIES:
        return list(r.studies)
    heaviest = sorted((s for s in r.studies if s.included), key=lambda s: -(s.weight or 0.0))
    keep = {id(s) for s in heaviest[:MAX_STUDIES]}
    return [s for s in r.studies if id(s) in keep]


def _block_rows(r: PoolResult) -> int:
    more = 1 if len(_drawn(r)) < len(r.studies) else 0
    return len(_drawn(r)) + more + 2 + (1 if r.subgroup is not None else 0)


def forest_plot(results: Sequence[PoolResult], path: str | Path, title: str | None = None) -> None:
    """Write the forest plot of ``results`` to ``path`` (format from the suffix). Each
    subgroup has its own x axis (subgroups may differ in unit)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon
    from matplotlib.ticker import FuncFormatter
    from matplotlib.transforms import blended_transform_factory

    if not any(r.k for r in results):
        raise PoolError("nothing to plot: no study could be pooled", field="plot")
    inch_row, inch_axis = 0.28, 0.55
    heights = [_block_rows(r) * inch_row + inch_axis for r in results]
    top, bottom = 0.55 + (0.35 if title else 0.0), 0.15
    fig_h = sum(heights) + top + bottom
    fig = plt.figure(figsize=(12, fig_h))
    if title:
        fig.suptitle(title, fontweight="bold", y=1 - 0.25 / fig_h)
    max_w = max((s.weight or 0.0 for r in results for s in r.studies), default=0.0) or 1.0
    ticks = FuncFormatter(lambda v, _pos: f"{v:g}")
    cursor = fig_h - top
    for i, r in enumerate(results):
        rows = _block_rows(r)
        axis_h = rows * inch_row
        ax = fig.add_axes((0.34, (cursor - axis_h) / fig_h, 0.34, axis_h / fig_h))
        cursor -= heights[i]
        text = blended_transform_factory(fig.transFigure, ax.transData)
        if i == 0:
            for x, head in ((0.01, "study"), (0.22, "n   statistic"),
                            (0.70, "geometric mean [95% CI]"), (0.91, "weight")):
                ax.text(x, 0.9, head, transform=text, fontweight="bold", va="bottom")
        y = 0.0
        if r.subgroup is not None:
            ax.text(0.01, y, f"{r.subgroup}", transform=text, fontweight="bold",
                    style="italic", va="center")
            y -= 1
        xs: list[float] = []
        drawn = _drawn(r)
        for s in drawn:
            label = s.row.study + (f" · {s.row.group}" if s.row.group else "")
            stat = _STAT_SHORT.get(s.row.statistic or "", s.row.statistic or "")
            meta = f"{s.row.n if s.row.n is not None else '–':<4}{stat}"
            color = "black" if s.included else "0.5"
            ax.text(0.01, y, label[:38], transform=text, va="center", color=color)
            ax.text(0.22, y, meta, transform=text, va="center", color=color)
            if s.included and s.y is not None and s.v is not None:
                half = Z975 * math.sqrt(s.v)
                lo, est, hi = math.exp(s.y - half), math.exp(s.y), math.exp(s.y + half)
                xs += [lo, hi]
                ax.plot([lo, hi], [y, y], color="black", lw=1)
                size = 4 + 10 * math.sqrt((s.weight or 0.0) / max_w)
                ax.plot([est], [y], marker="s", ms=size, color="tab:blue", mec="black", mew=0.5)
                ax.text(0.70, y, f"{_fmt(est)} [{_fmt(lo)}, {_fmt(hi)}]", transform=text,
                        va="center")
                w = s.weight or 0.0
                ax.text(0.91, y, f"{w:.1f}%" if w >= 0.1 else f"{w:.2g}%", transform=text,
                        va="center")
            else:
                ax.text(0.70, y, f"excluded: {s.reason}"[:60], transform=text, va="center",
                        color=color, style="italic", fontsize="small")
            y -= 1
        if len(drawn) < len(r.studies):
            ax.text(0.01, y, f"… {len(r.studies) - len(drawn)} more rows not drawn (the "
                    f"{len(drawn)} of largest weight are)", transform=text, va="center",
                    style="italic", color="0.4")
            y -= 1
        if r.k and r.estimate is not None:
            assert r.ci_low and r.ci_high and r.pi_low and r.pi_high
            xs += [r.ci_low, r.ci_high, r.pi_low, r.pi_high]
            ax.add_patch(Polygon(
                [(r.ci_low, y), (r.estimate, y + 0.38), (r.ci_high, y), (r.estimate, y - 0.38)],
                closed=True, color="tab:red",
            ))
            ax.text(0.01, y, f"{r.method} pooled, k = {r.k}", transform=text, va="center",
                    fontweight="bold")
            ax.text(0.22, y, f"I² {r.i2:.0f}%   τ² {r.tau2:.3g}", transform=text, va="center")
            ax.text(0.70, y, f"{_fmt(r.estimate)} [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]",
                    transform=text, va="center", fontweight="bold")
            ax.plot([r.estimate, r.estimate], [0.5, y], color="tab:red", lw=0.6, ls=":")
            y -= 1
            ax.plot([r.pi_low, r.pi_high], [y, y], color="tab:red", lw=2.5,
                    solid_capstyle="butt")
            ax.text(0.01, y, "95% prediction interval", transform=text, va="center")
            ax.text(0.70, y, f"[{_fmt(r.pi_low)}, {_fmt(r.pi_high)}]", transform=text,
                    va="center")
        else:
            ax.text(0.01, y, "no study can be pooled", transform=text, va="center",
                    style="italic")
            xs = [1.0]
        ax.set_xscale("log")
        lo, hi = min(xs), max(xs)
        pad = max(hi / lo, 1.5) ** 0.08
        ax.set_xlim(lo / pad, hi * pad)
        ax.set_ylim(y - 0.6, 0.6)
        ax.set_yticks([])
        ax.xaxis.set_major_formatter(ticks)
        ax.xaxis.set_minor_formatter(ticks)
        ax.tick_params(axis="x", which="both", labelsize="x-small")
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(f"{r.unit or ''} (log scale)", fontsize="small", labelpad=1)
    try:
        fig.savefig(path, dpi=110)
    except (OSError, ValueError) as exc:
        raise PoolError(f"cannot write plot: {exc}", path=str(path), field="plot") from None
    finally:
        plt.close(fig)
