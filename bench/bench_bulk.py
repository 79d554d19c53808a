"""Throughput of `pkharvest bulk` over a synthetic baseline file (bench/make_baseline.py): tagging
alone and end to end (read → parse → split → filter → tag → link → normalise → store in a DuckDB
file), fp32 against int8, in-process against a local process pool and Ray, in sentences/s.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_bulk.py --model model/default \\
        [--articles 300] [--workers 2] [--threads N] [--precisions fp32,int8] \\
        [--engines local,pool,ray]

Tagging alone: every sentence of the file (split as the pipeline splits) in one ``predict``
call, torch with ``--threads`` threads (default: one per core). End to end: ``run_bulk`` into a
fresh store, timed whole (worker start-up and model loading included, which a short file
makes weigh more): ``local`` tags in-process (``--threads``), ``pool`` and ``ray`` run ``--workers``
taggers of one thread each. Each figure is one run: on a shared machine, compare columns of
the same run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from make_baseline import write_baseline

from pkharvest.bulk import ModelSpec, read_baseline, run_bulk
from pkharvest.model.tagger import set_threads
from pkharvest.pipeline import load_tagger
from pkharvest.sentences import split_article
from pkharvest.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--precisions", default="fp32,int8")
    ap.add_argument("--engines", default="local,pool,ray")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads in-process (default: one per core)")
    args = ap.parse_args()
    precisions = args.precisions.split(",")
    engines = args.engines.split(",")
    threads = set_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_baseline(Path(tmp) / "in", "pubmed26n0001", args.articles, 90_000_001, 1)
        texts = [s.text for chunk in read_baseline(path) if isinstance(chunk, list)
                 for a in chunk for s in split_article(a)]
        rows: dict[str, dict[str, float]] = {}
        for precision in precisions:
            tagger = load_tagger(args.model, precision)
            tagger.predict(texts[:32])  # warm-up
            t0 = time.perf_counter()
            tagger.predict(texts)
            rows.setdefault("tagging alone", {})[precision] = len(texts) / (
                time.perf_counter() - t0)
            for engine in engines:
                single = engine == "local"
                spec = ModelSpec(args.model, precision, batch_size=32,
                                 threads=threads if single else 1)
                db = Path(tmp) / f"{engine}-{precision}.duckdb"
                set_threads(threads)
                with Store(db) as store:
                    t0 = time.perf_counter()
                    summary = run_bulk([path], store, spec,
                                       engine="ray" if engine == "ray" else "local",
                                       workers=1 if single else args.workers)
                    seconds = time.perf_counter() - t0
                sentences = summary.counts()["sentences"]
                label = f"end to end, {engine}" + ("" if single else f" x{args.workers}")
                rows.setdefault(label, {})[precision] = sentences / seconds
    print(f"{args.articles} articles, {len(texts)} sentences; torch threads {threads} "
          "in-process; sentences/s")
    print(f"{'':<26}" + "".join(f"{p:>10}" for p in precisions))
    for label, vals in rows.items():
        print(f"{label:<26}" + "".join(f"{vals.get(p, float('nan')):10.1f}" for p in precisions))


if __name__ == "__main__":
    main()
