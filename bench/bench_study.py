"""How much study context the sentences of an annotated corpus give their values.

    .venv/bin/python bench/bench_study.py [--corpus FILE] [--sample 30] [--seed 13]

Each sentence's gold entities are linked into measurements (as ``bench_link.py`` (a) does),
normalised, and given the context its own words state (``pkharvest.study``; the corpus has no
MeSH headings, titles or abstracts, so the article-level fields are not measured here).
Prints how many sentences and measurements get n, statistic, route, dose, age group,
population, species and conditions, the statistics found, and a random sample of the
measurements that got n or a statistic, to check their precision by eye.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pkharvest.corpus.reader import read_corpus
from pkharvest.link import link
from pkharvest.normalise import normalise
from pkharvest.paths import default_corpus_path
from pkharvest.records import Article, Entity, Measurement, Sentence
from pkharvest.study import apply_study_context, group_size

console = Console()
FIELDS = ("n", "statistic", "route", "dose_text", "age_group", "population", "species",
          "conditions")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=None,
                    help="Prodigy JSONL corpus (default: the shared annotated sentences).")
    ap.add_argument("--sample", type=int, default=30, help="Measurements to print for a check.")
    ap.add_argument("--seed", type=int, default=13, help="Seed of the sample.")
    args = ap.parse_args(argv)

    path = args.corpus or default_corpus_path()
    if path is None or not Path(path).exists():
        console.print(f"corpus not found: {path} (use --corpus)")
        return 2
    examples = read_corpus(path)
    measured: list[tuple[str, Measurement]] = []
    sentences_with: Counter[str] = Counter()
    n_sentences = n_linked = n_stated = 0
    for i, ex in enumerate(examples):
        n_sentences += 1
        if group_size(ex.text) is not None:
            n_stated += 1
        sent = Sentence(ex.pmid or str(i), i, ex.text, 0, len(ex.text))
        ents = [Entity(s.label, s.start, s.end, ex.text[s.start:s.end]) for s in ex.spans]
        ms = [normalise(m) for m in link(sent, ents)]
        if not ms:
            continue
        n_linked += 1
        # no article: only what the sentence itself says
        apply_study_context(Article(sent.pmid, ""), ms, [sent])
        for f in FIELDS:
            if any(getattr(m, f) for m in ms):
                sentences_with[f] += 1
        measured += [(ex.text, m) for m in ms]

    console.print(f"corpus: {path} — {n_sentences} sentences, {n_linked} with a linked value, "
                  f"{len(measured)} measurements; {n_stated} sentences state one group size")
    table = Table(title="study context from the sentence alone")
    for col in ("field", "sentences", "% of linked", "measurements", "% of measurements"):
        table.add_column(col, justify="left" if col == "field" else "right")
    for f in FIELDS:
        k = sum(1 for _, m in measured if getattr(m, f))
        share = 100 * sentences_with[f] / max(n_linked, 1)
        table.add_row(f, str(sentences_with[f]), f"{share:.1f}", str(k),
                      f"{100 * k / max(len(measured), 1):.1f}")
    console.print(table)
    stats = Counter(m.statistic for _, m in measured)
    console.print("statistics: " + ", ".join(f"{k or 'none'} {v}" for k, v in stats.most_common()))
    devs = Counter((m.deviation_type, m.statistic) for _, m in measured if m.deviation_type)
    console.print("deviation type → statistic: "
                  + ", ".join(f"{d}→{s or 'none'} {v}" for (d, s), v in devs.most_common(8)))

    with_context = [(t, m) for t, m in measured if m.n is not None or m.statistic]
    sample = random.Random(args.seed).sample(with_context, min(args.sample, len(with_context)))
    console.print(f"\nsample of {len(sample)} of {len(with_context)} measurements with n or a "
                  "statistic (check by eye):")
    for k, (text, m) in enumerate(sample, 1):
        console.print(f"[bold]{k:2d}[/bold] {m.parameter_text} = {m.value_text} "
                      f"{m.unit_text or ''} → n={m.n} statistic={m.statistic} "
                      f"deviation={m.deviation_type}", highlight=False)
        console.print(f"    {text}", highlight=False, soft_wrap=True)
    stated = [(t, m) for t, m in measured if m.n is not None]
    console.print(f"\nall {len(stated)} measurements with n:")
    for text, m in stated:
        console.print(f"   {m.parameter_text} = {m.value_text} → n={m.n}: {text}",
                      highlight=False, soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
