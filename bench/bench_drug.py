"""Drug attribution accuracy on the annotated corpus's sentences whose drug is known.

A sentence's drug counts as known when the sentence names exactly one drug of the shipped
vocabulary (``pkharvest/resources/drugs/drug_names.txt``, read from this checkout, so the same
gold serves any code under test). Each parameter of such a sentence (gold ``PK`` spans with a
``C_VAL`` relation) is attributed with :func:`pkharvest.drug.attribute_drug` as the pipeline
does for an article with an uninformative title, no MeSH data and a search query naming another
drug (``--query``, default "vancomycin"): the figure is the share attributed to the known drug.
The gold comes from the same vocabulary the code under test may use, so it measures how the
attribution uses the evidence (sentence before query), not the vocabulary's coverage; the
number of sentences with a known drug says how much of the corpus the vocabulary covers.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_drug.py [--corpus FILE] [--query vancomycin]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from pkharvest.corpus.reader import read_corpus
from pkharvest.drug import attribute_drug

ROOT = Path(__file__).resolve().parent.parent
VOCAB = ROOT / "pkharvest" / "resources" / "drugs" / "drug_names.txt"


def _vocabulary() -> frozenset[str]:
    lines = VOCAB.read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip() for x in lines if x.strip() and not x.startswith("#"))


def _named(text: str, vocab: frozenset[str]) -> set[str]:
    words = re.findall(r"[A-Za-z]+", text.lower())
    found = set()
    for n in (3, 2, 1):
        for i in range(len(words) - n + 1):
            for sep in (" ", "-"):
                name = sep.join(words[i : i + n])
                if name in vocab:
                    found.add(name)
    # a name inside a longer found name is the same mention ("amphotericin b" / "amphotericin")
    return {f for f in found if not any(f != g and f in g for g in found)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--query", default="vancomycin")
    args = ap.parse_args()
    vocab = _vocabulary()
    examples = [ex for ex in read_corpus(args.corpus)
                if any(r.label == "C_VAL" for r in ex.relations)]
    total = right = known = 0
    sources: Counter[str] = Counter()
    for ex in examples:
        named = _named(ex.text, vocab)
        if len(named) != 1:
            continue
        known += 1
        drug = next(iter(named))
        for start in sorted({r.head.start for r in ex.relations if r.label == "C_VAL"}):
            got, source = attribute_drug(ex.text, start, "Pharmacokinetic report.", [],
                                         args.query)
            total += 1
            sources[source] += 1
            right += (got or "").lower() == drug
    print(json.dumps({
        "sentences_with_values": len(examples),
        "sentences_with_known_drug": known,
        "parameters": total,
        "attributed_to_known_drug": right,
        "accuracy": round(right / total, 4) if total else None,
        "sources": dict(sources),
        "query": args.query,
    }, indent=2))


if __name__ == "__main__":
    main()
