"""Weighting check before the study's budget is spent: at a small training fraction, do the
learned log-variances move, and is the weighted loss (and the weighted encoder gradient)
dominated by the sentence-level tasks? Prints the figures of
``pkharvest.experiment.weighting_check`` for each weighting.

    PYTHONPATH=$PWD python bench/check_weighting.py --fraction 0.025 --steps 320

The run uses the grid's matched data (split and downsampling of ``--seed``), the default
training options except those given, one dev evaluation at the end and no early stopping.
"""

from __future__ import annotations

import argparse
import logging
import time

from pkharvest.corpus.reader import read_corpus, resolve_corpus_path
from pkharvest.corpus.splits import DEFAULT_PROPORTIONS
from pkharvest.experiment.grid import RunSpec, parse_weightings
from pkharvest.experiment.runner import StudyData
from pkharvest.experiment.weighting_check import (
    WeightingFigures,
    check_weighting,
    sentence_share,
)


def _fmt(values: dict[str, float], digits: int = 3) -> str:
    return " ".join(f"{t}={v:.{digits}f}" for t, v in values.items())


def _print(fig: WeightingFigures, every: int) -> None:
    print(f"\n== {fig.weighting}: {fig.n_train} training sentences, {fig.steps} steps, "
          f"{fig.wall_time_s:.0f} s training, final dev strict F1 "
          f"{'–' if fig.dev_f1 is None else f'{fig.dev_f1:.3f}'}")
    print(f"   weights before training: {_fmt(fig.initial_weights)}")
    print(f"   weighted gradient shares before training: {_fmt(fig.gradient_shares_start)}"
          f" (sentence-level {sentence_share(fig.gradient_shares_start):.3f})")
    print("   epoch  step  log-variances s_i | unweighted L_i | weighted loss shares | sent.")
    for e in fig.epochs:
        if e.epoch % every and e is not fig.epochs[-1] and e.epoch != 1:
            continue
        print(f"   {e.epoch:5d} {e.step:5d}  {_fmt(e.log_vars) or '–'} | "
              f"{_fmt(e.task_losses)} | {_fmt(e.loss_shares)} | {e.sentence_share:.3f}")
    print(f"   change of s_i over the run: {_fmt(fig.log_var_change) or '– (none learned)'}")
    print(f"   weighted gradient shares after training: {_fmt(fig.gradient_shares_end)}"
          f" (sentence-level {sentence_share(fig.gradient_shares_end):.3f})")
    print(f"   dominated by the sentence-level tasks (> 0.5 of loss or gradient): "
          f"{'YES' if fig.dominated else 'no'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--view", default="full")
    ap.add_argument("--fraction", type=float, default=0.025)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weightings", default="none,fixed,uncertainty,hybrid")
    ap.add_argument("--steps", type=int, default=320,
                    help="optimiser steps (the default's min_steps: what a 0.025 run schedules)")
    ap.add_argument("--max-length", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--every", type=int, default=40, help="print every N-th epoch")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    data = StudyData(read_corpus(resolve_corpus_path(args.corpus)), DEFAULT_PROPORTIONS)
    options = {"epochs": 1, "min_steps": args.steps, "patience": 0, "eval_steps": 10**6,
               "threads": args.threads}
    if args.max_length:
        options["max_length"] = args.max_length
    print(f"weighting check: view {args.view}, fraction {args.fraction:g}, seed {args.seed}, "
          f"options {options}")
    started = time.perf_counter()
    for weighting in parse_weightings(args.weightings):
        spec = RunSpec(view=args.view, fraction=args.fraction, weighting=weighting,
                       seed=args.seed)
        run = data.for_run(spec)
        fig = check_weighting(run.train, spec, run.dev, options)
        _print(fig, args.every)
    print(f"\ntotal wall {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
