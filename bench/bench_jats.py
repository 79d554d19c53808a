"""JATS full text: table extraction quality on the hand-written fixtures and parsing speed.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_jats.py [--data tests/data/jats] [--repeats 20]

Quality: every ``*.xml`` with a ``*.gold.json`` beside it is parsed, its tables classified and
extracted; prints table record F1 on (pmid, parameter, value), the share of matched records with
the right canonical unit, n and statistic, and table classification accuracy (misses listed).
Speed: parsing + classification + extraction of all fixtures ``--repeats`` times; prints
articles/s and tables/s (best of three rounds).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pkharvest.fulltext import parse_pmc_xml
from pkharvest.records import Measurement
from pkharvest.tables import extract_tables
from pkharvest.tables.evaluate import load_gold, score

ROOT = Path(__file__).resolve().parent.parent


def run(documents: list[bytes]) -> tuple[int, int, list[Measurement], dict[tuple[str, str], str]]:
    articles = tables = 0
    found: list[Measurement] = []
    kinds: dict[tuple[str, str], str] = {}
    for doc in documents:
        parsed = parse_pmc_xml(doc)
        for ft in parsed.articles:
            articles += 1
            pmid = ft.pmid or ft.pmcid
            for res in extract_tables(ft.tables, pmid, ft.pmcid):
                tables += 1
                kinds[(pmid, res.table.table_id)] = res.table.kind
                found.extend(res.measurements)
    return articles, tables, found, kinds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "jats")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    pairs = sorted(
        (x, x.with_suffix(".gold.json"))
        for x in args.data.glob("*.xml")
        if x.with_suffix(".gold.json").is_file()
    )
    golds = [load_gold(g) for _, g in pairs]
    documents = [x.read_bytes() for x, _ in pairs]
    articles, tables, found, kinds = run(documents)
    s = score(golds, found, kinds)
    print(f"fixtures: {len(pairs)} articles, {tables} tables, {s.gold} gold table records")
    print(
        f"table records: P={s.precision:.3f} R={s.recall:.3f} F1={s.f1:.3f} "
        f"({s.matched} matched of {s.gold} gold, {s.predicted} predicted)"
    )
    print(
        f"matched records right: unit {s.share(s.unit_ok):.3f}, n {s.share(s.n_ok):.3f}, "
        f"statistic {s.share(s.statistic_ok):.3f}, all three {s.share(s.all_ok):.3f}"
    )
    print(
        f"classification accuracy: {s.classification_accuracy:.3f} "
        f"({s.tables_right}/{s.tables} tables)"
    )
    for miss in s.misses:
        print(f"  miss: {miss}")

    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(args.repeats):
            run(documents)
        best = min(best, time.perf_counter() - t0)
    n_articles, n_tables = articles * args.repeats, tables * args.repeats
    print(
        f"speed (parse + classify + extract, best of 3 rounds of {args.repeats}): "
        f"{n_articles / best:.1f} articles/s, {n_tables / best:.1f} tables/s "
        f"({best / n_articles * 1000:.2f} ms an article)"
    )


if __name__ == "__main__":
    main()
