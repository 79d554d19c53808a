"""Parsing of E-utilities responses: ESearch results and EFetch ``PubmedArticleSet`` XML.

PubMed XML is parsed with Biopython's ``Bio.Entrez`` parser (validating against the DTDs that
Biopython bundles). We call it with ``escape=True`` so that inline markup (``<i>``, ``<sup>``,
``<sub>``, MathML...) comes back as tags while every literal ``<``/``&`` of the text comes back
escaped; stripping the tags and un-escaping afterwards then flattens the markup without ever
confusing a literal ``p < 0.05`` with a tag.

PMC (JATS) responses are not what the pipeline asks for, but a user may point us at one: Bio.Entrez
turns JATS into deeply nested lists, so that case is read with the standard library's ElementTree
instead (title, abstract, ids, journal, year only).
"""

from __future__ import annotations

import functools
import html
import io
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from Bio import Entrez

from pkharvest.errors import FetchError
from pkharvest.records import AbstractSection, Article

logger = logging.getLogger(__name__)

_TAG = re.compile(r"<[^<>]*>")
_WS = re.compile(r"\s+")
_YEAR = re.compile(r"\b(1[5-9]\d\d|2\d\d\d)\b")


@dataclass(frozen=True)
class SearchResult:
    """What ESearch said: total hit count, the PMIDs collected (at most ``max_results``) and the
    history-server handle (``webenv``/``query_key``, ``None`` without history)."""

    count: int
    pmids: tuple[str, ...]
    webenv: str | None = None
    query_key: str | None = None
    query_translation: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


def flatten_markup(text: Any) -> str:
    """Text of an Entrez element parsed with ``escape=True``: tags dropped, entities resolved,
    whitespace runs collapsed to one space."""
    if text is None:
        return ""
    s = _TAG.sub("", str(text))
    s = html.unescape(s)
    return _WS.sub(" ", s).strip()


def pmid_summary(pmids: Sequence[str] | None) -> str:
    """``PMIDs 1, 2, 3 and 7 more`` for error messages (at most ten shown)."""
    if not pmids:
        return "no PMIDs given"
    shown = ", ".join(pmids[:10])
    more = f" and {len(pmids) - 10} more" if len(pmids) > 10 else ""
    return f"PMIDs {shown}{more}"


_PUBMED_DTD = re.compile(rb"pubmed_(\d{6})\.dtd")
_unreachable_dtds: set[bytes] = set()  # DTDs that could not be downloaded in this process


@functools.lru_cache(maxsize=1)
def _newest_bundled_pubmed_dtd() -> bytes | None:
    folder = Path(Entrez.__file__).parent / "DTDs"
    names = sorted(p.name for p in folder.glob("pubmed_[0-9]*.dtd"))  # pubmed_yymmdd.dtd
    return names[-1].encode("ascii") if names else None


def _with_dtd(data: bytes, start: int, end: int, dtd: bytes) -> bytes:
    return data[:start] + dtd + data[end:]


def _entrez_read(data: bytes) -> Any:
    """``Entrez.read`` with ``escape=True``. ``ignore_errors`` stays False so that a truncated
    document is reported rather than silently shortened. A PubMed DTD newer than this
    Biopython that cannot be downloaded (e.g. replaying a recording offline) is replaced by the
    newest bundled PubMed DTD, with a warning (once per DTD and process)."""
    m = _PUBMED_DTD.search(data, 0, 1024)
    newest = _newest_bundled_pubmed_dtd()
    if m and newest and m.group(0) in _unreachable_dtds:
        data = _with_dtd(data, m.start(), m.end(), newest)
        return Entrez.read(io.BytesIO(data), validate=True, escape=True)
    try:
        return Entrez.read(io.BytesIO(data), validate=True, escape=True)
    except RuntimeError as exc:
        if "Failed to access" not in str(exc) or not m or not newest:
            raise
        _unreachable_dtds.add(m.group(0))
        logger.warning("%s; parsing with the bundled %s instead", exc, newest.decode())
        data = _with_dtd(data, m.start(), m.end(), newest)
        return Entrez.read(io.BytesIO(data), validate=True, escape=True)


