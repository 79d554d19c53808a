"""The digit pre-filter (``filter.may_carry_value``) on an annotated corpus: the share of
sentences it drops, the gold records (pmid, parameter, value) that sit in a dropped sentence
(must be none), and the tagging time it saves.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_prefilter.py --model model/default \\
        [--corpus FILE] [--precision int8]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pkharvest.corpus.reader import read_corpus
from pkharvest.pipeline import load_tagger
from pkharvest.scoring import gold_records
from pkharvest.screen import may_carry_value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--precision", default="int8")
    args = ap.parse_args()
    examples = read_corpus(args.corpus)
    kept = [e for e in examples if may_carry_value(e.text)]
    dropped = [e for e in examples if not may_carry_value(e.text)]
    lost = gold_records(dropped)
    print(f"sentences: {len(examples)}, without a digit: {len(dropped)} "
          f"({len(dropped) / len(examples):.1%})")
    print(f"gold records: {len(gold_records(examples))}, in sentences without a digit: "
          f"{len(lost)}")
    tagger = load_tagger(args.model, args.precision)
    tagger.predict([e.text for e in examples[:32]])  # warm-up
    seconds = {}
    for name, subset in (("all", examples), ("pre-filtered", kept)):
        t0 = time.perf_counter()
        tagger.predict([e.text for e in subset])
        seconds[name] = time.perf_counter() - t0
    saved = 1 - seconds["pre-filtered"] / seconds["all"]
    print(f"tagging ({args.precision}): all {seconds['all']:.2f} s, pre-filtered "
          f"{seconds['pre-filtered']:.2f} s (saves {saved:.1%})")


if __name__ == "__main__":
    main()
