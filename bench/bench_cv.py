"""Grouped k-fold cross-validation over the train + dev part of the default split: out-of-fold
strict F1 after each decoding step.

    .venv/bin/python bench/bench_cv.py --out /tmp/cv-models [--corpus FILE] [--folds 5]
        [--mention-swap P] [--augment P] [--average-last N] [--epochs N] [--refit] [--threads 1]

Sixty dev sentences cannot tell apart changes below ~0.03 F1; this gives every train + dev
sentence (340 of the shared corpus) one prediction from a model that never saw its article, and
leaves the test split untouched. Folds: ``pkharvest.experiment.cv.cv_folds``
(``StratifiedGroupKFold``, groups = articles, strata = sentences with / without a PK span,
``random_state=0``). For fold k the model trains on the
other folds but fold k+1, stops early on fold k+1, and is scored on fold k; with ``--refit``
(the project default at full data, ``TrainConfig.refit``) it trains on all other folds for the
whole schedule, no early stopping — the comparison of the two decided that default. A fold
whose model folder already exists under ``--out`` is not retrained, so decoding changes can be
re-scored on the same models in seconds. Training: about 7 minutes a fold on one core (early
stopping at 20 epochs); with ``--refit`` about 9.5 at 20 epochs and 16 at the default 30.
Prints pooled strict F1 (micro, per label) after each step of ``POSTPROCESS_STEPS`` and per
fold.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from pkharvest.corpus.reader import read_corpus
from pkharvest.corpus.records import ENTITY_LABELS
from pkharvest.experiment.cv import cv_folds
from pkharvest.model.postprocess import POSTPROCESS_STEPS, postprocess_stages
from pkharvest.model.tagger import PKTagger
from pkharvest.training.metrics import span_scores
from pkharvest.training.trainer import TrainConfig, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the fold models")
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--mention-swap", type=float, default=None,
                    help="mention-replacement probability [default: TrainConfig's]")
    ap.add_argument("--augment", type=float, default=None,
                    help="digit-replacement probability [default: TrainConfig's]")
    ap.add_argument("--average-last", type=int, default=None,
                    help="average the weights of the last N epochs [default: TrainConfig's]")
    ap.add_argument("--epochs", type=int, default=None, help="override (smoke runs)")
    ap.add_argument("--refit", action="store_true",
                    help="train on all other folds, no early stopping")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    pool, folds = cv_folds(read_corpus(args.corpus), args.folds)
    print(f"{len(pool)} train + dev sentences in {args.folds} folds: "
          f"{', '.join(str(len(f)) for f in folds)}")

    overrides = {"threads": args.threads, "refit": args.refit}
    if args.epochs is not None:
        overrides.update(epochs=args.epochs, min_steps=0)
    # only what was given; TrainConfig has the rest
    for key in ("mention_swap", "augment", "average_last"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    decoded = []  # (fold, example, raw entities)
    for k, fold in enumerate(folds):
        dev_k = None if args.refit else (k + 1) % args.folds
        folder = args.out / f"fold{k}"
        if not (folder / "model.safetensors").is_file():
            train_part = [pool[i] for j, f in enumerate(folds) if j not in (k, dev_k) for i in f]
            dev_part = [] if dev_k is None else [pool[i] for i in folds[dev_k]]
            res = train(train_part, dev_part, TrainConfig(**overrides), out_dir=folder,
                        progress=False)
            print(f"fold {k}: trained on {len(train_part)} sentences, best epoch "
                  f"{res.best_epoch} of {res.epochs_run}")
        tagger = PKTagger.load(folder)
        part = [pool[i] for i in fold]
        for ex, pred in zip(part, tagger.predict_detailed([e.text for e in part]), strict=True):
            decoded.append((k, ex, pred.decoded))

    rows = {}
    gold = [[(s.start, s.end, s.label) for s in ex.spans] for _, ex, _ in decoded]
    stages = [postprocess_stages(ex.text, ents, ENTITY_LABELS) for _, ex, ents in decoded]
    for n in range(len(POSTPROCESS_STEPS) + 1):
        steps = POSTPROCESS_STEPS[:n]
        pred = [[(e.start, e.end, e.label) for e in st[n]] for st in stages]
        pooled = span_scores(gold, pred, ENTITY_LABELS)
        per_fold = []
        for k in range(args.folds):
            idx = [i for i, (f, _, _) in enumerate(decoded) if f == k]
            per_fold.append(span_scores([gold[i] for i in idx], [pred[i] for i in idx],
                                        ENTITY_LABELS)["micro"]["f1"])
        labels = {lab: v["f1"] for lab, v in pooled["per_label"].items()}
        name = steps[-1] if steps else "raw"
        rows[name] = {"micro": pooled["micro"]["f1"], **labels, "per_fold_micro": per_fold}
        print(f"+{name:26s} micro {pooled['micro']['f1']:.4f}  "
              + "  ".join(f"{lab} {f:.4f}" for lab, f in labels.items())
              + "  folds " + " ".join(f"{f:.3f}" for f in per_fold))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