# --------------------------------------------------------------------------------- ESearch


def parse_esearch_xml(data: bytes) -> SearchResult:
    """Parse an ESearch ``eSearchResult``; raises :class:`FetchError` on malformed XML or on an
    ``ERROR`` element from NCBI."""
    if not data or not data.strip():
        raise FetchError("esearch: empty response")
    try:
        rec = Entrez.read(io.BytesIO(data), validate=True, escape=False)
    except Exception as exc:  # Bio.Entrez raises several unrelated types (Expat, Corrupted...)
        raise FetchError(f"esearch: unparsable XML ({type(exc).__name__}: {exc})") from exc
    if not isinstance(rec, Mapping) or ("Count" not in rec and "ERROR" not in rec):
        raise FetchError("esearch: response is not an eSearchResult")
    if rec.get("ERROR") and "Count" not in rec:
        raise FetchError(f"esearch: NCBI reported an error: {rec['ERROR']}")
    count = int(rec.get("Count", 0))
    pmids = tuple(str(i) for i in rec.get("IdList", []))
    webenv = str(rec["WebEnv"]) if rec.get("WebEnv") else None
    query_key = str(rec["QueryKey"]) if rec.get("QueryKey") else None
    translation = str(rec["QueryTranslation"]) if rec.get("QueryTranslation") else None
    return SearchResult(count, pmids, webenv, query_key, translation)


# ---------------------------------------------------------------------------------- PubMed


def _year(pub_date: Mapping[str, Any] | None) -> int | None:
    if not pub_date:
        return None
    for key in ("Year", "MedlineDate"):
        if pub_date.get(key):
            m = _YEAR.search(str(pub_date[key]))
            if m:
                return int(m.group(1))
    return None


def _sections(article: Mapping[str, Any]) -> tuple[AbstractSection, ...]:
    abstract = article.get("Abstract") or {}
    out: list[AbstractSection] = []
    for part in abstract.get("AbstractText", []) or []:
        text = flatten_markup(part)
        attrs = getattr(part, "attributes", {}) or {}
        label = attrs.get("Label") or None
        if text or label:
            out.append(AbstractSection(text=text, label=str(label) if label else None))
    return tuple(out)


def _doi(article: Mapping[str, Any], ids: Iterable[Any]) -> str | None:
    for el in article.get("ELocationID", []) or []:
        if getattr(el, "attributes", {}).get("EIdType") == "doi" and str(el).strip():
            return str(el).strip()
    for el in ids:
        if getattr(el, "attributes", {}).get("IdType") == "doi" and str(el).strip():
            return str(el).strip()
    return None


def _pmcid(ids: Iterable[Any]) -> str | None:
    for el in ids:
        if getattr(el, "attributes", {}).get("IdType") == "pmc" and str(el).strip():
            v = str(el).strip()
            return v if v.upper().startswith("PMC") else f"PMC{v}"
    return None


def _article_from_entrez(rec: Mapping[str, Any]) -> Article:
    cit = rec["MedlineCitation"]
    art = cit["Article"]
    ids = (rec.get("PubmedData") or {}).get("ArticleIdList", []) or []
    journal = art.get("Journal") or {}
    issue = journal.get("JournalIssue") or {}
    mesh = tuple(
        flatten_markup(h["DescriptorName"])
        for h in cit.get("MeshHeadingList", []) or []
        if h.get("DescriptorName")
    )
    chemicals = tuple(
        flatten_markup(c["NameOfSubstance"])
        for c in cit.get("ChemicalList", []) or []
        if c.get("NameOfSubstance")
    )
    langs = [str(x) for x in art.get("Language", []) or [] if str(x).strip()]
    title = flatten_markup(art.get("ArticleTitle")) or flatten_markup(art.get("VernacularTitle"))
    return Article(
        pmid=str(cit["PMID"]).strip(),
        title=title,
        sections=_sections(art),
        journal=flatten_markup(journal.get("Title")) or None,
        year=_year(issue.get("PubDate")),
        doi=_doi(art, ids),
        pmcid=_pmcid(ids),
        mesh=mesh,
        chemicals=chemicals,
        publication_types=tuple(
            flatten_markup(p) for p in art.get("PublicationTypeList", []) or []
        ),
        language=langs[0] if langs else None,
    )


