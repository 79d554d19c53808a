"""End-to-end pipeline benchmark: sentences/s with and without the bCLS filter, peak memory,
filter recall, and record F1 (pmid, parameter, value) against the gold C_VAL relations.

Articles are built from the *test split* (seed 13, 0.7/0.15/0.15, article-grouped) of an
annotated corpus and served by the loopback E-utilities stand-in of the test suite, so the
figures cover fetch → split → filter → tag → link → normalise → store over real HTTP into a real
DuckDB file. Use a model trained on the train/dev parts of the same split (the default
``pkharvest train`` does exactly that).

    .venv/bin/python bench/bench_pipeline.py --model model/default [--corpus FILE] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from pkharvest.corpus.reader import read_corpus
from pkharvest.corpus.splits import DEFAULT_PROPORTIONS, DEFAULT_SEED, split_by_article
from pkharvest.fetch import EutilsClient, RateLimiter, RetryPolicy
from pkharvest.pipeline import Extractor, load_tagger, run_search
from pkharvest.scoring import (
    gold_records,
    gold_records_with_unit,
    measurement_records,
    measurement_records_with_unit,
    score_records,
)
from pkharvest.screen import DEFAULT_THRESHOLD
from pkharvest.store import Store
from pkharvest.testing.eutils_server import EutilsServer, make_article

QUERY = "pharmacokinetic report"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3, help="runs per setting; best is reported")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--precision", default="fp32", help="fp32 or int8")
    args = ap.parse_args()

    split = split_by_article(read_corpus(args.corpus), DEFAULT_PROPORTIONS, seed=DEFAULT_SEED)
    by_pmid: dict[str, list[str]] = defaultdict(list)
    for ex in split.test:
        by_pmid[str(ex.pmid)].append(ex.text)
    articles = [
        make_article(p, title="Pharmacokinetic report.", sentences=t)
        for p, t in sorted(by_pmid.items())
    ]
    tagger = load_tagger(args.model, args.precision)

    # Filter recall on the gold sentences: a sentence "carries PK" when it has any span.
    preds = tagger.predict([ex.text for ex in split.test])
    positives = [p.pk_probability for p, ex in zip(preds, split.test, strict=True) if ex.spans]
    negatives = [p.pk_probability for p, ex in zip(preds, split.test, strict=True) if not ex.spans]
    kept_pos = sum(p >= args.threshold for p in positives)
    kept_neg = sum(p >= args.threshold for p in negatives)

    out: dict[str, object] = {
        "test_articles": len(articles),
        "test_sentences": len(split.test),
        "threshold": args.threshold,
        "precision": args.precision,
        "filter_recall": round(kept_pos / max(1, len(positives)), 4),
        "filter_kept_negatives": f"{kept_neg}/{len(negatives)}",
    }
    gold = gold_records(split.test)
    gold_unit = gold_records_with_unit(split.test)
    for name, threshold in (("without_filter", 0.0), ("with_filter", args.threshold)):
        best = float("inf")
        score = score_unit = None
        sentences = 0
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp, EutilsServer(articles) as server:
                client = EutilsClient(
                    base_url=server.url,
                    retry=RetryPolicy(max_attempts=3, initial_wait=0.01),
                    rate_limiter=RateLimiter(1000.0),
                )
                extractor = Extractor(tagger, threshold=threshold)
                with Store(Path(tmp) / "b.duckdb") as store:
                    t0 = time.perf_counter()
                    summary = run_search(QUERY, store, client, extractor, max_results=10_000)
                    best = min(best, time.perf_counter() - t0)
                    stored = store.measurements()
                sentences = summary.sentences
                score = score_records(measurement_records(stored), gold)
                score_unit = score_records(measurement_records_with_unit(stored), gold_unit)
        assert score is not None and score_unit is not None
        out[name] = {
            "seconds": round(best, 3),
            "sentences_per_s": round(sentences / best, 1),
            "record_f1": round(score.f1, 4),
            "record_precision": round(score.precision, 4),
            "record_recall": round(score.recall, 4),
            "record_f1_with_unit": round(score_unit.f1, 4),
        }
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
