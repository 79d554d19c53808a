"""Parsing of E-utilities XML: real NCBI responses (shared fixtures) and constructed edge cases."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkharvest.errors import FetchError
from pkharvest.fetch import flatten_markup, parse_esearch_xml, parse_pubmed_xml
from pkharvest.testing.eutils_server import esearch_xml, make_article, pubmed_xml


def _ids_in(xml: bytes) -> list[str]:
    return re.findall(r"<Id>(\d+)</Id>", xml.decode())


@pytest.mark.parametrize("name", ["esearch1", "esearch2", "esearch3", "esearch5"])
def test_esearch_fixtures(eutils_fixtures: Path, name: str) -> None:
    data = (eutils_fixtures / f"{name}.xml").read_bytes()
    res = parse_esearch_xml(data)
    assert res.count == int(re.search(rb"<Count>(\d+)</Count>", data).group(1))
    assert list(res.pmids) == _ids_in(data)
    has_history = b"<WebEnv>" in data
    assert (res.webenv is not None) == has_history
    assert (res.query_key is not None) == has_history
    if has_history:
        assert res.webenv == re.search(rb"<WebEnv>([^<]+)<", data).group(1).decode()


def test_esearch_garbage_and_empty() -> None:
    with pytest.raises(FetchError, match="esearch: empty"):
        parse_esearch_xml(b"  ")
    with pytest.raises(FetchError, match="esearch: unparsable"):
        parse_esearch_xml(esearch_xml(3, ["1", "2", "3"], 0)[:150])


@pytest.mark.parametrize("name", ["pubmed1", "pubmed2", "pubmed4", "pubmed5", "pubmed6", "pubmed7"])
def test_pubmed_fixtures_basic_fields(eutils_fixtures: Path, name: str) -> None:
    data = (eutils_fixtures / f"{name}.xml").read_bytes()
    arts = parse_pubmed_xml(data)
    expected_pmids = re.findall(rb"<MedlineCitation[^>]*>\s*<PMID[^>]*>(\d+)</PMID>", data)
    assert [a.pmid for a in arts] == [p.decode() for p in expected_pmids]
    for a in arts:
        assert a.title and "<" not in a.title.replace("< ", "")  # no leftover tags
        assert a.year is not None and 1900 < a.year < 2100
        assert a.journal
        for s in a.sections:
            assert not re.search(r"</?(i|b|u|sup|sub)>", s.text)
            assert "&lt;" not in s.text and "&amp;" not in s.text


def test_pubmed4_structured_abstract(eutils_fixtures: Path) -> None:
    (a,) = parse_pubmed_xml((eutils_fixtures / "pubmed4.xml").read_bytes())
    assert a.pmid == "27797938"
    assert [s.label for s in a.sections] == ["OBJECTIVE", "DESIGN", "RESULTS", "CONCLUSIONS"]
    assert a.title.startswith("Leucocyte telomere length, genetic variants at the TERT gene")
    results = a.sections[2].text
    # <sub>trend</sub>, <i>TERT</i>, <sup>2</sup>&lt;0.25 flattened without losing characters
    assert "ptrend=0.048" in results
    assert "r2<0.25" in results
    assert "at TERT (linkage" in results
    assert a.doi == "10.1136/gutjnl-2016-312510"
    assert a.pmcid == "PMC5442267"
    assert a.year == 2017 and a.journal == "Gut" and a.language == "eng"
    assert "Telomerase" in a.chemicals and "TERT protein, human" in a.chemicals
    assert "Adenocarcinoma" in a.mesh
    assert "Journal Article" in a.publication_types
    assert a.abstract.startswith("OBJECTIVE: Telomere shortening")


def test_pubmed1_no_abstract_and_season_date(eutils_fixtures: Path) -> None:
    arts = {a.pmid: a for a in parse_pubmed_xml((eutils_fixtures / "pubmed1.xml").read_bytes())}
    a = arts["12091962"]
    assert a.sections == () and a.abstract == ""
    assert a.year == 1990  # PubDate has Year + Season


def test_pmc_jats_does_not_crash(eutils_fixtures: Path) -> None:
    arts = parse_pubmed_xml((eutils_fixtures / "efetch_pmc.xml").read_bytes())
    assert len(arts) == 1
    a = arts[0]
    assert a.pmid == "34527728" and a.pmcid == "PMC8435807"
    assert a.title.startswith("\u201cLung diffusing capacity for nitric oxide")
    assert "ERJ Open Res 2021" in a.title  # <italic> flattened
    assert a.doi == "10.1183/23120541.50193-2021" and a.year == 2021


def test_inline_markup_and_entities_flattened() -> None:
    art = make_article(
        "5001",
        title="Pharmacokinetics of <i>S</i>-ketamine in &#x3b1;1-AGP &amp; children",
        sections=[
            ("METHODS", "AUC<sub>0-&#x221e;</sub> and C<sub>max</sub> were measured"),
            ("RESULTS", "CL/F was 12&#xb1;3 L/h (p &lt; 0.05; r<sup>2</sup>&gt;0.9)"),
        ],
        raw_xml=True,
    )
    (a,) = parse_pubmed_xml(pubmed_xml([art]))
    assert a.title == "Pharmacokinetics of S-ketamine in \u03b11-AGP & children"
    assert a.sections[0].text == "AUC0-\u221e and Cmax were measured"
    assert a.sections[1].text == "CL/F was 12\u00b13 L/h (p < 0.05; r2>0.9)"
    assert a.sections[1].label == "RESULTS"


def test_literal_angle_brackets_survive() -> None:
    # escaped text that looks like a tag must not be mistaken for markup
    art = make_article("5002", title="Dose <i> versus </i> exposure", sentences=["a <b> c"])
    (a,) = parse_pubmed_xml(pubmed_xml([art]))
    assert a.title == "Dose <i> versus </i> exposure"
    assert a.sections[0].text == "a <b> c"


def test_medline_date_and_fields() -> None:
    art = make_article(
        "5003",
        title="Warfarin",
        sentences=["Half-life was 40 h."],
        chemicals=["Warfarin", "Vitamin K"],
        mesh=["Anticoagulants"],
        doi="10.1/xyz",
        pmcid="PMC123",
        medline_date="1998 Dec-1999 Jan",
        language="fre",
        publication_types=("Journal Article", "Clinical Trial"),
    )
    (a,) = parse_pubmed_xml(pubmed_xml([art]))
    assert a.year == 1998
    assert a.chemicals == ("Warfarin", "Vitamin K") and a.mesh == ("Anticoagulants",)
    assert a.doi == "10.1/xyz" and a.pmcid == "PMC123" and a.language == "fre"
    assert a.publication_types == ("Journal Article", "Clinical Trial")
    assert a.sections[0].label is None and a.abstract == "Half-life was 40 h."


def test_book_article_skipped_with_log(caplog: pytest.LogCaptureFixture) -> None:
    arts = [make_article("7001", sentences=["x."]), make_article("7002", book=True)]
    with caplog.at_level(logging.INFO, logger="pkharvest.fetch.parse"):
        out = parse_pubmed_xml(pubmed_xml(arts))
    assert [a.pmid for a in out] == ["7001"]
    assert any("PubmedBookArticle 7002" in r.getMessage() for r in caplog.records)


def test_empty_article_set_is_empty_list() -> None:
    assert parse_pubmed_xml(pubmed_xml([])) == []


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", b"<html><body>Service unavailable</body></html>", b"not xml at all"],
)
def test_malformed_names_requested_pmids(data: bytes) -> None:
    with pytest.raises(FetchError) as info:
        parse_pubmed_xml(data, requested=["111", "222"])
    assert "111, 222" in str(info.value)


def test_truncated_xml_is_an_error() -> None:
    data = pubmed_xml([make_article(str(i), sentences=["s."]) for i in range(1, 6)])
    for cut in (len(data) // 3, len(data) // 2, len(data) - 30):
        with pytest.raises(FetchError, match="unparsable PubMed XML for PMIDs 1, 2"):
            parse_pubmed_xml(data[:cut], requested=["1", "2", "3", "4", "5"])


def test_latin1_declared_encoding() -> None:
    xml = pubmed_xml(
        [make_article("6001", title="Caf\u00e9 \u00b5g/mL", sentences=["\u00e9t\u00e9."])]
    )
    latin = xml.decode("utf-8").replace(
        '<?xml version="1.0" ?>', '<?xml version="1.0" encoding="ISO-8859-1" ?>'
    )
    (a,) = parse_pubmed_xml(latin.encode("latin-1"))
    assert a.title == "Caf\u00e9 \u00b5g/mL" and a.sections[0].text == "\u00e9t\u00e9."


def test_invalid_utf8_bytes_raise_fetch_error() -> None:
    xml = pubmed_xml([make_article("6002", title="ok")]).replace(b"ok", b"o\xff\xfek")
    with pytest.raises(FetchError, match="6002"):
        parse_pubmed_xml(xml, requested=["6002"])


def test_flatten_markup_none_and_whitespace() -> None:
    assert flatten_markup(None) == ""
    assert flatten_markup("  a\n\t <i>b</i>  &amp;c ") == "a b &c"


# Text without XML-forbidden code points; surrogates and most C0 controls are not allowed in XML.
_xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip())


@settings(max_examples=60, deadline=None)
@given(title=_xml_text, sentence=_xml_text)
def test_roundtrip_odd_unicode(title: str, sentence: str) -> None:
    (a,) = parse_pubmed_xml(pubmed_xml([make_article("9", title=title, sentences=[sentence])]))
    assert a.title == " ".join(title.split())
    expected = " ".join(sentence.split())
    assert (a.sections[0].text if a.sections else "") == expected


def test_unknown_future_dtd_falls_back_to_bundled(caplog: pytest.LogCaptureFixture) -> None:
    # dtd.nlm.nih.gov has no such DTD (and tests may run offline): parse with the bundled one
    xml = pubmed_xml([make_article("8001", title="Future", sentences=["s."])])
    xml = xml.replace(b"pubmed_250101.dtd", b"pubmed_990101.dtd")
    with caplog.at_level(logging.WARNING, logger="pkharvest.fetch.parse"):
        (a,) = parse_pubmed_xml(xml)
        (b,) = parse_pubmed_xml(xml)  # second time: no new download attempt, no new warning
    assert a == b and a.title == "Future"
    warnings = [r for r in caplog.records if "pubmed_990101.dtd" in r.getMessage()]
    assert len(warnings) == 1
