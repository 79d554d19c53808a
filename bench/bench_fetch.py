"""EFetch parse throughput: articles/s of ``parse_pubmed_xml`` on a constructed PubMed XML.

    .venv/bin/python bench/bench_fetch.py [--articles 2000] [--repeats 3] [--seed 13]

The document is built with the loopback stand-in's article builder
(``pkharvest.testing.eutils_server``):
synthetic ~250-word abstracts (half structured in 4 labelled sections, inline <i>/<sub>/<sup>
markup and entities), 3 chemicals and 5 MeSH headings each. Prints the best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import random
import time

from pkharvest.fetch import EutilsClient, RateLimiter, parse_pubmed_xml
from pkharvest.testing.eutils_server import EutilsServer, FakeArticle, make_article, pubmed_xml

WORDS = [
    "clearance",
    "volume",
    "distribution",
    "half-life",
    "patients",
    "plasma",
    "concentration",
    "dose",
    "oral",
    "intravenous",
    "model",
    "population",
    "covariate",
    "weight",
    "renal",
    "hepatic",
    "infusion",
    "steady",
    "state",
    "bioavailability",
    "absorption",
    "elimination",
    "exposure",
    "trough",
    "peak",
    "children",
    "adults",
    "study",
]
MARKUP = [
    "C<sub>max</sub>",
    "AUC<sub>0-&#x221e;</sub>",
    "<i>CYP3A4</i>",
    "r<sup>2</sup>",
    "p &lt; 0.05",
    "12 &#xb1; 3 L/h",
]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(12, 28))]
    words.insert(rng.randrange(len(words)), rng.choice(MARKUP))
    return " ".join(words).capitalize() + "."


def build(n: int, seed: int) -> list[FakeArticle]:
    rng = random.Random(seed)
    arts = []
    for i in range(n):
        sents = [_sentence(rng) for _ in range(12)]
        kw: dict[str, object] = {
            "mesh": tuple(rng.sample(WORDS, 5)),
            "doi": f"10.1000/bench.{i}",
            "pmcid": f"PMC{9000000 + i}",
            "raw_xml": True,
        }
        if i % 2:
            labels = ("BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS")
            kw["sections"] = tuple(
                (lab, " ".join(sents[j * 3 : j * 3 + 3])) for j, lab in enumerate(labels)
            )
            sents = []
        arts.append(
            make_article(
                10_000_000 + i,
                title=f"Population pharmacokinetics of <i>drug {i}</i> in patients",
                sentences=sents,
                date=f"20{10 + i % 15}/{1 + i % 12:02d}/15",
                chemicals=[f"Drug {i}", "Midazolam", "Placebos"],
                **kw,
            )
        )
    return arts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument(
        "--loopback",
        action="store_true",
        help="also time search + fetch through the loopback stand-in (no rate limit)",
    )
    args = ap.parse_args()
    articles = build(args.articles, args.seed)
    data = pubmed_xml(articles)
    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        parsed = parse_pubmed_xml(data)
        best = min(best, time.perf_counter() - t0)
    assert len(parsed) == args.articles
    mb = len(data) / 1e6
    print(
        f"parse_pubmed_xml: {args.articles} articles, {mb:.1f} MB XML, best of {args.repeats}: "
        f"{best:.2f} s -> {args.articles / best:,.0f} articles/s ({mb / best:.1f} MB/s)"
    )
    if args.loopback:
        with EutilsServer(articles) as server:
            client = EutilsClient(base_url=server.url, rate_limiter=RateLimiter(1e6))
            t0 = time.perf_counter()
            res = client.search("pharmacokinetics", args.articles)
            n = sum(len(b) for b in client.fetch_articles(res, batch_size=200))
            wall = time.perf_counter() - t0
        assert n == args.articles
        print(
            f"loopback search+fetch (history, batches of 200, no rate limit): {n} articles "
            f"in {wall:.2f} s -> {n / wall:,.0f} articles/s"
        )


if __name__ == "__main__":
    main()
