"""Simulated review on the annotated corpus: does reviewing the most uncertain sentences first
help the model more than reviewing random ones? The gold annotation plays the reviewer.

The article split (seed 13) gives train / dev / test. A seed set of SEED_SIZE training
sentences stands for what the model already learnt from; the rest of the training split is the
unreviewed pool. A model trained on the seed set ranks the pool by uncertainty
(:mod:`pkharvest.review.sampling`); for each budget k the model is trained again on the seed set
plus the k most uncertain pool sentences, or k random ones (same seed for both), and scored on
the test split (strict micro span F1). Prints the figures and writes a plot.

    PYTHONPATH=. python bench/review_sampling.py --epochs 4 --seeds 13 14 \
        --out docs/images/review-sampling.png
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from pkharvest.corpus.reader import apply_view, read_corpus
from pkharvest.corpus.splits import split_by_article
from pkharvest.review.sampling import rank_by_uncertainty
from pkharvest.training.evaluate import evaluate, get_score
from pkharvest.training.trainer import TrainConfig, train

BUDGETS = (0, 25, 50, 100)
SEED_SIZE = 50


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seeds", type=int, nargs="+", default=[13, 14])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    examples = apply_view(read_corpus(None), "full")
    parts = split_by_article(examples, (0.7, 0.15, 0.15), 13)
    print(f"train {len(parts.train)} · dev {len(parts.dev)} · test {len(parts.test)} sentences; "
          f"seed set {SEED_SIZE}; epochs {args.epochs}; seeds {args.seeds}", flush=True)
    results: dict[str, dict[int, list[float]]] = {"uncertainty": {}, "random": {}}
    t0 = time.time()

    def fit(train_set: list, seed: int) -> object:
        config = TrainConfig(view="full", epochs=args.epochs, min_steps=0, seed=seed,
                             refit=False, threads=args.threads)
        return train(train_set, parts.dev, config, progress=False).tagger

    for seed in args.seeds:
        rng = random.Random(seed)
        order = list(range(len(parts.train)))
        rng.shuffle(order)
        seed_set = [parts.train[i] for i in order[:SEED_SIZE]]
        pool = [parts.train[i] for i in order[SEED_SIZE:]]
        base = fit(seed_set, seed)
        f1 = get_score(evaluate(base, parts.test), "ner.strict.micro.f1")
        for strategy in results:
            results[strategy].setdefault(0, []).append(f1)
        print(f"seed {seed}: 0 reviewed: F1 {f1:.3f} ({time.time() - t0:.0f} s)", flush=True)
        ranked = rank_by_uncertainty(base, [ex.text for ex in pool])
        shuffled = list(range(len(pool)))
        random.Random(seed + 1000).shuffle(shuffled)
        for k in BUDGETS[1:]:
            for strategy, chosen in (("uncertainty", ranked[:k]), ("random", shuffled[:k])):
                tagger = fit(seed_set + [pool[i] for i in chosen], seed)
                f1 = get_score(evaluate(tagger, parts.test), "ner.strict.micro.f1")
                results[strategy].setdefault(k, []).append(f1)
                print(f"seed {seed}: {k} reviewed by {strategy}: F1 {f1:.3f} "
                      f"({time.time() - t0:.0f} s)", flush=True)
    print("\nreviewed | uncertainty F1 (mean over seeds) | random F1")
    for k in BUDGETS:
        u, r = results["uncertainty"][k], results["random"][k]
        print(f"{k:8d} | {sum(u) / len(u):.3f} {u} | {sum(r) / len(r):.3f} {r}")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.4))
        for strategy, marker in (("uncertainty", "o"), ("random", "s")):
            ys = [sum(results[strategy][k]) / len(results[strategy][k]) for k in BUDGETS]
            ax.plot(BUDGETS, ys, marker=marker, label=strategy)
        ax.set_xlabel("reviewed sentences (added to a seed set of 50)")
        ax.set_ylabel("test strict span F1")
        ax.set_title(f"mean of {len(args.seeds)} seeds, {args.epochs} epochs")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out, dpi=110)
        print(f"plot written to {args.out}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
