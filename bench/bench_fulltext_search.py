"""The effect of ``--full-text`` on a search of 50 articles: wall time, sentences, measurements
and tables, with and without full text, over the loopback E-utilities stand-in into a real DuckDB
file.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_fulltext_search.py [--model model/default]
        [--articles 50] [--repeat 2]

The 50 articles carry the JATS fixtures of ``tests/data/jats`` (the five open ones in turn, each
under its own PMID/PMC id) and a two-sentence abstract. Without ``--model`` a model with freshly
initialised heads is built: its entities are noise, but the tagger's cost per sentence is the same
as a trained model's, which is what the timing needs. Prints the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from pkharvest.fetch import EutilsClient, RateLimiter, RetryPolicy
from pkharvest.pipeline import Extractor, load_tagger, run_search
from pkharvest.store import Store
from pkharvest.testing.eutils_server import EutilsServer, FakeArticle, make_article

ROOT = Path(__file__).resolve().parent.parent
QUERY = "tamsolidine"
STEMS = ["pmc_rows", "pmc_columns", "pmc_multihead", "pmc_headings", "pmc_split"]


def articles(n: int) -> list[FakeArticle]:
    data = ROOT / "tests" / "data" / "jats"
    jats = {
        s: re.search(r"<article\b.*</article>", (data / f"{s}.xml").read_text(), re.S).group(0)  # type: ignore[union-attr]
        for s in STEMS
    }
    out = []
    for i in range(n):
        stem = STEMS[i % len(STEMS)]
        pmid, pmc = str(41000000 + i), str(8100000 + i)
        text = re.sub(r'(pub-id-type="pmid">)\d+<', rf"\g<1>{pmid}<", jats[stem])
        text = re.sub(r'(pub-id-type="pmc">)(?:PMC)?\d+<', rf"\g<1>{pmc}<", text)
        out.append(
            make_article(
                pmid,
                title=f"Tamsolidine pharmacokinetics, report {i}",
                sentences=[
                    "Tamsolidine clearance was 4.2 L/h and its half-life 6.1 h.",
                    "Exposure was higher in renal impairment.",
                ],
                pmcid=f"PMC{pmc}",
                jats=text,
                chemicals=["tamsolidine"],
            )
        )
    return out


def extractor(model: Path | None) -> Extractor:
    if model is not None:
        return Extractor(load_tagger(model))
    import torch

    from pkharvest.model.config import ModelConfig
    from pkharvest.model.tagger import PKTagger

    torch.manual_seed(0)
    tagger = PKTagger.create(ModelConfig(labels=("PK", "VALUE", "UNITS", "RANGE", "COMPARE")))
    return Extractor(tagger)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--articles", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    ex = extractor(args.model)
    arts = articles(args.articles)
    with EutilsServer(arts) as server:
        for full_text in (False, True):
            best = float("inf")
            counts: dict[str, int] = {}
            for _ in range(args.repeat):
                client = EutilsClient(
                    base_url=server.url,
                    retry=RetryPolicy(max_attempts=3, initial_wait=0.01),
                    rate_limiter=RateLimiter(1000.0),
                    email="",
                    api_key="",
                )
                with tempfile.TemporaryDirectory() as tmp:
                    db = Path(tmp) / "s.duckdb"
                    t0 = time.perf_counter()
                    with Store(db) as store:
                        summary = run_search(
                            QUERY,
                            store,
                            client,
                            ex,
                            max_results=args.articles,
                            full_text=full_text,
                        )
                    best = min(best, time.perf_counter() - t0)
                    with Store(db, read_only=True) as store:
                        counts = store.counts()
                        table_rows = sum(1 for m in store.measurements() if m.source == "table")
            label = "full text" if full_text else "abstracts"
            print(
                f"{label:>9}: {best:7.2f} s for {summary.hits} articles "
                f"({summary.hits / best:.2f} articles/s); sentences {counts['sentences']}, "
                f"measurements {counts['measurements']} (from tables {table_rows}), "
                f"tables {counts.get('article_tables', 0)}"
            )


if __name__ == "__main__":
    main()
