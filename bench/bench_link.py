"""Benchmark the relation linker against the gold relations of an annotated corpus.

    .venv/bin/python bench/bench_link.py [--corpus FILE] [--model DIR] [--by-split]

(a) always: relations linked from the *gold* entities (linker quality alone);
(b) with ``--model DIR``: end to end, relations linked from the entities a trained
    ``PKTagger`` predicts for each sentence text.
Matching is strict: relation label and both spans' character offsets must be equal.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pkharvest.corpus.reader import read_corpus
from pkharvest.paths import default_corpus_path
from pkharvest.relations import RELATION_LABELS
from pkharvest.scoring import score_relations

console = Console()


def _table(title: str, result: dict[str, Any]) -> Table:
    table = Table(title=title)
    for col in ("label", "precision", "recall", "F1", "tp", "fp", "fn"):
        table.add_column(col, justify="right" if col != "label" else "left")
    rows = [(lab, result["per_label"][lab]) for lab in RELATION_LABELS]
    rows.append(("micro", result["micro"]))
    for lab, r in rows:
        table.add_row(lab, f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}",
                      str(r["tp"]), str(r["fp"]), str(r["fn"]))
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=None,
                    help="Prodigy JSONL corpus (default: the shared annotated sentences).")
    ap.add_argument("--model", type=Path, default=None,
                    help="A trained model folder: also score end to end from its entities.")
    ap.add_argument("--by-split", action="store_true",
                    help="Also score the train/dev/test parts of split_by_article (seed 13).")
    ap.add_argument("--batch-size", type=int, default=32, help="Tagger batch size.")
    args = ap.parse_args(argv)

    path = args.corpus or default_corpus_path()
    if path is None or not Path(path).exists():
        console.print(f"corpus not found: {path} (use --corpus)")
        return 2
    examples = read_corpus(path)
    n_rel = sum(len(e.relations) for e in examples)
    console.print(f"corpus: {path} — {len(examples)} sentences, {n_rel} gold relations")

    t0 = time.perf_counter()
    gold = score_relations(examples)["gold_entities"]
    dt = time.perf_counter() - t0
    console.print(_table("(a) linking from gold entities", gold))
    console.print(f"linking time: {dt:.3f} s for {len(examples)} sentences")

    if args.by_split:
        from pkharvest.corpus.splits import split_by_article

        split = split_by_article(examples)
        for name in ("train", "dev", "test"):
            part = getattr(split, name)
            r = score_relations(part)["gold_entities"]["micro"]
            console.print(f"split {name}: {len(part)} sentences, micro P/R/F1 "
                          f"{r['precision']:.3f}/{r['recall']:.3f}/{r['f1']:.3f}")

    if args.model is not None:
        from pkharvest.errors import PkHarvestError
        from pkharvest.model.tagger import PKTagger

        try:
            tagger = PKTagger.load(args.model)
        except PkHarvestError as exc:
            console.print(f"model not usable: {exc}")
            return 2
        texts = [e.text for e in examples]
        t0 = time.perf_counter()
        # as the search pipeline does: every unit reaches the linker
        preds = tagger.predict(texts, batch_size=args.batch_size, drop_unlinked=False)
        by_text = {p.text: p.entities for p in preds}
        console.print(f"tagging time: {time.perf_counter() - t0:.1f} s")
        e2e = score_relations(examples, lambda text: by_text.get(text, []))["end_to_end"]
        console.print(_table(f"(b) end to end from {args.model}", e2e))
        if args.by_split:
            for name in ("train", "dev", "test"):
                part = getattr(split, name)
                r = score_relations(part, lambda text: by_text.get(text, []))["end_to_end"]
                cells = " ".join(f"{k} {r['per_label'][k]['f1']:.3f}"
                                 for k in ("C_VAL", "D_VAL", "RELATED"))
                console.print(f"end to end, split {name}: micro P/R/F1 "
                              f"{r['micro']['precision']:.3f}/{r['micro']['recall']:.3f}/"
                              f"{r['micro']['f1']:.3f}; {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
