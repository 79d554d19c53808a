"""Streaming reader of PubMed baseline/update files.

A file is read with lxml's ``iterparse`` (each ``PubmedArticle`` element is cleared once read,
so memory stays constant whatever the file's size). Articles are parsed by the same code as
EFetch responses: a chunk of ``PubmedArticle`` elements is serialised back into a small
``PubmedArticleSet`` document and given to :func:`pkharvest.fetch.parse.parse_pubmed_xml`, so a
bulk run and ``search`` store exactly the same :class:`~pkharvest.records.Article` for a record
(the Entrez parser is the slow part of neither: tagging is). ``DeleteCitation`` elements yield
:class:`Deletion` items, in file order with the articles.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from pkharvest.errors import FetchError, UsageError
from pkharvest.fetch.parse import parse_pubmed_xml
from pkharvest.records import Article

logger = logging.getLogger(__name__)

SUFFIXES = (".xml.gz", ".xml")
DEFAULT_CHUNK = 200
_HEAD = b'<?xml version="1.0" ?>\n'
_DOCTYPE = (b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January '
            b'2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n')


@dataclass(frozen=True)
class Deletion:
    """PMIDs that a ``DeleteCitation`` element removes."""

    pmids: tuple[str, ...]


BulkItem = list[Article] | Deletion


def baseline_files(paths: Iterable[str | Path]) -> list[Path]:
    """The ``.xml.gz`` / ``.xml`` files named or found (not recursively) in the folders named,
    in name order (the order NLM numbers them, so newer record versions come later)."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(f for f in p.iterdir() if f.is_file() and f.name.endswith(SUFFIXES))
        elif p.is_file():
            found.append(p)
        else:
            raise UsageError(f"no such file or folder: {p}", field="paths")
    if not found:
        raise UsageError("no .xml.gz or .xml files found", field="paths")
    unique = {f.resolve(): f for f in found}
    return sorted(unique.values(), key=lambda f: (f.name, str(f)))


def file_digest(path: Path) -> tuple[int, str]:
    """The size in bytes and the SHA-256 (hex) of a file as it is on disk: the manifest's key,
    with the file name and model version, for a file already applied."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _open(path: Path):  # type: ignore[no-untyped-def]
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def read_baseline(path: Path, chunk: int = DEFAULT_CHUNK) -> Iterator[BulkItem]:
    """Items of one file in order: lists of at most ``chunk`` articles, and deletions. A
    malformed or truncated file raises FetchError naming it (what was yielded before stays
    yielded: the caller writes a file only once it was read whole)."""
    pending: list[bytes] = []

    def flush() -> list[Article]:
        doc = _HEAD + _DOCTYPE + b"<PubmedArticleSet>" + b"".join(pending) + b"</PubmedArticleSet>"
        pending.clear()
        return parse_pubmed_xml(doc)

    try:
        with _open(path) as fh:
            for _, el in etree.iterparse(fh, events=("end",),
                                         tag=("PubmedArticle", "DeleteCitation"),
                                         resolve_entities=False, load_dtd=False,
                                         no_network=True, huge_tree=True):
                if el.tag == "PubmedArticle":
                    pending.append(etree.tostring(el))
                    if len(pending) >= chunk:
                        yield flush()
                else:
                    if pending:
                        yield flush()
                    pmids = tuple(str(p.text).strip() for p in el.iter("PMID") if p.text)
                    yield Deletion(pmids)
                el.clear()
                while el.getprevious() is not None:  # drop finished siblings too
                    del el.getparent()[0]
        if pending:
            yield flush()
    except (etree.XMLSyntaxError, OSError, EOFError, zlib.error) as exc:
        raise FetchError(f"{path}: malformed or truncated file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})") from None
    except FetchError as exc:
        raise FetchError(f"{path}: {exc}") from None