def _jats_text(el: ET.Element | None) -> str:
    if el is None:
        return ""
    return _WS.sub(" ", "".join(el.itertext())).strip()


def _parse_jats(data: bytes, requested: Sequence[str] | None) -> list[Article]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise FetchError(
            f"efetch: unparsable PMC XML for {pmid_summary(requested)}: {exc}"
        ) from exc
    out: list[Article] = []
    for art in root.iter("article"):
        meta = art.find("front/article-meta")
        if meta is None:
            continue
        ids = {a.get("pub-id-type"): (a.text or "").strip() for a in meta.findall("article-id")}
        pmid = ids.get("pmid")
        if not pmid:
            logger.info("skipping a PMC article without a PMID (pmc=%s)", ids.get("pmc"))
            continue
        sections: list[AbstractSection] = []
        for abstract in meta.findall("abstract"):
            secs = abstract.findall("sec")
            if secs:
                for sec in secs:
                    label = _jats_text(sec.find("title")) or None
                    text = " ".join(_jats_text(p) for p in sec.findall("p"))
                    sections.append(AbstractSection(text=text, label=label))
            else:
                text = " ".join(_jats_text(p) for p in abstract.findall("p"))
                if text:
                    sections.append(AbstractSection(text=text))
        years = [int(y.text) for y in meta.findall("pub-date/year") if (y.text or "").isdigit()]
        pmc = ids.get("pmc") or ids.get("pmcid")
        out.append(
            Article(
                pmid=pmid,
                title=_jats_text(meta.find("title-group/article-title")),
                sections=tuple(sections),
                journal=_jats_text(art.find("front/journal-meta/journal-title-group/journal-title"))
                or None,
                year=min(years) if years else None,
                doi=ids.get("doi") or None,
                pmcid=(pmc if pmc.upper().startswith("PMC") else f"PMC{pmc}") if pmc else None,
            )
        )
    return out


def parse_pubmed_xml(data: bytes, requested: Sequence[str] | None = None) -> list[Article]:
    """Parse EFetch ``retmode=xml`` output (a ``PubmedArticleSet``) into :class:`Article`\\ s.

    ``requested`` (the PMIDs that were asked for) only serves error messages. Book records
    (``PubmedBookArticle``) are skipped with a log line; articles without an abstract come back
    with no sections. Malformed, truncated or empty XML raises :class:`FetchError` naming the
    requested PMIDs. A PMC ``pmc-articleset`` (JATS) is accepted too (title/abstract/ids only).
    """
    if not data or not data.strip():
        raise FetchError(f"efetch: empty response for {pmid_summary(requested)}")
    head = data[:2048]
    if b"<pmc-articleset" in head or (b"<article " in head and b"PubmedArticleSet" not in head):
        return _parse_jats(data, requested)
    try:
        rec = _entrez_read(data)
    except Exception as exc:  # Bio.Entrez raises Expat, CorruptedXMLError, ValidationError...
        raise FetchError(
            f"efetch: unparsable PubMed XML for {pmid_summary(requested)} "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(rec, Mapping) or "PubmedArticle" not in rec:
        raise FetchError(
            f"efetch: response is not a PubmedArticleSet for {pmid_summary(requested)}"
        )
    books = rec.get("PubmedBookArticle", []) or []
    for book in books:
        try:
            pmid = str(book["BookDocument"]["PMID"])
        except (KeyError, TypeError):
            pmid = "?"
        logger.info("skipping PubmedBookArticle %s (book records are not harvested)", pmid)
    out: list[Article] = []
    for item in rec["PubmedArticle"]:
        try:
            out.append(_article_from_entrez(item))
        except (KeyError, TypeError, ValueError) as exc:
            raise FetchError(
                f"efetch: PubmedArticle without {exc} in response for {pmid_summary(requested)}"
            ) from exc
    return out
