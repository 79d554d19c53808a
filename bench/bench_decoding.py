"""What each entity post-processing step adds: strict F1 after each step, cumulatively.

    .venv/bin/python bench/bench_decoding.py --model DIR [--model DIR ...] [--corpus PATH]
        [--part dev|test] [--threads N]

Each model tags the chosen part of the default article-grouped split (seed 13, 0.7/0.15/0.15;
``dev`` by default — choose decoding on dev, never on test). Starting from the decoded entities
(``DetailedPrediction.decoded``: BIO tags read into spans, brackets balanced), the steps of
``pkharvest.model.decoding.POSTPROCESS_STEPS`` are applied one more at a time and strict
micro-F1 and PK F1 printed after each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from pkharvest.corpus.reader import apply_view, read_corpus
from pkharvest.corpus.splits import DEFAULT_PROPORTIONS, DEFAULT_SEED, split_by_article
from pkharvest.model.postprocess import POSTPROCESS_STEPS, postprocess_stages
from pkharvest.model.tagger import PKTagger
from pkharvest.training.metrics import span_scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, action="append", required=True)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--part", choices=("dev", "test"), default="dev")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    table = Table(title=f"strict F1 on the {args.part} split after each post-processing step")
    table.add_column("model")
    for name in ("raw", *POSTPROCESS_STEPS):
        table.add_column(f"+{name}" if name != "raw" else name, justify="right")
    for model_dir in args.model:
        tagger = PKTagger.load(model_dir)
        examples = apply_view(read_corpus(args.corpus), tagger.config.view)
        part = getattr(split_by_article(examples, DEFAULT_PROPORTIONS, DEFAULT_SEED), args.part)
        labels = tagger.labels
        gold = [[(s.start, s.end, s.label) for s in ex.spans if s.label in labels]
                for ex in part]
        preds = tagger.predict_detailed([ex.text for ex in part])  # p.decoded: before the steps
        stages = [postprocess_stages(p.text, p.decoded, labels) for p in preds]
        cells = []
        for k in range(len(POSTPROCESS_STEPS) + 1):
            pred = [[(e.start, e.end, e.label) for e in st[k]] for st in stages]
            s = span_scores(gold, pred, labels, "strict")
            pk = s["per_label"].get("PK", {}).get("f1", float("nan"))
            cells.append(f"{s['micro']['f1']:.3f} / PK {pk:.3f}")
        table.add_row(str(model_dir), *cells)
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
