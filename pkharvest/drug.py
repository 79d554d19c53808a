"""Drug attribution: which drug a measurement is about, and how that was decided.

The lexicon of an article is a drug-name vocabulary shipped as package data
(``pkharvest/resources/drugs/drug_names.txt``: names from the DrugBank Open Data vocabulary by
way of the ``drug-named-entity-recognition`` package; licence and version in the README beside
it), the MeSH chemical list and MeSH headings of its PubMed record (``Article.chemicals``,
``Article.mesh``) and drug-like words of the search query; a suffix heuristic (-mycin, -cillin,
-azole, -mab, ...) catches names the vocabulary lacks. Order of evidence:

1. ``"sentence"``: the nearest drug mention *before* the parameter in the sentence (else the
   first mention after it: "the clearance of X");
2. ``"title"``: the first drug mention in the article title;
3. ``"abstract"``: the drug the abstract names most often (the first of a tie);
4. ``"chemicals"``: the first specific entry of the chemical list (class names such as
   "Anti-Bacterial Agents" are skipped), then ``"mesh"``: the first MeSH heading that is a drug;
5. ``"query"``: a drug-like word of the query, else its only content word (PK terms, boolean
   operators and field tags are not content words) -- a last resort, reached only when the
   sentence, the title and the abstract name no drug; the pipeline flags such a value
   (``drug_from_query``);
6. ``(None, "none")``.

Hand-written (no library attributes a value in free text to a drug); total: never raises.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pkharvest.records import Article, Measurement

logger = logging.getLogger(__name__)

__all__ = [
    "DRUG_FROM_QUERY",
    "DRUG_SUFFIXES",
    "DrugMention",
    "attribute_drug",
    "attribute_measurement_drug",
    "drug_vocabulary",
    "find_drug_mentions",
    "looks_like_drug",
]

DRUG_FROM_QUERY = "drug_from_query"  # the flag of a value whose drug only the query named
_MAX_WORDS = 4  # the longest vocabulary names looked up ("ado-trastuzumab emtansine" is 2)
_WORD_RE = re.compile(r"[A-Za-z]+")


@lru_cache(maxsize=1)
def drug_vocabulary() -> frozenset[str]:
    """The shipped drug names, lower-cased (``#`` lines are the header)."""
    text = (resources.files("pkharvest") / "resources" / "drugs" / "drug_names.txt").read_text(
        encoding="utf-8"
    )
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def _vocabulary_mentions(text: str) -> list[DrugMention]:
    """Vocabulary names in ``text``: runs of up to four words joined by a space or a hyphen
    (longest first), whole words, case-insensitive; a plural "s" is allowed."""
    vocab = drug_vocabulary()
    words = list(_WORD_RE.finditer(text))
    out: list[DrugMention] = []
    i = 0
    while i < len(words):
        hit = None
        for n in range(min(_MAX_WORDS, len(words) - i), 0, -1):
            span = words[i : i + n]
            gaps = (text[a.end() : b.start()] for a, b in itertools.pairwise(span))
            if any(g not in (" ", "-") for g in gaps):
                continue
            # "artemether-lumefantrine" is two names, "amphotericin b" one
            name = text[span[0].start() : span[-1].end()].lower()
            if name not in vocab and name.endswith("s") and name[:-1] in vocab:
                name = name[:-1]
            if name in vocab:
                hit = DrugMention(name, span[0].start(), span[-1].end(), n)
                break
        if hit is not None:
            out.append(hit)
            i += hit.words
        else:
            i += 1
    return out

DRUG_SUFFIXES: tuple[str, ...] = (
    "mycin",
    "micin",
    "cillin",
    "floxacin",
    "azole",
    "olol",
    "pril",
    "sartan",
    "statin",
    "mab",
    "nib",
    "vir",
    "dronate",
    "tidine",
    "zepam",
    "zolam",
    "azepine",
    "cycline",
    "platin",
    "parin",
    "profen",
    "oxacin",
    "tinib",
    "ciclib",
    "parib",
    "rafenib",
    "lukast",
    "gliptin",
    "gliflozin",
    "glitazone",
    "triptan",
    "setron",
    "prazole",
    "dipine",
    "afil",
    "barbital",
    "caine",
    "conazole",
    "tretin",
    "ximab",
    "zumab",
    "umab",
    "cept",
    "kinra",
    "relin",
    "tide",
    "semide",
    "thiazide",
    "terol",
    "sonide",
    "olone",
    "methasone",
    "asone",
    "oxetine",
    "pramine",
    "triptyline",
    "peridol",
    "apine",
    "idone",
    "mustine",
    "rubicin",
    "taxel",
    "tecan",
    "trexate",
    "fungin",
    "penem",
    "bactam",
    "vudine",
    "citabine",
    "arabine",
    "uracil",
    "navir",
    "previr",
    "buvir",
    "asvir",
    "tegravir",
    "morphine",
    "codone",
    "fentanil",
    "fentanyl",
    "adol",
    "xaban",
    "gatran",
    "grel",
    "coxib",
    "fibrate",
    "lamide",
    "tidine",
    "ipine",
    "epine",
    "amycin",
    "kacin",
    "micin",
    "quine",
    "quinine",
    "vastatin",
    "ketamine",
    "etamol",
    "amol",
)
# Words that end like drugs but are not (kept short: the suffixes above are specific).
_NOT_DRUGS = frozenset(
    {
        "peptide",
        "nucleotide",
        "polypeptide",
        "amide",
        "tide",
        "side",
        "wide",
        "guide",
        "ride",
        "hide",
        "oxide",
        "bromide",
        "chloride",
        "fluoride",
        "iodide",
        "sulfide",
        "glucuronide",
        "provide",
        "decide",
        "inside",
        "outside",
        "beside",
        "override",
        "abide",
        "azine",
        "amine",
        "caine",
        "receptor",
        "nucleoside",
        "cholesterol",
        "sterol",
        "ergosterol",
        "cept",
        "concept",
        "accept",
        "except",
        "intercept",
        "adol",
        "amol",
        "quine",
        "saline",
        "routine",
        "medicine",
        "urine",
        "uterine",
        "intestine",
    }
)
# Chemical-list entries that name classes or vehicles rather than a drug.
_GENERIC_CHEMICAL = re.compile(
    r"\b(agents?|preparations?|drugs?|inhibitors?|combinations?|excipients?|solutions?|"
    r"vehicles?|antagonists?|agonists?|blockers?|biomarkers?|carriers?|polymers?|isotopes?|"
    r"radioisotopes?|radiopharmaceuticals?|compounds?|derivatives?|metabolites?|enzymes?|"
    r"proteins?|antibodies|antibody|emulsions?|suspensions?|tablets?|capsules?|liposomes?|"
    r"glycols?|water|sodium chloride|buffers?|cyclodextrins?|lipids?|plasma|serum)\b",
    re.I,
)
_QUERY_STOP = frozenset(
    {
        "and",
        "or",
        "not",
        "the",
        "of",
        "in",
        "on",
        "for",
        "with",
        "to",
        "a",
        "an",
        "by",
        "pharmacokinetic",
        "pharmacokinetics",
        "pk",
        "clearance",
        "half",
        "life",
        "halflife",
        "volume",
        "distribution",
        "auc",
        "cmax",
        "tmax",
        "bioavailability",
        "absorption",
        "elimination",
        "exposure",
        "population",
        "plasma",
        "serum",
        "concentration",
        "concentrations",
        "dose",
        "dosing",
        "humans",
        "human",
        "patients",
        "children",
        "adults",
        "healthy",
        "volunteers",
        "study",
        "studies",
        "trial",
        "mesh",
        "tiab",
        "ti",
        "ab",
        "majr",
        "pt",
        "la",
        "dp",
        "sh",
        "english",
        "review",
        "model",
        "models",
        "modeling",
        "modelling",
        "drug",
        "drugs",
    }
)


@dataclass(frozen=True)
class DrugMention:
    """A drug name found in a text: ``name`` is the lexicon form (or the word lower-cased)."""

    name: str
    start: int
    end: int
    words: int = 1


def looks_like_drug(word: str) -> bool:
    """The suffix heuristic: a lower-case word of ≥6 letters ending in a drug stem."""
    w = word.lower().strip("-")
    if len(w) < 6 or not w.isalpha() or w in _NOT_DRUGS:
        return False
    return any(w.endswith(s) and len(w) > len(s) + 2 for s in DRUG_SUFFIXES)


def _lexicon(chemicals: Iterable[str] | None, query: str | None) -> list[str]:
    names: list[str] = []
    for c in chemicals or ():
        if isinstance(c, str) and c.strip() and not _GENERIC_CHEMICAL.search(c):
            names.append(c.strip())
    for tok in _query_words(query):
        if looks_like_drug(tok):
            names.append(tok)
    return names


def _query_words(query: str | None) -> list[str]:
    if not isinstance(query, str):
        return []
    q = re.sub(r"\[[^\]]*\]", " ", query)  # drop field tags such as [tiab]
    words = re.findall(r"[A-Za-z][A-Za-z0-9\-]{2,}", q)
    return [w for w in words if w.lower() not in _QUERY_STOP]


def find_drug_mentions(
    text: str, chemicals: Iterable[str] | None = None, query: str | None = None
) -> list[DrugMention]:
    """Drug mentions in ``text``: lexicon names (chemicals, drug-like query words; whole words,
    case-insensitive; a plural or a salt word after the name is allowed) and words passing the
    suffix heuristic. Ordered by position, overlaps resolved in favour of the longer name."""
    try:
        if not isinstance(text, str) or not text:
            return []
        found: list[DrugMention] = []
        for name in sorted(set(_lexicon(chemicals, query)), key=lambda n: (-len(n), n)):
            # MeSH names can carry a qualifier ("Vancomycin Hydrochloride"): match the head too.
            forms = {
                name,
                re.split(
                    r",|\s+(?:hydrochloride|sodium|potassium|sulfate|mesylate|"
                    r"acetate|maleate|citrate|tartrate|phosphate)\b",
                    name,
                    flags=re.I,
                )[0].strip(),
            }
            for form in forms:
                if len(form) < 3:
                    continue
                for m in re.finditer(
                    rf"(?<![A-Za-z0-9]){re.escape(form)}s?(?![A-Za-z0-9])", text, re.I
                ):
                    found.append(DrugMention(name, m.start(), m.end()))
        found.extend(_vocabulary_mentions(text))
        for m in re.finditer(r"[A-Za-z][A-Za-z\-]{4,}", text):
            if looks_like_drug(m.group(0)):
                found.append(DrugMention(m.group(0).lower(), m.start(), m.end()))
        found.sort(key=lambda d: (d.start, -(d.end - d.start)))
        out: list[DrugMention] = []
        for d in found:
            if out and d.start < out[-1].end:
                continue
            out.append(d)
        return out
    except Exception:  # total by contract
        logger.debug("find_drug_mentions failed", exc_info=True)
        return []


def attribute_drug(
    sentence_text: str,
    parameter_start: int | None,
    title: str | None = None,
    chemicals: Iterable[str] | None = None,
    query: str | None = None,
    *,
    abstract: str | None = None,
    mesh: Iterable[str] | None = None,
) -> tuple[str | None, str]:
    """Which drug a parameter at ``parameter_start`` of ``sentence_text`` is about, and the
    evidence used: ``"sentence"``, ``"title"``, ``"abstract"``, ``"chemicals"``, ``"mesh"``,
    ``"query"`` or ``"none"`` (see the module doc for the order). Never raises."""
    try:
        chems = tuple(c for c in (chemicals or ()) if isinstance(c, str))
        headings = tuple(h for h in (mesh or ()) if isinstance(h, str))
        lexicon = list(_article_lexicon(chems, headings))
        mentions = find_drug_mentions(sentence_text, lexicon, query)
        if mentions:
            pos = parameter_start if isinstance(parameter_start, int) else len(sentence_text)
            before = [d for d in mentions if d.end <= pos]
            if before:
                return before[-1].name, "sentence"
            return mentions[0].name, "sentence"
        return _article_drug(title or "", abstract or "", chems, headings, query)
    except Exception:  # total by contract
        logger.debug("attribute_drug failed", exc_info=True)
    return None, "none"


def attribute_measurement_drug(
    m: Measurement,
    text: str,
    parameter_start: int | None,
    article: Article,
    query: str | None = None,
) -> None:
    """Set ``m.drug`` and ``m.drug_source`` by :func:`attribute_drug` over ``text`` (the
    sentence, or a table's caption) and ``article``; a drug that came only from the query
    flags the value ``drug_from_query``."""
    m.drug, m.drug_source = attribute_drug(
        text, parameter_start, title=article.title, chemicals=article.chemicals, query=query,
        abstract=article.abstract, mesh=article.mesh,
    )
    if m.drug_source == "query" and DRUG_FROM_QUERY not in m.flags:
        m.flags.append(DRUG_FROM_QUERY)


# The lexicon and the article-level fallbacks depend on the article only, not on the value:
# cached, so that the many values of one article (table cells above all) scan its title and
# abstract once.
@lru_cache(maxsize=256)
def _article_lexicon(chems: tuple[str, ...], headings: tuple[str, ...]) -> tuple[str, ...]:
    return chems + tuple(h for h in headings if _is_drug_name(h))


@lru_cache(maxsize=256)
def _article_drug(
    title: str,
    abstract: str,
    chems: tuple[str, ...],
    headings: tuple[str, ...],
    query: str | None,
) -> tuple[str | None, str]:
    """The drug of a value whose sentence names none: title, abstract, chemicals, MeSH, query."""
    lexicon = list(_article_lexicon(chems, headings))
    in_title = find_drug_mentions(title, lexicon, query)
    if in_title:
        return in_title[0].name, "title"
    in_abstract = find_drug_mentions(abstract, lexicon, query)
    if in_abstract:
        counts = Counter(d.name.lower() for d in in_abstract)
        top = max(counts.values())
        first = next(d for d in in_abstract if counts[d.name.lower()] == top)
        return first.name, "abstract"
    specific = [c.strip() for c in chems if c.strip() and not _GENERIC_CHEMICAL.search(c)]
    if specific:
        return specific[0], "chemicals"
    drug_headings = [h.strip() for h in headings if _is_drug_name(h)]
    if drug_headings:
        return drug_headings[0], "mesh"
    words = _query_words(query)
    druglike = [w for w in words if looks_like_drug(w) or w.lower() in drug_vocabulary()]
    if druglike:
        return druglike[0].lower(), "query"
    if len({w.lower() for w in words}) == 1:  # "teicoplanin AND pharmacokinetics"
        return words[0].lower(), "query"
    return None, "none"


def _is_drug_name(name: str) -> bool:
    """A MeSH heading that names a drug: in the vocabulary (its head before a comma or a salt
    word) or passing the suffix heuristic; class headings never."""
    n = " ".join(name.lower().split())
    if not n or _GENERIC_CHEMICAL.search(n):
        return False
    head = re.split(r",|\s+(?:hydrochloride|sodium|potassium|sulfate|mesylate|acetate)\b", n)[0]
    return n in drug_vocabulary() or head.strip() in drug_vocabulary() or looks_like_drug(head)
