"""The full-text search tests' articles (the JATS fixtures of tests/data/jats on the loopback
E-utilities stand-in) and what a search stores of them."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from pkharvest.store import Store
from pkharvest.tables.evaluate import load_gold
from pkharvest.testing.eutils_server import FakeArticle, make_article

DATA = Path(__file__).parent / "data" / "jats"
OPEN = ["pmc_rows", "pmc_columns", "pmc_multihead", "pmc_headings", "pmc_split"]
QUERY = "tamsolidine"


def jats_articles(path: Path) -> list[str]:
    return re.findall(r"<article\b.*?</article>", path.read_text(encoding="utf-8"), re.S)


def corpus() -> list[FakeArticle]:
    """The open fixtures (PMIDs from their gold files), the not-open-access one, one without a
    PMC id and one whose JATS is malformed."""
    arts = []
    for stem in OPEN:
        gold = load_gold(DATA / f"{stem}.gold.json")
        arts.append(
            make_article(
                gold.pmid,
                title=f"Tamsolidine pharmacokinetics ({stem})",
                sentences=["Tamsolidine clearance was 4.2 L/h in adults."],
                pmcid=gold.pmcid,
                jats=jats_articles(DATA / f"{stem}.xml")[0],
                chemicals=["tamsolidine"],
            )
        )
    arts.append(
        make_article(
            "39000005",
            title="Tamsolidine dosing in obesity",
            sentences=["Tamsolidine volume of distribution was 80 L."],
            pmcid="PMC9000005",
        )
    )
    arts.append(
        make_article(
            "39000009",
            title="Tamsolidine without a PMC copy",
            sentences=["The half-life of tamsolidine was 6 h."],
        )
    )
    arts.append(
        make_article(
            "39000006",
            title="Tamsolidine table with a broken span",
            sentences=["Tamsolidine Cmax was 3 mg/L."],
            pmcid="PMC9000006",
            jats=jats_articles(DATA / "pmc_malformed.xml")[0],
        )
    )
    return arts


def content(db: Path) -> dict[str, Any]:
    """Everything stored per article, minus run ids and timestamps."""
    with Store(db, read_only=True) as store:
        out: dict[str, Any] = {}
        for pmid in sorted(store.processed_pmids()):
            view = store.article_view(pmid)
            assert view is not None
            out[pmid] = (
                view.article,
                [
                    (s.index, s.source, s.section, s.start, s.end, s.text, s.kept, s.mentions)
                    for s in view.sentences
                ],
                [
                    {k: v for k, v in dataclasses.asdict(m).items() if k != "run_id"}
                    for m in store.measurements(pmid)
                ],
                view.tables,
            )
        counts = store.counts()
    counts.pop("runs", None)
    counts.pop("searches", None)
    return {"articles": out, "counts": counts}
