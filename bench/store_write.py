"""Throughput of Store.write_batch (first write, idempotent rewrite) and of two queries.

Usage: python bench/store_write.py N_ARTICLES SENTENCES_PER_ARTICLE BATCH_SIZE
Synthetic articles: one measurement and three mentions per sentence, 20 drugs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from pkharvest.records import (
    AbstractSection,
    Article,
    ArticleResult,
    Entity,
    Measurement,
    Mention,
    ScoredSentence,
    Sentence,
)
from pkharvest.store import Store


def article(pmid: str, n_sentences: int, drug: str) -> tuple:
    texts = [f"In {drug} study {pmid}, clearance was {i + 1}.5 L/h." for i in range(n_sentences)]
    sents, ments, meas = [], [], []
    for i, text in enumerate(texts):
        sents.append(ScoredSentence(Sentence(pmid, i, text, 0, len(text)), 0.9))
        ps, vs, us = text.index("clearance"), text.index(f"{i + 1}.5"), text.index("L/h")
        spans = (("PK", ps, "clearance"), ("VALUE", vs, f"{i + 1}.5"), ("UNITS", us, "L/h"))
        for label, s, t in spans:
            ments.append(Mention(pmid, i, Entity(label, s, s + len(t), t)))
        meas.append(
            Measurement(
                pmid,
                i,
                "clearance",
                ps,
                ps + 9,
                f"{i + 1}.5",
                vs,
                vs + 3,
                i + 1.5,
                unit_text="L/h",
                parameter="clearance",
                unit="L/h",
                value_canonical=i + 1.5,
                measurement_type="mean",
                drug=drug,
            )
        )
    art = Article(pmid, f"PK of {drug}", (AbstractSection(" ".join(texts)),))
    return art, sents, ments, meas


def main() -> None:
    n_articles, n_sent, batch = (int(a) for a in sys.argv[1:4])
    db = Path(tempfile.mkdtemp()) / "bench.duckdb"
    arts = [article(str(10_000 + i), n_sent, f"drug{i % 20}") for i in range(n_articles)]

    def write_all() -> float:
        t = time.perf_counter()
        with Store(db) as store:
            for i in range(0, n_articles, batch):
                part = arts[i : i + batch]
                store.write_batch([ArticleResult(*a) for a in part], None, "v1")
        return time.perf_counter() - t

    first, again = write_all(), write_all()
    with Store(db, read_only=True) as store:
        t = time.perf_counter()
        _, rows = store.run_query("parameter_summary", {})
        q = time.perf_counter() - t
        t = time.perf_counter()
        store.run_query("needs_review", {})
        r = time.perf_counter() - t
        counts = store.counts()
    print(
        f"{n_articles} articles x {n_sent} sentences, batches of {batch}: first write {first:.2f}s"
        f" ({n_articles / first:.0f} articles/s), idempotent rewrite {again:.2f}s;"
        f" parameter_summary {q * 1000:.0f} ms ({len(rows)} groups),"
        f" needs_review {r * 1000:.0f} ms; {counts}"
    )


if __name__ == "__main__":
    main()
