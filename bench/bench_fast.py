"""Throughput of the fast inference path against fp32, side by side in one run: tagging alone
and end to end (fetch over loopback HTTP → parse → split → filter → tag → link → normalise →
store in a DuckDB file), in sentences/s.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_fast.py --model model/default \\
        [--corpus FILE] [--repeat 3] [--threads N] [--batch-size 32]

Tagging alone: every corpus sentence tagged in one ``predict`` call (equal-length batches).
End to end: the articles of the test split of the corpus (seed 13, article-grouped) served by
the loopback E-utilities stand-in of the test suite and searched with ``run_search``. Each
setting runs ``--repeat`` times after one warm-up; the best run is printed (the machine may be
shared: quote the ratio of the two columns rather than absolute figures).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from pkharvest.corpus.reader import read_corpus
from pkharvest.corpus.splits import split_by_article
from pkharvest.fetch import EutilsClient, RateLimiter, RetryPolicy
from pkharvest.model.config import PRECISIONS
from pkharvest.model.tagger import set_threads
from pkharvest.pipeline import Extractor, load_tagger, run_search
from pkharvest.store import Store
from pkharvest.testing.eutils_server import EutilsServer, make_article

QUERY = "pharmacokinetic report"


def _tagging(tagger, texts: list[str], repeat: int, batch_size: int) -> float:
    tagger.predict(texts[:batch_size], batch_size=batch_size)  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        tagger.predict(texts, batch_size=batch_size)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def _end_to_end(tagger, articles, repeat: int, batch_size: int) -> float:
    best, sentences = float("inf"), 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp, EutilsServer(articles) as server:
            client = EutilsClient(base_url=server.url,
                                  retry=RetryPolicy(max_attempts=3, initial_wait=0.01),
                                  rate_limiter=RateLimiter(1000.0))
            with Store(Path(tmp) / "b.duckdb") as store:
                t0 = time.perf_counter()
                summary = run_search(QUERY, store, client,
                                     Extractor(tagger, batch_size=batch_size),
                                     max_results=10_000)
                best = min(best, time.perf_counter() - t0)
        sentences = summary.sentences
    return sentences / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    threads = set_threads(args.threads)

    examples = read_corpus(args.corpus)
    texts = [e.text for e in examples]
    by_pmid: dict[str, list[str]] = defaultdict(list)
    for ex in split_by_article(examples, (0.7, 0.15, 0.15), seed=13).test:
        by_pmid[str(ex.pmid)].append(ex.text)
    articles = [make_article(p, title="Pharmacokinetic report.", sentences=t)
                for p, t in sorted(by_pmid.items())]

    rows: dict[str, dict[str, float]] = {}
    for precision in PRECISIONS:
        tagger = load_tagger(args.model, precision)
        _end_to_end(tagger, articles[:3], 1, args.batch_size)  # warm-up
        rows[precision] = {
            "tagging": _tagging(tagger, texts, args.repeat, args.batch_size),
            "end_to_end": _end_to_end(tagger, articles, args.repeat, args.batch_size),
        }
    print(f"sentences/s, {threads} torch thread(s); tagging: {len(texts)} sentences; "
          f"end to end: {len(articles)} articles, {sum(len(t) for t in by_pmid.values())} "
          "sentences")
    print(f"{'':<12}" + "".join(f"{p:>10}" for p in PRECISIONS) + f"{'ratio':>10}")
    for what in ("tagging", "end_to_end"):
        vals = [rows[p][what] for p in PRECISIONS]
        print(f"{what:<12}" + "".join(f"{v:10.1f}" for v in vals) + f"{vals[1] / vals[0]:10.2f}")


if __name__ == "__main__":
    main()
