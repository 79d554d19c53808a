"""Stored-article records the store tests share: pipeline results built by hand, offsets
computed from their text."""

from __future__ import annotations

from dataclasses import replace

from pkharvest.records import (
    AbstractSection,
    Article,
    ArticleResult,
    ArticleTable,
    Entity,
    Measurement,
    Mention,
    ScoredSentence,
    Sentence,
)
from pkharvest.store import Store


def make_article(pmid: str, n_sentences: int = 2, drug: str = "midazolam") -> tuple:
    """An article whose sentence i reads ``Clearance was <i+1>.5 L/h`` with its mentions and
    one linked measurement per sentence (all offsets computed from the text)."""
    texts = [f"In {drug} study {pmid}, clearance was {i + 1}.5 L/h." for i in range(n_sentences)]
    article = Article(
        pmid=pmid,
        title=f"Pharmacokinetics of {drug} ({pmid})",
        sections=(AbstractSection(" ".join(texts), "RESULTS"),),
        journal="J Test Pharmacol",
        year=2020,
        doi=f"10.1000/{pmid}",
        mesh=("Humans", "Midazolam"),
        chemicals=(drug,),
        publication_types=("Journal Article",),
        language="eng",
    )
    sentences, mentions, measurements = [], [], []
    offset = 0
    for i, text in enumerate(texts):
        sentences.append(
            ScoredSentence(Sentence(pmid, i, text, offset, offset + len(text), "RESULTS"), 0.9)
        )
        offset += len(text) + 1
        ps = text.index("clearance")
        vs = text.index(f"{i + 1}.5")
        us = text.index("L/h")
        ents = [
            Entity("PK", ps, ps + 9, "clearance", 0.98),
            Entity("VALUE", vs, vs + 3, f"{i + 1}.5", 0.97),
            Entity("UNITS", us, us + 3, "L/h", 0.95),
        ]
        mentions += [Mention(pmid, i, e) for e in ents]
        measurements.append(
            Measurement(
                pmid=pmid,
                sentence_index=i,
                parameter_text="clearance",
                parameter_start=ps,
                parameter_end=ps + 9,
                value_text=f"{i + 1}.5",
                value_start=vs,
                value_end=vs + 3,
                value=i + 1.5,
                unit_text="L/h",
                parameter="clearance",
                unit="L/h",
                value_canonical=i + 1.5,
                measurement_type="mean",
                drug=drug,
                drug_source="chemicals",
                flags=[],
            )
        )
    return article, sentences, mentions, measurements


def write(store: Store, *arts: tuple, run_id: int | None = None, mv: str = "v1"):
    return store.write_batch([ArticleResult(*a) for a in arts], run_id, mv)


ABSTRACT_TEXT = "Midazolam clearance was 25.5 L/h in adults."
BODY_TEXT = "The mean clearance of midazolam was 31.2 L/h on day 1."


def abstract_result(pmid: str = "100") -> ArticleResult:
    """One abstract sentence with one measurement (offsets computed from the text)."""
    text = ABSTRACT_TEXT
    ps, vs, us = text.index("clearance"), text.index("25.5"), text.index("L/h")
    meas = Measurement(
        pmid, 0, "clearance", ps, ps + 9, "25.5", vs, vs + 4, 25.5, unit_text="L/h",
        parameter="clearance", unit="L/h", value_canonical=25.5, drug="midazolam",
        drug_source="sentence", measurement_type="mean",
    )  # fmt: skip
    return ArticleResult(
        Article(pmid, "Midazolam in adults", (AbstractSection(text, "RESULTS"),), pmcid="PMC9"),
        [ScoredSentence(Sentence(pmid, 0, text, 0, len(text), "RESULTS"), 0.97)],
        [
            Mention(pmid, 0, Entity("PK", ps, ps + 9, "clearance", 0.99)),
            Mention(pmid, 0, Entity("VALUE", vs, vs + 4, "25.5", 0.98)),
            Mention(pmid, 0, Entity("UNITS", us, us + 3, "L/h", 0.97)),
        ],
        [meas],
    )


def full_text_result(pmid: str = "100") -> ArticleResult:
    """The abstract result plus a body sentence, a PK table and a measurement from each."""
    base = abstract_result(pmid)
    section = "Results > Pharmacokinetics"
    body = Sentence(pmid, 1, BODY_TEXT, 0, len(BODY_TEXT), section, source="body")
    ps, vs = BODY_TEXT.index("clearance"), BODY_TEXT.index("31.2")
    body_meas = Measurement(
        pmid, 1, "clearance", ps, ps + 9, "31.2", vs, vs + 4, 31.2, unit_text="L/h",
        parameter="clearance", unit="L/h", value_canonical=31.2, drug="midazolam",
        source="body", pmcid="PMC9", section=section, statistic="mean", species="human",
        route="intravenous", dose_text="5 mg", population="healthy", age_group="adult",
    )  # fmt: skip
    grid = (
        ("Parameter", "1 g q8h (n = 10)", "1 g q8h (n = 10)"),
        ("", "Day 1", "Day 3"),
        ("CL (L/h)", "12.3 ± 4.5", "10.1 ± 2.0"),
        ("Vss (L)", "40 (35-47)", "38 (30-44)"),
    )
    table = ArticleTable(
        pmid, "T2", "Table 2", "Pharmacokinetic parameters of midazolam", "pk", 2, grid,
        ("Values are mean ± SD.", "CL, clearance."),
    )  # fmt: skip
    demo = ArticleTable(pmid, "T1", "Table 1", "Demographics", "demographic", 1,
                        (("Age (y)", "45 (30-60)"),), ())  # fmt: skip
    table_meas = Measurement(
        pmid, None, "CL", None, None, "12.3 ± 4.5", None, None, 12.3, deviation_text="4.5",
        deviation=4.5, deviation_type="SD", unit_text="L/h", parameter="clearance", unit="L/h",
        value_canonical=12.3, drug="midazolam", source="table", pmcid="PMC9",
        section="Results", table_id="T2", table_label="Table 2", row=2, col=1,
        group_label="1 g q8h (n = 10) / Day 1", n=10, statistic="mean",
        deviation_canonical=4.5, age_group="adult", population="patients",
        conditions=["renal_impairment", "critical_illness"], species="human",
        route="intravenous", dose_text="1 g q8h",
        evidence="Table 2 | CL (L/h) | 1 g q8h (n = 10) / Day 1 | 12.3 ± 4.5",
    )  # fmt: skip
    return ArticleResult(
        replace(base.article, fulltext_status="open"),
        [*base.sentences, ScoredSentence(body, 0.91)],
        base.mentions,
        [*base.measurements, body_meas, table_meas],
        tables=(table, demo),
    )
