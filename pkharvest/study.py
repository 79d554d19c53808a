"""Study context of every measurement: who was studied and how the value was summarised.

Per measurement, from its sentence (a table value: its group label and caption):

* ``n`` -- the group size, when the sentence states one and only one ("n = 12", "in 24 healthy
  volunteers", "twelve patients"); "8 of 12 patients" or two different sizes leave it unknown;
* ``statistic`` -- ``mean``, ``geometric_mean``, ``median`` or ``population_estimate`` from the
  words around the value ("median (range)", "(mean ± SD)"); a value given with an SD or SE and no
  word is a mean, one given with an IQR a median;
* ``route`` and ``dose_text`` where the sentence, the table caption or group, or the title
  states one ("after a single 500 mg oral dose").

Per article, from its MeSH headings, its title and its abstract (the sentence, or the table
group, wins when it names one): ``age_group`` (neonate, infant, child, adolescent, adult,
elderly), ``population`` (healthy, patients), ``conditions`` (pregnancy, renal_impairment,
hepatic_impairment, critical_illness, obesity) and ``species`` (human, rat, mouse, dog, ...).
A source that names two kinds ("children and adults") decides nothing: it leaves the field
unknown rather than guessing.

The MeSH term lists below are descriptor names of the 2025 MeSH tree (check tags and the
A01-C23/E02/E05/G08 descriptors that index age, animals, conditions and routes of
administration); the word lists are how abstracts phrase the same. No library maps these
(MeSH itself is a vocabulary, not a classifier), so they are written out here. Number words
("twelve patients") are read by ``text2num``.

Filling is idempotent and never overwrites a value already set (a table's n or statistic).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from text_to_num import text2num

from pkharvest.link import measurement_type
from pkharvest.records import (
    Article,
    ArticleResult,
    ArticleTable,
    Measurement,
    ScoredSentence,
    Sentence,
)

logger = logging.getLogger(__name__)

__all__ = [
    "AGE_GROUPS",
    "CONDITIONS",
    "add_study_context",
    "age_groups_in",
    "apply_study_context",
    "article_context",
    "conditions_in",
    "dose_in",
    "group_size",
    "group_sizes",
    "populations_in",
    "routes_in",
    "species_in",
    "statistic_of",
]

AGE_GROUPS = ("neonate", "infant", "child", "adolescent", "adult", "elderly")
CONDITIONS = (
    "pregnancy", "renal_impairment", "hepatic_impairment", "critical_illness", "obesity",
)  # fmt: skip
MAX_N = 100_000

# ------------------------------------------------------------------------------------- MeSH
# Descriptor name -> value. Qualified forms ("Rats, Wistar", "Mice, Inbred C57BL") are matched
# by their head ("Rats", "Mice") through _MESH_PREFIX.
_MESH_AGE = {
    "infant, newborn": "neonate", "infant, premature": "neonate",
    "infant, extremely premature": "neonate", "infant, low birth weight": "neonate",
    "infant, very low birth weight": "neonate", "infant, extremely low birth weight": "neonate",
    "infant, small for gestational age": "neonate", "infant": "infant", "child": "child",
    "child, preschool": "child", "adolescent": "adolescent", "young adult": "adult",
    "adult": "adult", "middle aged": "adult", "aged": "elderly", "aged, 80 and over": "elderly",
    "frail elderly": "elderly",
}  # fmt: skip
_MESH_POPULATION = {"healthy volunteers": "healthy"}
_MESH_SPECIES = {
    "humans": "human", "rats": "rat", "mice": "mouse", "dogs": "dog", "rabbits": "rabbit",
    "swine": "pig", "swine, miniature": "pig", "sus scrofa": "pig", "sheep": "sheep",
    "sheep, domestic": "sheep", "cattle": "cattle", "horses": "horse", "cats": "cat",
    "chickens": "chicken", "goats": "goat", "guinea pigs": "guinea_pig",
    "macaca mulatta": "monkey", "macaca fascicularis": "monkey", "macaca": "monkey",
    "callithrix": "monkey", "chlorocebus aethiops": "monkey", "papio": "monkey",
    "haplorhini": "monkey", "primates": "monkey", "cricetinae": "hamster",
    "mesocricetus": "hamster",
}  # fmt: skip
_MESH_PREFIX = {"rats, ": "rat", "mice, ": "mouse", "swine, ": "pig"}
_MESH_CONDITIONS = {
    "pregnancy": "pregnancy", "pregnant people": "pregnancy", "pregnant women": "pregnancy",
    "pregnancy trimester, first": "pregnancy", "pregnancy trimester, second": "pregnancy",
    "pregnancy trimester, third": "pregnancy", "pregnancy complications": "pregnancy",
    "renal insufficiency": "renal_impairment", "renal insufficiency, chronic": "renal_impairment",
    "kidney failure, chronic": "renal_impairment", "acute kidney injury": "renal_impairment",
    "renal dialysis": "renal_impairment", "peritoneal dialysis": "renal_impairment",
    "continuous renal replacement therapy": "renal_impairment",
    "renal replacement therapy": "renal_impairment", "hemodiafiltration": "renal_impairment",
    "hemofiltration": "renal_impairment", "kidney diseases": "renal_impairment",
    "hepatic insufficiency": "hepatic_impairment", "liver cirrhosis": "hepatic_impairment",
    "liver cirrhosis, alcoholic": "hepatic_impairment", "liver failure": "hepatic_impairment",
    "liver failure, acute": "hepatic_impairment", "end stage liver disease": "hepatic_impairment",
    "liver diseases": "hepatic_impairment", "critical illness": "critical_illness",
    "critical care": "critical_illness", "intensive care units": "critical_illness",
    "intensive care units, pediatric": "critical_illness", "sepsis": "critical_illness",
    "shock, septic": "critical_illness", "respiration, artificial": "critical_illness",
    "extracorporeal membrane oxygenation": "critical_illness", "obesity": "obesity",
    "obesity, morbid": "obesity", "pediatric obesity": "obesity",
}  # fmt: skip
_MESH_ROUTE = {
    "administration, oral": "oral", "injections, intravenous": "intravenous",
    "infusions, intravenous": "intravenous", "administration, intravenous": "intravenous",
    "injections, subcutaneous": "subcutaneous", "injections, intramuscular": "intramuscular",
    "administration, intranasal": "intranasal", "administration, inhalation": "inhalation",
    "administration, rectal": "rectal", "administration, cutaneous": "transdermal",
    "administration, sublingual": "sublingual", "administration, buccal": "buccal",
    "injections, intraperitoneal": "intraperitoneal", "injections, spinal": "intrathecal",
    "injections, intravitreal": "intravitreal", "administration, topical": "topical",
}  # fmt: skip

# ------------------------------------------------------------------------------------ words
# (pattern, value) in priority order: a match masks its text, so "preterm infants" is a
# neonate and not also an infant, "guinea pigs" no pig, "healthy volunteers" no patients.
Terms = tuple[tuple[str, str], ...]

_AGE_WORDS: Terms = (
    (r"\b(?:pre-?term|premature|newborn|new-born)\s+(?:infants?|babies|neonates?)\b", "neonate"),
    (r"\bneonat\w*|\bnewborns?\b|\bpre-?term\b|(?-i:\bNICU\b)", "neonate"),
    (r"\binfants?\b|\binfancy\b|\btoddlers?\b", "infant"),
    (r"\bolder\s+(?:adults?|patients|subjects|people|persons|volunteers|individuals)\b|"
     r"\belderly\b|\bgeriatric\b|\baged\s+(?:patients|subjects|people)\b", "elderly"),
    (r"\byoung\s+adults?\b|\badults?\b", "adult"),
    (r"\badolescen\w*|\bteen-?agers?\b", "adolescent"),
    (r"\bchild(?:ren)?\b|\bpa?ediatrics?\b|\bschool-?age\b", "child"),
)
_POPULATION_WORDS: Terms = (
    (r"\bhealthy\s+(?:[a-z-]+\s+){0,2}(?:volunteers?|subjects?|adults?|men|women|males?|females?"
     r"|participants?|individuals?|people|persons|children|elderly|controls?)\b|"
     r"\bnormal\s+(?:healthy\s+)?volunteers?\b|\bvolunteers?\b", "healthy"),
    (r"\bpatients?\b", "patients"),
)
_SPECIES_WORDS: Terms = (
    (r"\bguinea[\s-]pigs?\b", "guinea_pig"),
    (r"\brats?\b", "rat"),
    (r"\bmice\b|\bmouse\b|\bmurine\b", "mouse"),
    (r"\bdogs?\b|\bbeagles?\b|\bcanines?\b", "dog"),
    (r"\bmonkeys?\b|\bmacaques?\b|\bcynomolgus\b|\brhesus\b|\bmarmosets?\b|\bbaboons?\b",
     "monkey"),
    (r"\brabbits?\b", "rabbit"),
    (r"\b(?:mini)?pigs?\b|\bpiglets?\b|\bswine\b|\bporcine\b", "pig"),
    (r"\bsheep\b|\bewes?\b|\blambs?\b|\bovine\b", "sheep"),
    (r"\bcattle\b|\bcows?\b|\bcalves\b|\bheifers?\b|\bbovine\b", "cattle"),
    (r"\bhorses?\b|\bponies\b|\bfoals?\b|\bequine\b", "horse"),
    (r"\bcats?\b|\bfeline\b", "cat"),
    (r"\bchickens?\b|\bbroilers?\b|\bhens\b", "chicken"),
    (r"\bgoats?\b|\bcaprine\b", "goat"),
    (r"\bhamsters?\b", "hamster"),
    # words said of people only ("adult", "pregnant", "neonatal" are said of rats too)
    (r"\bpatients?\b|\bvolunteers?\b|\bhumans?\b|\bchild(?:ren)?\b|\bmen\b|\bwomen\b|"
     r"\belderly\b", "human"),
)
_CONDITION_WORDS: Terms = (
    (r"\bpregnan\w*|\bgestation\w*|\bantenatal\b|\bperipartum\b", "pregnancy"),
    (r"\b(?:renal|kidney)\s+(?:impairment|insufficiency|failure|dysfunction|disease|injury)\b|"
     r"\bh(?:a)?emodialysis\b|\bdialysis\b|\bh(?:a)?emofiltration\b|\bh(?:a)?emodiafiltration\b|"
     r"\bend[\s-]stage\s+renal\b|(?-i:\bESRD\b)|(?-i:\bCKD\b)|(?-i:\bCRRT\b)|\brenal\s+replacement\b|"
     r"\buraemi\w*|\buremi\w*", "renal_impairment"),
    (r"\b(?:hepatic|liver)\s+(?:impairment|insufficiency|dysfunction|failure|disease)\b|"
     r"\bcirrho\w*|\bChild[\s-]Pugh\b", "hepatic_impairment"),
    (r"\bcritically\s+ill\b|\bcritical\s+(?:illness|care)\b|\bintensive\s+care\b|(?-i:\bICU\b)|"
     r"\bsepsis\b|\bseptic\b|\bmechanically\s+ventilated\b|(?-i:\bECMO\b)", "critical_illness"),
    (r"\bobes(?:e|ity)\b|\bmorbidly\s+obese\b|\bbariatric\b", "obesity"),
)
_ROUTE_WORDS: Terms = (
    (r"\bintravenous\w*|\bi\.\s?v\.|(?-i:\bIV\b)|\binfusions?\b|\binfused\b", "intravenous"),
    (r"\bsubcutaneous\w*|\bs\.\s?c\.|(?-i:\bSC\b)|\bs\.c\b", "subcutaneous"),
    (r"\bintramuscular\w*|\bi\.\s?m\.|(?-i:\bIM\b)", "intramuscular"),
    (r"\bintraperitoneal\w*|\bi\.\s?p\.", "intraperitoneal"),
    (r"\bintrathecal\w*", "intrathecal"),
    (r"\bintravitreal\w*", "intravitreal"),
    (r"\bintranasal\w*|\bnasal\s+spray\b", "intranasal"),
    (r"\binhal\w*|\bnebuli[sz]\w*", "inhalation"),
    (r"\bsublingual\w*", "sublingual"),
    (r"\bbuccal\w*", "buccal"),
    (r"\brectal\w*|\bsuppositor\w*", "rectal"),
    (r"\btransdermal\w*|\b(?:skin\s+)?patch(?:es)?\b", "transdermal"),
    (r"\btopical\w*", "topical"),
    (r"\boral(?:ly)?\b|\bp\.\s?o\.|(?-i:\bPO\b)|\bper\s+os\b|\bby\s+mouth\b|\btablets?\b|"
     r"\bcapsules?\b|\bgavage\b", "oral"),
)

_COMPILED: dict[int, tuple[tuple[re.Pattern[str], str], ...]] = {}


def _compiled(terms: Terms) -> tuple[tuple[re.Pattern[str], str], ...]:
    key = id(terms)
    if key not in _COMPILED:
        _COMPILED[key] = tuple((re.compile(p, re.I), v) for p, v in terms)
    return _COMPILED[key]


def _kinds(text: str, terms: Terms) -> list[str]:
    """The values whose terms occur in ``text`` (in order of first occurrence, unique)."""
    return list(_kinds_cached(text, terms)) if text else []


# the measurements of one sentence ask the same questions of the same text
@functools.lru_cache(maxsize=4096)
def _kinds_cached(text: str, terms: Terms) -> tuple[str, ...]:
    masked = text
    found: list[tuple[int, str]] = []
    for pattern, value in _compiled(terms):
        for m in pattern.finditer(masked):
            found.append((m.start(), value))
            masked = masked[: m.start()] + " " * (m.end() - m.start()) + masked[m.end():]
    out: list[str] = []
    for _, value in sorted(found):
        if value not in out:
            out.append(value)
    return tuple(out)


def _single(values: Sequence[str]) -> str | None:
    return values[0] if len(values) == 1 else None


def age_groups_in(text: str) -> list[str]:
    """Age groups the words of ``text`` name ("preterm infants" -> neonate)."""
    return _kinds(text, _AGE_WORDS)


def populations_in(text: str) -> list[str]:
    """``healthy`` and/or ``patients`` as the words of ``text`` name them."""
    return _kinds(text, _POPULATION_WORDS)


def species_in(text: str) -> list[str]:
    """Species the words of ``text`` name ("patients" -> human, "Wistar rats" -> rat)."""
    return _kinds(text, _SPECIES_WORDS)


def conditions_in(text: str) -> list[str]:
    """Conditions the words of ``text`` name (pregnancy, renal_impairment, ...)."""
    return _kinds(text, _CONDITION_WORDS)


def routes_in(text: str) -> list[str]:
    """Routes of administration the words of ``text`` name."""
    return _kinds(text, _ROUTE_WORDS)


# ------------------------------------------------------------------------------ group size
_NUMBER_WORD = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-](?:one|two|three|four"
    r"|five|six|seven|eight|nine))?|one|two|three|four|five|six|seven|eight|nine|ten|eleven"
    r"|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
)
_SUBJECTS = (
    r"(?:volunteers?|subjects?|participants?|patients?|individuals?|persons|people|children"
    r"|neonates?|newborns?|infants?|adolescents?|adults?|men|women|males?|females?|cases"
    r"|rats?|mice|dogs?|monkeys?|animals?|pigs?|piglets?|rabbits?|sheep|horses?|cats?|calves"
    r"|cows?|goats?|beagles?|macaques?|pregnancies)"
)
# up to three words between the number and the noun ("24 healthy male volunteers"), none of
# them a word that starts another phrase ("12 mg in patients", "3 days of patients")
_MODIFIER = (
    rf"(?:(?!(?:of|and|or|with|per|in|to|from|than|at|for|on|by|were|was|had|who|"
    rf"{_NUMBER_WORD})\b)[A-Za-z][A-Za-z-]*\s+)"
)
_N_NOUN_RE = re.compile(
    rf"(?<![\d.,/%-])\b(\d{{1,6}}|{_NUMBER_WORD})\s+{_MODIFIER}{{0,3}}{_SUBJECTS}\b", re.I
)
_N_EQ_RE = re.compile(r"(?<![A-Za-z])[nN]\s*(?:=|:)\s*(\d{1,6})\b|\(\s*[nN]\s+(\d{1,6})\s*\)")
# "8 of 12 patients", "8/12 patients": the sentence speaks of a subgroup as well
_SUBSET_RE = re.compile(
    rf"(?:\d+|{_NUMBER_WORD})\s*(?:(?:out\s+)?of(?:\s+the)?|/)\s*$", re.I
)


def _to_int(text: str) -> int | None:
    if text.isdigit():
        value = int(text)
    else:
        try:
            value = int(text2num(text.lower().replace("-", " "), "en"))
        except ValueError:
            return None
    return value if 1 <= value <= MAX_N else None


def group_sizes(text: str) -> list[int | None]:
    """Every group size ``text`` states, in order; None for a size that is a subset of another
    ("8 of 12 patients" gives ``[None, 12]``) so that the text counts as ambiguous."""
    return list(_group_sizes(text)) if text else []


@functools.lru_cache(maxsize=4096)
def _group_sizes(text: str) -> tuple[int | None, ...]:
    found: list[tuple[int, int | None]] = []
    for m in _N_EQ_RE.finditer(text):
        if (n := _to_int(m.group(1) or m.group(2))) is not None:
            found.append((m.start(), n))
    for m in _N_NOUN_RE.finditer(text):
        n = _to_int(m.group(1))
        if n is None:  # "0 patients", a number too large to be a group
            continue
        if _SUBSET_RE.search(text[max(0, m.start() - 30):m.start()]):
            found.append((m.start(), None))
        found.append((m.start(), n))
    return tuple(n for _, n in sorted(found, key=lambda x: x[0]))


def group_size(text: str) -> int | None:
    """The one group size ``text`` states ("n = 12", "in 24 healthy volunteers", "twelve
    patients"); None when it states none, several different ones, or a subset ("8 of 12")."""
    sizes = group_sizes(text)
    if not sizes or None in sizes or len(set(sizes)) != 1:
        return None
    return sizes[0]


# ------------------------------------------------------------------------------- statistic
_STAT_WORDS: Terms = (
    (r"\bgeometric(?:al)?\s+(?:least[- ]squares?\s+)?means?\b|\bgeo-?means?\b|(?-i:\bGM\b)",
     "geometric_mean"),
    (r"\bmedians?\b", "median"),
    (r"\bpopulation\s+(?:estimates?|values?|mean|typical)\b|\btypical\s+values?\b",
     "population_estimate"),
    (r"\b(?:arithmetic\s+)?means?\b|\baverage[sd]?\b", "mean"),
)
_MEASUREMENT_TYPE_STATISTIC = {
    "mean": "mean", "geometric mean": "geometric_mean", "median": "median",
    "population estimate": "population_estimate",
}  # fmt: skip


def statistic_of(
    text: str,
    value_end: int | None,
    measurement_type: str | None = None,
    deviation_type: str | None = None,
) -> str | None:
    """The statistic of a value: its measurement type (the words before it, see
    :func:`pkharvest.link.measurement_type`), else a statistic word in the brackets or clause
    right after it ("4.2 h (median; range 2-7)", "3.1 ± 0.4 L/h (mean ± SD)"), else what its
    deviation implies (SD or SE: mean; IQR: median); None when nothing says."""
    if measurement_type in _MEASUREMENT_TYPE_STATISTIC:
        return _MEASUREMENT_TYPE_STATISTIC[measurement_type]
    if measurement_type is not None:
        return None  # a range or another kind of value: no statistic
    if text and value_end is not None:
        after = text[value_end:]
        stop = re.search(r"[;]|,\s+(?:and|while|whereas|but)\b|\.\s|\band\b", after)
        words = _kinds(after[: stop.start() if stop else 60][:60], _STAT_WORDS)
        if words:
            return words[0]
    dev = (deviation_type or "").upper()
    if dev in ("SD", "SE"):
        return "mean"
    if dev == "IQR":
        return "median"
    return None


# ------------------------------------------------------------------------------------ dose
_DOSE_UNIT = r"(?:mg|g|µg|μg|mcg|ug|ng|IU|U|units?|mmol|mEq|MBq|mCi)"
_DOSE_RE = re.compile(
    rf"(?<![\w.])(\d+(?:[.,]\d+)?(?:\s*(?:-|–|to|or|and)\s*\d+(?:[.,]\d+)?)?)\s*{_DOSE_UNIT}"
    r"(?:\s*(?:/|per)\s*(?:kg|m2|m²|1\.73\s*m2?))?"
    r"(?:\s*(?:/|per)\s*(?:day|d|24\s*h))?"
    r"(?:\s+(?:once|twice|three\s+times|four\s+times)\s+(?:daily|a\s+day|weekly)|\s+q\.?\s?\d+\s*h"
    r"|\s+(?:b\.?i\.?d|t\.?i\.?d|q\.?d|o\.?d)\.?(?![a-z])|\s+daily)?"
    r"(?!\s*(?:[/·.]|per\s)\s*(?:m?L|dL|l|h|hr|min)\b)(?![\w/·])",
)
# what makes an amount a dose: a cue right before it or right after it
_DOSE_BEFORE_RE = re.compile(
    r"(?:\bdoses?\s+(?:of\s+)?|\bdosed?\s+(?:at|with)\s+|\breceiv\w*\s+(?:a\s+|an\s+)?"
    r"(?:single\s+|oral\s+|intravenous\s+)?|\bgiven\s+|\badministered\s+|\binfusion\s+of\s+|"
    r"\bbolus\s+of\s+|\bafter\s+(?:a\s+|an\s+)?(?:single\s+)?|\bfollowing\s+(?:a\s+|an\s+)?"
    r"(?:single\s+)?|\bof\s+|\bwith\s+)$",
    re.I,
)
_DOSE_AFTER_RE = re.compile(
    r"^\s*(?:single\s+|multiple\s+|daily\s+|loading\s+|maintenance\s+|oral\s+|intravenous\s+|"
    r"i\.v\.\s+|IV\s+|IM\s+|SC\s+|i\.m\.\s+|s\.c\.\s+|subcutaneous\s+|intramuscular\s+)*(?:doses?|dosing|tablets?|capsules?|"
    r"infusions?|bolus|injections?|regimens?)\b|^\s*(?:orally|intravenously|subcutaneously|"
    r"intramuscularly|p\.o\.|i\.v\.)",
    re.I,
)


def dose_in(text: str, skip: tuple[int, int] | None = None, *, cue: bool = True) -> list[str]:
    """The doses ``text`` states ("a single 500 mg oral dose", "1 g q8h", "received 10 mg/kg"),
    unique, in order; an amount is a dose only with a dose word before or after it (a
    concentration or an amount excreted is none); without ``cue`` (a table group label such as
    "1 g q8h (n = 10)" names a regimen) any amount is. ``skip``: a span (the value) left out."""
    out: list[str] = []
    if not text:
        return out
    for m in _DOSE_RE.finditer(text):
        if skip and m.start() < skip[1] and skip[0] < m.end():
            continue
        before = text[max(0, m.start() - 40):m.start()]
        if (not cue or _DOSE_BEFORE_RE.search(before)
                or _DOSE_AFTER_RE.search(text[m.end():m.end() + 40])):
            dose = m.group(0).strip()
            if dose not in out:
                out.append(dose)
    return out


# ------------------------------------------------------------------------------- article
@dataclass(frozen=True)
class ArticleContext:
    """What an article's MeSH headings, title and abstract say about its study population."""

    age_group: str | None = None
    population: str | None = None
    species: str | None = None
    conditions: tuple[str, ...] = ()
    route: str | None = None  # title, else MeSH
    dose_text: str | None = None  # title
    n: int | None = None  # the one group size the title and abstract state


def _mesh_values(mesh: Iterable[str], table: dict[str, str]) -> list[str]:
    out: list[str] = []
    for heading in mesh:
        name = heading.strip().lower()
        value = table.get(name)
        if value is None and table is _MESH_SPECIES:
            value = next((v for p, v in _MESH_PREFIX.items() if name.startswith(p)), None)
        if value is not None and value not in out:
            out.append(value)
    return out


def _mesh_age(mesh: Iterable[str]) -> str | None:
    """One age group from the MeSH age check tags: adult studies are indexed with every adult
    band they include (Adolescent for an 18-year-old, Aged for a 70-year-old), so adolescent,
    adult and elderly together are adult; several paediatric bands together say nothing."""
    groups = set(_mesh_values(mesh, _MESH_AGE))
    if len(groups) == 1:
        return groups.pop()
    if "adult" in groups and groups <= {"adolescent", "adult", "elderly"}:
        return "adult"
    return None


def _first_single(*candidates: list[str]) -> str | None:
    """The value of the first source that names exactly one; a source naming several ends the
    search (it contradicts the later ones)."""
    for values in candidates:
        if len(values) == 1:
            return values[0]
        if len(values) > 1:
            return None
    return None


def _article_n(text: str) -> int | None:
    """The one group size of an article's title and abstract, when they speak of one group:
    an abstract naming healthy volunteers and patients, or two age groups, may state the size
    of one of them only."""
    if len(populations_in(text)) > 1 or len(age_groups_in(text)) > 1:
        return None
    return group_size(text)


def article_context(article: Article) -> ArticleContext:
    """The study context of ``article``: for each field the first of title, MeSH headings and
    abstract that names exactly one value (conditions: all that MeSH or the title name)."""
    title, abstract, mesh = article.title or "", article.abstract, article.mesh
    mesh_age = _mesh_age(mesh)
    age = _first_single(
        age_groups_in(title), [mesh_age] if mesh_age else [], age_groups_in(abstract)
    )
    population = _first_single(
        populations_in(title), _mesh_values(mesh, _MESH_POPULATION), populations_in(abstract)
    )
    species = _first_single(
        species_in(title), _mesh_values(mesh, _MESH_SPECIES), species_in(abstract)
    )
    conditions = tuple(
        c for c in CONDITIONS
        if c in _mesh_values(mesh, _MESH_CONDITIONS) or c in conditions_in(title)
    )  # fmt: skip
    route = _first_single(routes_in(title), _mesh_values(mesh, _MESH_ROUTE))
    doses = dose_in(title)
    return ArticleContext(
        age_group=age,
        population=population,
        species=species,
        conditions=conditions,
        route=route,
        dose_text=_single(doses),
        n=_article_n(f"{title}\n{abstract}"),
    )


# ------------------------------------------------------------------------- per measurement
def _texts_of(m: Measurement, sentences: dict[int, str], tables: dict[str, ArticleTable]
              ) -> tuple[str, str]:
    """(the measurement's own text, its table's caption) -- a sentence or a table group."""
    if m.source == "table":
        table = tables.get(m.table_id or "")
        caption = " ".join(x for x in (table.label, table.caption) if x) if table else ""
        return m.group_label or "", caption or (m.table_label or "")
    text = sentences.get(m.sentence_index) if m.sentence_index is not None else None
    return text or "", ""


def _own_measurement_type(m: Measurement, text: str) -> str | None:
    """The linker's measurement type, unless it came from the parameter's own name ("mean
    residence time", "mean absorption time"): then the words before the value without it."""
    ps, pe = m.parameter_start, m.parameter_end
    if m.measurement_type is None or ps is None or pe is None or m.value_start is None:
        return m.measurement_type
    if not _kinds(text[ps:pe], _STAT_WORDS):
        return m.measurement_type
    masked = text[:ps] + " " * (pe - ps) + text[pe:]
    return measurement_type(masked, m.value_start, ps)


def _pick(own: list[str], caption: list[str], fallback: str | None) -> str | None:
    """The measurement's own text decides when it names one value (several: unknown); then the
    caption; then the article."""
    for values in (own, caption):
        if values:
            return _single(values)
    return fallback


def _apply(m: Measurement, text: str, caption: str, ctx: ArticleContext) -> None:
    if m.n is None:
        own_sizes = group_sizes(text)
        if own_sizes:
            m.n = group_size(text)
        elif m.source != "table" or not m.group_label:
            # a table group of its own has a size of its own, not the article's
            m.n = ctx.n
    if m.statistic is None and m.source != "table":
        m.statistic = statistic_of(text, m.value_end, _own_measurement_type(m, text),
                                   m.deviation_type)
    if m.age_group is None:
        m.age_group = _pick(age_groups_in(text), age_groups_in(caption), ctx.age_group)
    if m.population is None:
        m.population = _pick(populations_in(text), populations_in(caption), ctx.population)
    if m.species is None:
        m.species = _pick(species_in(text), species_in(caption), ctx.species)
    if m.conditions is None:
        found = set(ctx.conditions) | set(conditions_in(text)) | set(conditions_in(caption))
        m.conditions = [c for c in CONDITIONS if c in found] or None
    if m.route is None:
        m.route = _pick(routes_in(text), routes_in(caption), ctx.route)
    if m.dose_text is None:
        skip = (m.value_start, m.value_end) if m.value_start is not None and m.value_end else None
        own = dose_in(text, skip, cue=m.source != "table")  # a table group names a regimen
        m.dose_text = _pick(own, dose_in(caption), ctx.dose_text)


def apply_study_context(
    article: Article,
    measurements: Sequence[Measurement],
    sentences: Sequence[Sentence | ScoredSentence] = (),
    tables: Sequence[ArticleTable] = (),
) -> list[Measurement]:
    """Fill the study context (n, statistic, age_group, population, conditions, species, route,
    dose_text) of ``measurements`` of ``article`` in place, from their ``sentences`` (by index;
    a table value: its group label and its table's caption among ``tables``) and the article;
    a field already set is kept. Returns the measurements."""
    out = list(measurements)
    if not out:
        return out
    ctx = article_context(article)
    by_index: dict[int, str] = {}
    for s in sentences:
        sent = s.sentence if isinstance(s, ScoredSentence) else s
        by_index[sent.index] = sent.text
    by_table = {t.table_id: t for t in tables}
    for m in out:
        try:
            text, caption = _texts_of(m, by_index, by_table)
            _apply(m, text, caption, ctx)
        except Exception:  # a context word never costs a measurement
            logger.warning("PMID %s: study context failed", m.pmid, exc_info=True)
    return out


def add_study_context(result: ArticleResult) -> ArticleResult:
    """``result`` with the study context of its measurements filled (see
    :func:`apply_study_context`)."""
    apply_study_context(result.article, result.measurements, result.sentences, result.tables)
    return result
