"""Drug attribution: which drug a measurement is about, and how that was decided.

There is no drug dictionary; the lexicon of an article is its MeSH chemical list
(``Article.chemicals``) plus the words of the search query, and a suffix heuristic recognises
common drug-name stems (-mycin, -cillin, -azole, -mab, ...). Order of evidence:

1. ``"sentence"``: the nearest drug mention *before* the parameter in the sentence ("the
   clearance of X" is handled by step 1b: the first mention after the parameter);
2. ``"title"``: the first drug mention in the article title;
3. ``"chemicals"``: the first specific entry of the chemical list (class names such as
   "Anti-Bacterial Agents" are skipped);
4. ``"query"``: a drug-like word of the query, else its only content word (PK terms, boolean
   operators and field tags are not content words);
5. ``(None, "none")``.

Hand-written (no library does this for free text without a dictionary); total: never raises.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

__all__ = [
    "DRUG_SUFFIXES",
    "DrugMention",
    "attribute_drug",
    "find_drug_mentions",
    "looks_like_drug",
]

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
) -> tuple[str | None, str]:
    """Which drug a parameter at ``parameter_start`` of ``sentence_text`` is about, and the
    evidence used: ``"sentence"``, ``"title"``, ``"chemicals"``, ``"query"`` or ``"none"``.
    Never raises."""
    try:
        chems = [c for c in (chemicals or ()) if isinstance(c, str)]
        mentions = find_drug_mentions(sentence_text, chems, query)
        if mentions:
            pos = parameter_start if isinstance(parameter_start, int) else len(sentence_text)
            before = [d for d in mentions if d.end <= pos]
            if before:
                return before[-1].name, "sentence"
            return mentions[0].name, "sentence"
        in_title = find_drug_mentions(title or "", chems, query)
        if in_title:
            return in_title[0].name, "title"
        specific = [c.strip() for c in chems if c.strip() and not _GENERIC_CHEMICAL.search(c)]
        if specific:
            return specific[0], "chemicals"
        words = _query_words(query)
        druglike = [w for w in words if looks_like_drug(w)]
        if druglike:
            return druglike[0].lower(), "query"
        if len({w.lower() for w in words}) == 1:  # "teicoplanin AND pharmacokinetics"
            return words[0].lower(), "query"
    except Exception:  # total by contract
        logger.debug("attribute_drug failed", exc_info=True)
    return None, "none"
