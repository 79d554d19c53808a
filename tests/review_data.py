"""A small store for the review tests: made-up sentences tagged by hand, linked and normalised
by the real pipeline functions, written with the real store (no fixtures copied)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from pkharvest.link import link
from pkharvest.normalise import normalise
from pkharvest.records import AbstractSection, Article, Entity, Sentence
from pkharvest.store import Store

try:  # the per-article results of the store package
    from pkharvest.records import ArticleResult, Mention, ScoredSentence
except ImportError:  # pragma: no cover - the single-module store
    from pkharvest.store import Mention, ScoredSentence  # type: ignore[no-redef]

    ArticleResult = None  # type: ignore[assignment,misc]

# (pmid, drug, sentence, [(label, text, score), ...]) -- each text is found left to right.
SENTENCES: list[tuple[str, str, str, list[tuple[str, str, float]]]] = [
    ("1001", "midazolam", "Midazolam clearance was 25.3 L/h in healthy volunteers.",
     [("PK", "clearance", 0.99), ("VALUE", "25.3", 0.98), ("UNITS", "L/h", 0.97)]),
    ("1001", "midazolam", "The elimination half-life of midazolam was 3.1 h.",
     [("PK", "elimination half-life", 0.97), ("VALUE", "3.1", 0.96), ("UNITS", "h", 0.95)]),
    ("1002", "midazolam", "In the second cohort, midazolam clearance was 27.9 L/h.",
     [("PK", "clearance", 0.98), ("VALUE", "27.9", 0.97), ("UNITS", "L/h", 0.96)]),
    ("1002", "midazolam", "One patient had a clearance of 2530 L/h after the infusion.",
     [("PK", "clearance", 0.95), ("VALUE", "2530", 0.94), ("UNITS", "L/h", 0.93)]),
    ("1003", "midazolam", "Midazolam clearance was 24.0 L/h on day 1.",
     [("PK", "clearance", 0.99), ("VALUE", "24.0", 0.99), ("UNITS", "L/h", 0.99)]),
    ("1003", "midazolam", "The volume of distribution was 66 L in adults.",
     [("PK", "volume of distribution", 0.55), ("VALUE", "66", 0.61), ("UNITS", "L", 0.6)]),
    ("1004", "caffeine", "Caffeine Cmax was 8.2 mg/L after a 200 mg oral dose.",
     [("PK", "Cmax", 0.97), ("VALUE", "8.2", 0.96), ("UNITS", "mg/L", 0.95)]),
    ("1004", "caffeine", "The caffeine half-life was 5.0 blorps in smokers.",
     [("PK", "half-life", 0.9), ("VALUE", "5.0", 0.9), ("UNITS", "blorps", 0.8)]),
]


def build(path: Path, sentences=SENTENCES, model_version: str = "test-v1") -> Path:
    """Write the articles of ``sentences`` to a new store at ``path``."""
    by_pmid: dict[str, list] = {}
    for row in sentences:
        by_pmid.setdefault(row[0], []).append(row)
    with Store(path) as store:
        for pmid, rows in by_pmid.items():
            drug = rows[0][1]
            text = " ".join(r[2] for r in rows)
            article = Article(pmid=pmid, title=f"Pharmacokinetics of {drug} ({pmid})",
                              sections=(AbstractSection(text, "RESULTS"),),
                              chemicals=(drug,), year=2020, journal="J Test Pharmacol")
            sents, ments, meas = [], [], []
            offset = 0
            for i, (_, _, stext, ents) in enumerate(rows):
                sent = Sentence(pmid, i, stext, offset, offset + len(stext), "RESULTS")
                offset += len(stext) + 1
                sents.append(ScoredSentence(sent, 0.9))
                entities, pos = [], 0
                for label, etext, score in ents:
                    m = re.compile(re.escape(etext)).search(stext, pos)
                    assert m, (etext, stext)
                    entities.append(Entity(label, m.start(), m.end(), etext, score))
                    pos = m.end()
                ments += [Mention(pmid, i, e) for e in entities]
                for x in link(sent, entities):
                    meas.append(normalise(dataclasses.replace(x, drug=drug,
                                                              drug_source="test")))
            if ArticleResult is None:
                store.write_batch([article], sents, ments, meas, run_id=None,
                                  model_version=model_version)
            else:
                store.write_batch([ArticleResult(article, sents, ments, meas)], run_id=None,
                                  model_version=model_version)
    return path
