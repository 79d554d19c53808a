"""Time `pkharvest pool --db` over a store of N measurements (default 1 million).

Usage: python bench/bench_pool.py [N_MEASUREMENTS] [--db PATH] [--keep]

Builds (once; reused with --db when the file exists) a store written through Store.write_batch:
table measurements of 20 drugs × 5 parameters with statistic, n, deviation and population,
100 per article, 2% flagged and every tenth article repeating a value in its abstract. Then
times read_store_rows + pool for one drug and parameter (the work of `pkharvest pool --db`,
without the process start), cold (first call) and warm (best of 5), and prints the figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from pkharvest.pool import pool
from pkharvest.pool.stored import read_store_rows
from pkharvest.records import (
    AbstractSection,
    Article,
    ArticleResult,
    Measurement,
    ScoredSentence,
    Sentence,
)
from pkharvest.store import Store

PER_ARTICLE = 100
DRUGS = [f"drug{i:02d}" for i in range(20)]
PARAMS = [("CL", "L/h", 5.0), ("V", "L", 60.0), ("t1/2", "h", 8.0), ("Cmax", "mg/L", 2.0),
          ("AUC", "mg*h/L", 40.0)]  # fmt: skip
STATS = [("mean", "SD"), ("mean", "SE"), ("geometric_mean", "CV"), ("median", "IQR")]


def article(i: int, rng: random.Random) -> ArticleResult:
    pmid = str(1_000_000 + i)
    drug = DRUGS[i % len(DRUGS)]
    meas = []
    for j in range(PER_ARTICLE):
        param, unit, typical = PARAMS[j % len(PARAMS)]
        stat, dtype = STATS[(i + j) % len(STATS)]
        value = round(typical * rng.lognormvariate(0, 0.4), 4)
        dev = round(value * 0.3, 4) if dtype in ("SD", "SE") else 30.0
        meas.append(Measurement(
            pmid, None, param, None, None, value_text=str(value), value=value, parameter=param,
            unit=unit, unit_text=unit, value_canonical=value, drug=drug, statistic=stat,
            deviation_type=dtype, deviation=dev, deviation_canonical=dev, n=rng.randint(6, 40),
            flags=["implausible_value"] if rng.random() < 0.02 else [],
            population=rng.choice(("healthy", "patients")), species="human", route="oral",
            source="table", table_id="T1", table_label="Table 1", row=j, col=1,
        ))  # fmt: skip
    text = f"{drug} clearance was {meas[0].value} L/h."
    sentences = []
    if i % 10 == 0:  # the abstract repeats the table's first value
        sentences.append(ScoredSentence(Sentence(pmid, 0, text, 0, len(text)), 0.9, True))
        first = meas[0]
        ps, vs = text.index("clearance"), text.index(str(first.value))
        meas.append(Measurement(
            pmid, 0, "clearance", ps, ps + 9, value_text=first.value_text, value_start=vs,
            value_end=vs + len(first.value_text or ""), value=first.value, parameter="CL",
            unit="L/h", unit_text="L/h", value_canonical=first.value, drug=drug,
            statistic=first.statistic, deviation_type=first.deviation_type,
            deviation=first.deviation, deviation_canonical=first.deviation_canonical,
        ))  # fmt: skip
    art = Article(pmid, f"PK of {drug}", (AbstractSection(text),))
    return ArticleResult(article=art, sentences=sentences, measurements=meas)


def build(db: Path, n: int) -> float:
    rng = random.Random(7)
    t = time.perf_counter()
    n_articles = n // PER_ARTICLE
    with Store(db) as store:
        for start in range(0, n_articles, 500):
            batch = [article(i, rng) for i in range(start, min(start + 500, n_articles))]
            store.write_batch(batch, None, "bench")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path)
    args = ap.parse_args()
    db = args.db or Path(tempfile.mkdtemp()) / "bench_pool.duckdb"
    if not db.exists():
        print(f"building {db} with {args.n:,} measurements ...", flush=True)
        print(f"build: {build(db, args.n):.1f} s")
    with Store(db, read_only=True) as store:
        total = store.counts()["measurements"]

    def once() -> tuple[float, int]:
        t = time.perf_counter()
        rows, _ = read_store_rows(db, "drug03", "clearance")
        pool(rows, "REML")
        return time.perf_counter() - t, len(rows)

    cold, n_rows = once()
    warm = [once()[0] for _ in range(5)]
    print(f"store: {total:,} measurements; pooled drug03 CL: {n_rows:,} study rows")
    print(f"pool --db (query + transforms + REML): cold {cold:.3f} s, warm best "
          f"{min(warm):.3f} s, median {statistics.median(warm):.3f} s")


if __name__ == "__main__":
    main()
