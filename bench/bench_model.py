"""Benchmark the PK NER model: held-out F1 per label and tagging throughput on this CPU.

    .venv/bin/python bench/bench_model.py [--model DIR] [--corpus PATH] [--train] [--fraction F]
        [--weighting W] [--seed N] [--threads N]

With ``--train`` a model is first trained with the project defaults (``training_sets``: the train
and dev splits of the corpus at fraction 1, split seed 13) and its wall time printed; otherwise
the model folder (default: the project model) is scored. Scores are on the test split of the
same article-grouped split, so a model trained by ``pkharvest train`` with the default
``--split`` is scored on unseen articles.
Throughput: every corpus sentence tagged once, batch 32, after one warm-up batch.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from pkharvest.corpus.reader import apply_view, read_corpus
from pkharvest.model.tagger import PKTagger
from pkharvest.paths import default_model_dir
from pkharvest.training.evaluate import evaluate
from pkharvest.training.sets import training_sets
from pkharvest.training.workflow import run, train_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--train", action="store_true", help="train with the defaults first")
    ap.add_argument("--reference", action="store_true", help="with --train: reference set-up")
    ap.add_argument("--view", default="full")
    ap.add_argument("--fraction", type=float, default=1.0)
    ap.add_argument("--weighting", default="fixed")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--precision", default="fp32", help="fp32 or int8 (scoring a saved model)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    examples = read_corpus(args.corpus)
    cfg = train_config(reference=args.reference, view=args.view, fraction=args.fraction,
                       weighting=args.weighting, seed=args.seed)
    split = training_sets(apply_view(examples, args.view), cfg)  # one article split for all
    figures: dict = {"threads": torch.get_num_threads(), "precision": args.precision}
    scores = None
    if args.train:
        tr = split.train
        trained = run(cfg, split, out_dir=args.model)
        result, tagger, scores = trained.result, trained.tagger, trained.test
        figures.update(train_wall_s=round(result.wall_time_s, 1), best_epoch=result.best_epoch,
                       epochs_run=result.epochs_run, steps=result.steps,
                       dev_f1=result.dev_scores.get("ner", {}).get("strict", {})
                       .get("micro", {}).get("f1"), n_train=len(tr))
        print(f"trained on {len(tr)} sentences in {result.wall_time_s:.1f} s "
              f"({result.steps} steps, best epoch {result.best_epoch}/{result.epochs_run})")
    else:
        tagger = PKTagger.load(args.model or default_model_dir(), precision=args.precision)
    if scores is None:
        scores = evaluate(tagger, split.test)
    strict, partial = scores["ner"]["strict"], scores["ner"]["partial"]
    print(f"model {tagger.run_version}  test split: {len(split.test)} sentences (unseen articles)")
    print(f"{'label':<9}{'P':>7}{'R':>7}{'F1':>7}{'pF1':>7}{'n':>6}")
    for lab, sc in strict["per_label"].items():
        print(f"{lab:<9}{sc['precision']:7.3f}{sc['recall']:7.3f}{sc['f1']:7.3f}"
              f"{partial['per_label'][lab]['f1']:7.3f}{sc['support']:6d}")
    m = strict["micro"]
    print(f"{'micro':<9}{m['precision']:7.3f}{m['recall']:7.3f}{m['f1']:7.3f}"
          f"{partial['micro']['f1']:7.3f}{m['support']:6d}")
    print(f"bCLS F1 {scores['bcls']['f1']:.3f}  mCLS acc {scores['mcls']['accuracy']:.3f}  "
          f"mtCLS macro-F1 {scores['mtcls']['macro_f1']:.3f}")

    texts = [e.text for e in examples]
    tagger.predict(texts[:32])  # warm-up
    t0 = time.perf_counter()
    tagger.predict(texts, batch_size=32)
    dt = time.perf_counter() - t0
    print(f"throughput: {len(texts) / dt:.1f} sentences/s ({len(texts)} sentences, "
          f"{figures['threads']} threads)")
    figures.update(test=scores, throughput_sps=len(texts) / dt, version=tagger.version)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
