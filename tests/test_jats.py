"""JATS parsing: body sections and title paths, what is left out, the non-open-access answer,
malformed articles, and NCBI's real EFetch db=pmc response (../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pkharvest.fulltext import JatsError, normalise_pmcid, parse_pmc_xml
from pkharvest.tables.evaluate import load_gold

DATA = Path(__file__).parent / "data" / "jats"


def _one(name: str):
    parsed = parse_pmc_xml((DATA / name).read_bytes())
    assert parsed.errors == []
    assert len(parsed.articles) == 1
    return parsed.articles[0]


@pytest.mark.parametrize(
    "stem",
    ["pmc_rows", "pmc_columns", "pmc_multihead", "pmc_headings", "pmc_split", "pmc_withheld"],
)
def test_ids_status_and_section_paths_match_gold(stem: str) -> None:
    gold = load_gold(DATA / f"{stem}.gold.json")
    art = _one(f"{stem}.xml")
    assert (art.pmid, art.pmcid, art.status) == (gold.pmid, gold.pmcid, gold.status)
    assert [s.path for s in art.sections] == gold.sections
    assert sorted(t.table_id for t in art.tables) == sorted(gold.kinds)


def test_nested_sections_lists_and_left_out_parts() -> None:
    art = _one("pmc_rows.xml")
    by_path = {s.path: s for s in art.sections}
    design = by_path["Methods > Study design"]
    # the list items are their own paragraphs, after the paragraph before the list
    assert design.text.split("\n") == [
        "Twelve healthy adults and eight adults with renal impairment received a single oral "
        "dose of 500 mg.",
        "Blood was sampled up to 48 h after the dose.",
        "Urine was collected in four intervals.",
    ]
    for start, end in design.paragraphs:
        assert design.text[start:end] in design.text.split("\n")
    everything = " ".join(s.text for s in art.sections)
    # figure caption, table captions and cells, formulas, supplementary material, references
    for absent in (
        "Mean plasma concentrations",
        "Baseline characteristics of",
        "3.42",
        "CL=Dose",
        "Individual concentrations",
        "Reference one",
    ):
        assert absent not in everything
    # citation markers are dropped without leaving stray punctuation
    assert by_path["Discussion"].text == "Doses should be reduced in renal impairment."
    assert by_path["Introduction"].text.startswith(
        "Tamsolidine is cleared mainly by the kidneys. Its"
    )
    # an inline formula is left out of its sentence
    pk = by_path["Methods > Pharmacokinetic analysis"].text
    assert "divided by the area under the curve." in pk


def test_text_directly_under_body_has_an_empty_path() -> None:
    art = _one("pmc_headings.xml")
    assert art.sections[0].path == ""
    assert art.sections[0].text == "This study was registered before enrolment."


def test_tables_keep_their_section_path() -> None:
    art = _one("pmc_columns.xml")
    assert {t.table_id: t.section for t in art.tables} == {
        "tab2": "Results > Pharmacokinetics",
        "tab3": "Results > Pharmacokinetics",
        "tab4": "Results > Safety",
    }


def test_not_open_access_answer_is_unavailable_with_title_kept() -> None:
    art = _one("pmc_withheld.xml")
    assert art.status == "unavailable"
    assert art.title == "Tamsolidine dosing in obesity"
    assert art.sections == () and art.tables == ()


def test_malformed_article_is_reported_by_pmcid_and_its_neighbour_kept() -> None:
    parsed = parse_pmc_xml((DATA / "pmc_malformed.xml").read_bytes())
    assert [a.pmcid for a in parsed.articles] == ["PMC9000007"]
    assert len(parsed.errors) == 1
    pmcid, message = parsed.errors[0]
    assert pmcid == "PMC9000006"
    assert "PMC9000006" in message and "rowspan" in message and "\n" not in message


@pytest.mark.parametrize("body", [b"", b"   ", b"<pmc-articleset><article>", b"<html/>"])
def test_a_response_that_is_not_a_pmc_article_set_raises(body: bytes) -> None:
    with pytest.raises(JatsError):
        parse_pmc_xml(body)


def test_article_without_pmc_id_is_an_error_not_a_crash() -> None:
    doc = b"<pmc-articleset><article><front><article-meta/></front></article></pmc-articleset>"
    parsed = parse_pmc_xml(doc)
    assert parsed.articles == []
    assert parsed.errors[0][0] == "?" and "PMC id" in parsed.errors[0][1]


def test_pmcid_forms() -> None:
    assert normalise_pmcid("8435807") == "PMC8435807"
    assert normalise_pmcid("pmc0123") == "PMC123"
    with pytest.raises(ValueError):
        normalise_pmcid("PMCabc")


def test_real_efetch_pmc_response(eutils_fixtures: Path) -> None:
    parsed = parse_pmc_xml((eutils_fixtures / "efetch_pmc.xml").read_bytes())
    assert parsed.errors == []
    [art] = parsed.articles
    assert (art.pmid, art.pmcid, art.status) == ("34527728", "PMC8435807", "open")
    assert art.tables == ()
    # a correction notice: one paragraph directly under <body>, entities decoded
    [section] = art.sections
    assert section.path == ""
    assert section.text.startswith("This article was originally published with an error")
    assert "corrected to \u221215.1% in the published article." in section.text
    assert art.title.startswith("\u201cLung diffusing capacity")


def test_body_sentences_keep_section_offsets_and_continue_the_index() -> None:
    from pkharvest.fulltext.body import body_sentences

    art = _one("pmc_rows.xml")
    sents = body_sentences(art, "39000001", first_index=4)
    assert [s.index for s in sents] == list(range(4, 4 + len(sents)))
    assert {s.source for s in sents} == {"body"}
    texts = {s.path: s for s in art.sections}
    for s in sents:
        assert texts[s.section].text[s.start : s.end] == s.text
    design = [s.text for s in sents if s.section == "Methods > Study design"]
    assert design == [
        "Twelve healthy adults and eight adults with renal impairment received a single oral "
        "dose of 500 mg.",
        "Blood was sampled up to 48 h after the dose.",
        "Urine was collected in four intervals.",
    ]
    intro = [s.text for s in sents if s.section == "Introduction"]
    assert intro == [
        "Tamsolidine is cleared mainly by the kidneys.",
        "Its pharmacokinetics in renal impairment are not known.",
    ]
    under_body = body_sentences(_one("pmc_headings.xml"), "39000004", 0)
    assert under_body[0].section == "body"


@pytest.mark.parametrize("stem", ["pmc_rows", "pmc_columns", "pmc_multihead"])
def test_a_cut_response_is_a_jats_error(stem: str) -> None:
    data = (DATA / f"{stem}.xml").read_bytes()
    for cut in range(200, len(data) - 20, max(1, len(data) // 25)):
        with pytest.raises(JatsError):
            parse_pmc_xml(data[:cut])
