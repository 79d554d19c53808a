"""Relation rules: which tagged entities of one sentence belong together.

Input: a sentence and its entities (``PK``, ``VALUE``, ``UNITS``, ``RANGE``, ``COMPARE``, offsets
relative to the sentence). Output: relations in the labels of the PRED corpus

* ``C_VAL``   PK → VALUE/RANGE (the central value of a parameter),
* ``D_VAL``   deviation VALUE/RANGE → central VALUE/RANGE (head is the SD/SE/CI/range, child the
  central value, as in the annotated corpus),
* ``RELATED`` UNITS or COMPARE → VALUE/RANGE.

The tagger's post-processing (:mod:`pkharvest.model.postprocess`) and the linker
(:mod:`pkharvest.link`) both use these rules; this module depends on neither. The rules use
sentence geometry only and are documented in ``docs/linking.md``. They are hand-written because
no library links NER spans into n-ary PK measurements; they were written from the relation
statistics of the annotated corpus. Every public function here is total: bad offsets or junk
text give fewer relations, never an exception.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pkharvest.corpus.records import ENTITY_LABELS, RELATION_LABELS
from pkharvest.normalise import unit_suits
from pkharvest.records import Entity

logger = logging.getLogger(__name__)

__all__ = [
    "ENTITY_LABELS",
    "RELATION_LABELS",
    "LinkedRelation",
    "ParsedValue",
    "deviation_type",
    "measurement_type",
    "parse_value",
    "relations",
]

_VALUE_LABELS = ("VALUE", "RANGE")
# One placeholder character per entity label in the masked sentence (see _mask): control
# characters, so that they never collide with letters of the text ("CV%" keeps its "V").
P_, V_, U_, C_ = "\x01", "\x02", "\x03", "\x04"
_MASK = {"PK": P_, "VALUE": V_, "RANGE": V_, "UNITS": U_, "COMPARE": C_}


@dataclass(frozen=True)
class LinkedRelation:
    """A directed relation between two entities of one sentence (corpus direction)."""

    head: Entity
    child: Entity
    label: str


# --------------------------------------------------------------------------------------------
# Unicode clean-up (same length, so offsets survive)
# --------------------------------------------------------------------------------------------
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u2043"
_SPACES = (
    "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000\t\r\n"
)
_TRANS = str.maketrans({**{c: "-" for c in _DASHES}, **{c: " " for c in _SPACES}})


def clean_text(text: str) -> str:
    """Map dashes/minus signs to ``-`` and odd spaces to `` `` one char for one char."""
    return text.translate(_TRANS)


# --------------------------------------------------------------------------------------------
# Value parsing
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedValue:
    """Numbers read from a VALUE/RANGE text. A range has ``value=None`` and low/high set."""

    value: float | None
    low: float | None = None
    high: float | None = None
    comparator: str | None = None


_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_WORD_NUMBERS = {
    "zero": 0.0, "one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0,
    "seven": 7.0, "eight": 8.0, "nine": 9.0, "ten": 10.0, "eleven": 11.0, "twelve": 12.0,
    "twenty": 20.0, "hundred": 100.0, "half": 0.5,
}
_COMPARATORS: tuple[tuple[str, str], ...] = (
    (r"<=|≤|=<|⩽|less than or equal to|not more than|at most|up to", "<="),
    (r">=|≥|=>|⩾|greater than or equal to|more than or equal to|not less than|at least", ">="),
    (r"<|less than|lower than|below|under", "<"),
    (r">|greater than|more than|higher than|above|over|exceeding", ">"),
    (r"~|∼|≈|approx(?:\.|imately)?|about|around|nearly|almost|roughly|ca\.?", "~"),
    (r"=", "="),
)
_NUM = (
    r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
    r"(?:[eE][-+]?\d+|\s*[x×*·⋅•]\s*10\s*(?:\^|\*\*)?\s*\(?[-+]?\d+\)?)?"
)
_NUM_RE = re.compile(_NUM)
_RANGE_RE = re.compile(
    rf"^\s*(?P<a>{_NUM})\s*(?:-{{1,2}}|to|and|through|until|/|:)\s*(?P<b>{_NUM})\s*$", re.I
)
_SINGLE_RE = re.compile(rf"^\s*(?P<a>{_NUM})\s*$")


def _number(text: str) -> float | None:
    t = text.strip().replace(" ", "")
    m = re.fullmatch(r"([-+]?(?:\d+(?:\.\d*)?|\.\d+))(?:[x×*·⋅•]10(?:\^|\*\*)?\(?([-+]?\d+)\)?)?"
                     r"(?:[eE]([-+]?\d+))?", t)
    if not m:
        return None
    try:
        base = float(m.group(1))
        exp = m.group(2) or m.group(3)
        val = base * (10.0 ** int(exp)) if exp is not None else base
    except (ValueError, OverflowError):
        return None
    return val if math.isfinite(val) else None


def comparator_prefix(text: str) -> tuple[str | None, str]:
    t = text.lstrip()
    for pattern, symbol in _COMPARATORS:
        m = re.match(rf"(?:{pattern})(?![a-z])", t, re.I)
        if m:
            return symbol, t[m.end():]
    return None, t


def parse_value(text: str | None) -> ParsedValue | None:
    """Parse a value or range as written ("34.7", "1,234.5", "3.4 × 10^3", "1.2e-3",
    "0.5 to 2", "30–100", "−2.1", "< 0.5", "three"). Returns None for anything unreadable."""
    try:
        return _parse_value(text)
    except Exception:  # total by contract: junk gives None
        logger.debug("could not parse value %r", text, exc_info=True)
        return None


def _parse_value(text: str | None) -> ParsedValue | None:
    if not isinstance(text, str) or not text.strip() or len(text) > 200:
        return None
    t = clean_text(text).translate(_SUPERSCRIPTS).strip()
    comparator, t = comparator_prefix(t)
    t = t.strip().rstrip("%").strip()
    if re.fullmatch(r"[-+]?\d+,\d{1,2}", t):  # decimal comma: "1,25"
        t = t.replace(",", ".")
    t = re.sub(r"(?<=\d)[, ](?=\d{3}(?!\d))", "", t)  # thousands separators "1,234" "1 234"
    t = re.sub(r"(?<=\d)\.\s+(?=\d)", ".", t)  # "0. 27" (space after the decimal point)
    t = re.sub(r"(?<=\d)\s*·\s*(?=\d)(?!\d*\s*10)", ".", t) if "·10" not in t else t
    t = re.sub(r"^(?:from|between)\s+", "", t, flags=re.I)
    word = t.lower()
    if word in _WORD_NUMBERS:
        return ParsedValue(_WORD_NUMBERS[word], comparator=comparator)
    m = _SINGLE_RE.match(t)
    if m:
        v = _number(m.group("a"))
        return ParsedValue(v, comparator=comparator) if v is not None else None
    m = _RANGE_RE.match(t)
    if m:
        a, b = _number(m.group("a")), _number(m.group("b"))
        if a is None or b is None:
            return None
        lo, hi = (a, b) if a <= b else (b, a)
        return ParsedValue(None, lo, hi, comparator)
    return None


# --------------------------------------------------------------------------------------------
# Measurement and deviation types (own small term lists)
# --------------------------------------------------------------------------------------------
_MEASUREMENT_TERMS: tuple[tuple[str, str], ...] = (
    (r"geometric(?:al)?\s+(?:least[- ]squares?\s+)?means?|\bg-?means?\b|\bGM\b|\bGLSM\b",
     "geometric mean"),
    (r"\bmedians?\b", "median"),
    (r"\b(?:arithmetic\s+|LS\s+|least[- ]squares?\s+)?means?\b|\baverag(?:e|ed|es)\b", "mean"),
    (r"\branged?\b|\branging\b|\bvaried\s+(?:between|from)\b|\bextended\s+from\b", "range"),
    (r"\bpopulation\s+(?:estimates?|values?|typical)|\btypical\s+values?\b", "population estimate"),
)
_DEVIATION_TERMS: tuple[tuple[str, str], ...] = (
    (r"\b(\d{2}(?:\.\d)?)\s*%\s*(?:CIs?\b|confidence\s+intervals?|C\.I\.)", "CI"),
    (r"\bCIs?\b|confidence\s+intervals?|\bcredible\s+intervals?", "CI"),
    (r"\binter-?quartile|\bIQR\b", "IQR"),
    (r"\branges?\b|\bmin(?:imum)?\s*[-–,]\s*max(?:imum)?\b", "range"),
    (r"\bS\.?E\.?M\.?(?![a-z])|\bS\.E\.(?![a-z])|\bSE\b|standard\s+errors?", "SE"),
    (r"\bS\.?D\.?(?![a-z])|standard\s+deviations?", "SD"),
    (r"%\s*CV\b|\bCV\s*%|\bC\.?V\.?(?![a-z])|coefficients?\s+of\s+variation|\bvariability\b", "CV"),
)


_PM_TERMS = tuple(t for t in _DEVIATION_TERMS if t[1] in ("SD", "SE", "CV"))
_PM = r"(?:±|∓|\+\s*/?\s*-|\+/−|\+\s*or\s*-)"


def _first_term(text: str, terms: Sequence[tuple[str, str]], last: bool = False) -> str | None:
    """The type of the term that occurs first (or last) in ``text``."""
    # Ranked by position; among overlapping terms the longest wins ("geometric mean" over
    # "mean"): first = smallest (start, -end), last = largest (end, -start).
    best: tuple[tuple[int, int], str] | None = None
    for pattern, name in terms:
        for m in re.finditer(pattern, text, re.I):
            rank = (m.end(), -m.start()) if last else (-m.start(), m.end())
            if best is None or rank > best[0]:
                label = name
                if name == "CI" and m.groups() and m.group(1):
                    label = f"{m.group(1)}% CI"
                best = (rank, label)
    return best[1] if best else None


def measurement_type(text: str, value_start: int, parameter_start: int | None = None) -> str | None:
    """The kind of central value ("mean", "median", "geometric mean", "range", ...) from the words
    before the value: the nearest type word between the start of the clause holding the parameter
    (or the sentence start) and the value. None when the text names none."""
    try:
        t = clean_text(text)
        value_start = max(0, min(int(value_start), len(t)))
        begin = 0
        if parameter_start is not None and 0 <= parameter_start <= value_start:
            clause = max(t.rfind(";", 0, parameter_start), t.rfind(". ", 0, parameter_start))
            begin = clause + 1 if clause >= 0 else 0
        window = t[begin:value_start]
        # A deviation word inside "mean (± SD)" is not a measurement type: drop parentheses.
        window = re.sub(r"\([^()]*\)", " ", window)
        return _first_term(window, _MEASUREMENT_TERMS, last=True)
    except Exception:  # total by contract
        logger.debug("measurement_type failed", exc_info=True)
        return None


def deviation_type(
    text: str,
    central: Entity,
    deviation: Entity,
    deviation_unit: str | None = None,
    central_unit: str | None = None,
) -> str | None:
    """SD/SE/CI/IQR/range/CV for a deviation: a term between the central value and the
    deviation ("(95% CI 1.2–3.4)", "± SD"), else a term elsewhere in the sentence ("mean (± SD)",
    "(mean +- s.d.)"), else "CV" for a percentage deviation of a non-percentage value, else
    "range" when written "from … to" inside brackets; None when nothing says."""
    try:
        t = clean_text(text)
        between = t[central.end:deviation.start]
        found = _first_term(between, _DEVIATION_TERMS)
        if found:
            return found
        if re.search(_PM, between):
            # "x ± d": an SD, SE or CV named elsewhere ("mean ± SD"), never a range or CI of
            # another value of the sentence; "±" when the text does not say which.
            return _first_term(t, _PM_TERMS) or "±"
        found = _first_term(t, _DEVIATION_TERMS)
        if found:
            return found
        if deviation_unit and deviation_unit.strip() == "%" and (central_unit or "").strip() != "%":
            return "CV"
        return None
    except Exception:  # total by contract
        return None


# --------------------------------------------------------------------------------------------
# Relation rules
# --------------------------------------------------------------------------------------------
_UNIT_TAIL_RE = re.compile(
    r"(?:\s*[./·]\s*|\s*per\s+)(?:kg|m2|m²|1\.73\s*m(?:2|²)?)(?:\s*-1|⁻¹)?(?![A-Za-z0-9])"
)


def _valid(text: str, entities: Iterable[Any]) -> list[Entity]:
    out: list[Entity] = []
    n = len(text)
    for e in entities:
        try:
            label, start, end = str(e.label).upper(), int(e.start), int(e.end)
        except Exception:  # skip anything that is not entity-like
            continue
        if label not in _MASK or not (0 <= start < end <= n):
            continue
        if label == "UNITS" and (tail := _UNIT_TAIL_RE.match(text, end)):
            # "liter/h" + ".kg": a unit cut before its per-weight / per-area part would give
            # a value of the wrong kind (L/h for L/h/kg); take the part in.
            e = Entity(label, start, tail.end(), text[start:tail.end()])
        out.append(e if isinstance(e, Entity) else Entity(label, start, end, text[start:end]))
    # Drop exact duplicates, keep order by position.
    seen: set[tuple[str, int, int]] = set()
    uniq = []
    for e in sorted(out, key=lambda x: (x.start, x.end, x.label)):
        key = (e.label.upper(), e.start, e.end)
        if key not in seen:
            seen.add(key)
            uniq.append(e)
    return uniq


def _mask(text: str, ents: Sequence[Entity]) -> str:
    """The cleaned sentence with every entity span overwritten by its placeholder letter."""
    chars = list(clean_text(text))
    for e in ents:
        letter = _MASK[e.label.upper()]
        for i in range(e.start, e.end):
            chars[i] = letter
    return "".join(chars)


# Deviation syntax between a central value (plus its unit) and the deviation.
_DEV_PM_RE = re.compile(rf"^\s*(?:{U_}+\s*)?\(?\s*{_PM}\s*$")
_DEV_PAREN_RE = re.compile(
    rf"^\s*(?:{U_}+\s*)?[(\[]\s*(?:[^()\[\]{P_}{V_};]{{0,45}}?[\s:=,{U_}])?\s*$"
)
# "0.115 liter/h.kg (SD, 0.022)" with the unit left untagged: a deviation named in the bracket.
_DEV_NAMED_RE = re.compile(
    rf"^\s*[^\s()\[\]{P_}{V_};]{{1,15}}\s*[(\[]\s*(?:S\.?D\.?|S\.?E\.?M?\.?|standard\s+"
    r"(?:deviation|error)|%\s*CV|CV\s*%?)\s*[,:=]?\s*$", re.I
)
# List glue allowed between a value and a unit that it shares with later values.
_GLUE_WORDS = r"(?:and|or|to|vs\.?|versus|v|from|respectively|between|compared\s+with)"


def _strip_brackets(s: str) -> str:
    prev = None
    while prev != s:
        prev = s
        s = re.sub(r"\([^()]*\)|\[[^\[\]]*\]", " ", s)
    return s


def _shares_unit(gap: str) -> bool:
    """True when a value can take a unit written after ``gap`` (masked text between them)."""
    if P_ in gap or ";" in gap or len(gap) > 120:
        return False
    s = _strip_brackets(gap)
    s = re.sub(f"[{C_}{V_}]+", " ", s)
    s = re.sub(rf"(?<![A-Za-z]){_GLUE_WORDS}(?![A-Za-z])", " ", s, flags=re.I)
    s = re.sub(_PM, " ", s)
    # A value inside brackets takes the unit after them: "(1.1 +- 0.8) min".
    return re.fullmatch(r"[\s,\-)\]]*", s) is not None


def _unclosed(gap: str) -> bool:
    """True when ``gap`` opens a bracket that it does not close (the unit after it belongs to
    something inside the brackets, as in "32.3 (CV% 41) ng.h/mL")."""
    s = _strip_brackets(gap)
    return "(" in s or "[" in s


def _unit_before_ok(gap: str) -> bool:
    """A unit written before its value: "mg/L: 3.2", "(mg/L) 3.2", "mg/L = 3.2"."""
    return re.fullmatch(r"\s*\)?\s*[:=]\s*|\s*\)\s*", gap) is not None


def _pk_glue(gap: str) -> bool:
    """PK mentions listed together: "CL, V and t1/2", "Cmax and AUC", "CL/F, and Vd/F"."""
    s = _strip_brackets(gap)
    return re.fullmatch(r"[\s,/&]*(?:(?:and|or|as well as|&)\s*)?(?:the\s+)?[\s,]*", s,
                        re.I) is not None


def _forward_ok(gap: str) -> bool:
    """A value written before its parameter ("the 12-h half-life")."""
    if len(gap) > 30 or re.search(rf"[,;:.()=\[\]{V_}{P_}]", gap):
        return False
    words = re.findall(r"[A-Za-z]+", gap.replace(U_, " "))
    banned = {"was", "were", "is", "are", "of", "fold", "dose", "doses", "and", "or", "with",
              "in", "after", "for", "at", "by", "than", "vs", "versus", "to"}
    return len(words) <= 3 and not banned.intersection(w.lower() for w in words)


def relations(text: str, entities: Iterable[Entity]) -> list[LinkedRelation]:
    """Link the entities of one sentence into C_VAL, D_VAL and RELATED relations (corpus
    direction: C_VAL PK→value, D_VAL deviation→central, RELATED unit/comparator→value).
    Never raises: invalid entities are ignored; an internal error gives []."""
    try:
        if not isinstance(text, str):
            return []
        return _relations(text, _valid(text, entities or ()))
    except Exception:  # total by contract
        logger.warning("linking failed for %r", text[:80] if isinstance(text, str) else text,
                       exc_info=True)
        return []


def _relations(text: str, ents: list[Entity]) -> list[LinkedRelation]:
    masked = _mask(text, ents)
    lab = {id(e): e.label.upper() for e in ents}
    values = [e for e in ents if lab[id(e)] in _VALUE_LABELS]
    units = [e for e in ents if lab[id(e)] == "UNITS"]
    pks = [e for e in ents if lab[id(e)] == "PK"]
    compares = [e for e in ents if lab[id(e)] == "COMPARE"]
    out: list[LinkedRelation] = []

    # 1. Deviations: "X ± d", "X (d)", "X unit (95% CI a–b)", "X (SD d)".
    central_of: dict[int, Entity] = {}
    for prev, cur in itertools.pairwise(values):
        if cur.start < prev.end:
            continue
        raw_gap = masked[prev.end:cur.start]
        # Balanced brackets inside the gap are asides: "32.3 [coefficient of variation (CV%) 41]".
        gap = raw_gap[:1] + _strip_brackets(raw_gap[1:]) if raw_gap else raw_gap
        if _DEV_PM_RE.match(gap) or _DEV_PAREN_RE.match(gap) or _DEV_NAMED_RE.match(gap):
            if id(prev) in central_of:  # "5 ± 1 (range 2-9)": second deviation of the same value
                if not _DEV_PAREN_RE.match(gap):
                    continue
                central_of[id(cur)] = central_of[id(prev)]
            else:
                central_of[id(cur)] = prev
    # "IC50 (0.081 μmol/L) showed a 62% interindividual variability": a percentage named as
    # variability is a deviation of the nearest central value before it.
    for i, v in enumerate(values):
        if id(v) in central_of or i == 0:
            continue
        before_ctx = masked[max(0, v.start - 25):v.start]
        after_ctx = masked[v.end:v.end + 30]
        if (re.search(r"variability|\bC\.?V\b|coefficients? of variation", before_ctx, re.I)
                and "(" in before_ctx[-3:]) or \
                re.match(rf"^\s*{U_}+\s+(?:\w+\s+){{0,2}}(?:variability|CV\b|coefficient)",
                         after_ctx, re.I):
            prev = next((w for w in reversed(values[:i]) if id(w) not in central_of), None)
            if prev is not None:
                central_of[id(v)] = prev
    for v in values:
        if id(v) in central_of:
            out.append(LinkedRelation(v, central_of[id(v)], "D_VAL"))

    # 2. Units: the first unit after the value when only list glue lies between; else a unit
    #    just before it ("mg/L: 3.2"); a deviation without one takes its central value's unit.
    unit_of: dict[int, Entity] = {}
    for v in values:
        before = next((u for u in reversed(units) if u.end <= v.start), None)
        # "CV% 33.5": a percent sign glued to CV is the unit of the number after it.
        if before is not None and re.fullmatch(r"\s*", masked[before.end:v.start]) \
                and re.search(r"CV\s*$", masked[:before.start], re.I):
            unit_of[id(v)] = before
            continue
        after = next((u for u in units if u.start >= v.end
                      and not _unclosed(masked[v.end:u.start])), None)
        if after is not None and _shares_unit(masked[v.end:after.start]):
            unit_of[id(v)] = after
            continue
        if before is not None and _unit_before_ok(masked[before.end:v.start]):
            unit_of[id(v)] = before
    for v in values:
        c = central_of.get(id(v))
        if id(v) not in unit_of and c is not None and id(c) in unit_of:
            unit_of[id(v)] = unit_of[id(c)]
    for v in values:
        if id(v) in unit_of:
            out.append(LinkedRelation(unit_of[id(v)], v, "RELATED"))

    # 3. Comparators: the next value when nothing but words lie between.
    for c in compares:
        nxt = next((v for v in values if v.start >= c.end), None)
        if nxt is not None:
            gap = masked[c.end:nxt.start]
            if len(gap) <= 40 and not re.search(f"[{P_}{U_}{V_};]", gap):
                out.append(LinkedRelation(c, nxt, "RELATED"))

    # 4. Central values to parameters. "k parameters … k values, respectively" first: pairwise
    #    in order (or in the order the units support), whatever lies between the parameters.
    centrals = [v for v in values if id(v) not in central_of]
    done: set[int] = set()
    for p, v in _respectively_pairs(text, masked, pks, centrals, unit_of):
        out.append(LinkedRelation(p, v, "C_VAL"))
        done.add(id(v))
    centrals = [v for v in centrals if id(v) not in done]
    groups: list[list[Entity]] = []
    for p in pks:
        if groups and _pk_glue(masked[groups[-1][-1].end:p.start]):
            groups[-1].append(p)
        else:
            groups.append([p])
    assigned: dict[int, list[Entity]] = {i: [] for i in range(len(groups))}
    for v in centrals:
        gi = max((i for i, g in enumerate(groups) if g[0].start < v.start), default=None)
        nxt = next((i for i, g in enumerate(groups) if g[0].start >= v.end), None)
        if nxt is not None:
            u = unit_of.get(id(v))
            end = u.end if u is not None and u.start >= v.end else v.end
            if end <= groups[nxt][0].start and _forward_ok(masked[end:groups[nxt][0].start]):
                gi = nxt
        if gi is None:
            gi = nxt  # values before any parameter: "were 5.2 and 40 for CL and V"
        if gi is not None:
            assigned[gi].append(v)
    # A group without values followed by a close group joined by "and": both take the values
    # ("the terminal half-life after the first dose and the terminal half-life at steady state").
    for i in range(len(groups) - 1):
        gap = masked[groups[i][-1].end:groups[i + 1][0].start]
        if not assigned[i] and len(gap) <= 40 and re.search(r"\band\b", gap) \
                and not re.search(f"[;:.={V_}]", gap):
            groups[i + 1] = groups[i] + groups[i + 1]
            groups[i] = []
    for i, g in enumerate(groups):
        vals = assigned[i]
        if not g or not vals:
            continue
        if len(g) == 1 and len(vals) > 1:
            vals = _fitting_values(text, g[0], vals, unit_of)
        n, m = len(g), len(vals)
        if n == 1 or m == 1:
            pairs = [(p, v) for p in g for v in vals]
        elif m % n == 0 and (chunks := _semicolon_chunks(masked, vals, n)):
            pairs = [(g[j], v) for j, chunk in enumerate(chunks) for v in chunk]
        elif m % n == 0:
            pairs = [(g[j % n], v) for j, v in enumerate(vals)]
        else:
            pairs = [(g[min(j, n - 1)], v) for j, v in enumerate(vals)]
        out.extend(LinkedRelation(p, v, "C_VAL") for p, v in pairs)
    return out


def _respectively_pairs(text: str, masked: str, pks: list[Entity], centrals: list[Entity],
                        unit_of: dict[int, Entity]) -> list[tuple[Entity, Entity]]:
    """"A, B and C were x, y and z, respectively" / "x, y and z for A, B and C, respectively":
    the k values of the clause that ends in "respectively" go pairwise, in order, to the k
    parameters listed nearest to them (the geometry rules of step 4 would give all of them to
    the last parameter when the list is broken by words or abbreviations)."""
    pairs: list[tuple[Entity, Entity]] = []
    used: set[int] = set()
    for r in re.finditer(r"respectively", masked, re.I):
        clause = max(masked.rfind(";", 0, r.start()), masked.rfind(". ", 0, r.start()),
                     masked.rfind("respectively", 0, r.start()))
        begin = clause + 1 if clause >= 0 else 0
        vals = [v for v in centrals if begin <= v.start and v.end <= r.start()
                and id(v) not in used]
        ps = [p for p in pks if begin <= p.start and p.end <= r.start()]
        if len(vals) < 2 or len(ps) < 2:
            continue
        # The two lists must not interleave ("Cmax was 1 and 2, and AUC 3 and 4 in A and B,
        # respectively" pairs values with groups, not with parameters).
        if ps[-1].start > vals[-1].end:  # values first, then the parameters
            ps = [p for p in ps if p.start > vals[-1].end]
            if any(p.end > vals[0].start for p in pks if p not in ps and p.start >= begin):
                continue
        elif ps[0].end <= vals[0].start:  # parameters first, then the values
            if any(v.start < ps[-1].end for v in vals):
                continue
        else:
            continue
        k = len(vals)
        if k < 2 or len(ps) < k:
            continue
        names = [" ".join(text[p.start:p.end].lower().split()) for p in ps[-k:]]
        if any(a.endswith(b) or b.endswith(a)
               for a, b in itertools.combinations(names, 2)):
            # "the first and second distribution half-lives … with distribution half-lives of
            # 0.1 h and 0.75 h, respectively": one parameter named twice, the geometry rules
            continue
        chosen = _order_by_units(text, ps[-k:], vals, unit_of)
        pairs.extend(zip(chosen, vals, strict=True))
        used.update(id(v) for v in vals)
    return pairs


def _order_by_units(text: str, ps: list[Entity], vals: list[Entity],
                    unit_of: dict[int, Entity]) -> list[Entity]:
    """The parameters in written order, unless a unit contradicts its parameter's kind and
    another order of the same parameters contradicts fewer units (then that order)."""

    def fits(order: Sequence[Entity]) -> tuple[int, int]:
        good = bad = 0
        for p, v in zip(order, vals, strict=True):
            u = unit_of.get(id(v))
            if u is None:
                continue
            ok = unit_suits(text[p.start:p.end], text[u.start:u.end])
            good += ok is True
            bad += ok is False
        return good, bad

    best, (good, bad) = list(ps), fits(ps)
    if bad == 0 or len(ps) > 6:
        return best
    for order in itertools.permutations(ps):
        g, b = fits(order)
        if (b, -g) < (bad, -good):
            best, good, bad = list(order), g, b
    return best


def _fitting_values(text: str, pk: Entity, vals: list[Entity],
                    unit_of: dict[int, Entity]) -> list[Entity]:
    """"The peak concentration at 9.7 h was 23.9 µg/mL": of several values that geometry gives
    one parameter, drop those whose unit is of the wrong kind when at least one fits."""
    name = text[pk.start : pk.end]
    units = [unit_of.get(id(v)) for v in vals]
    fits = [None if u is None else unit_suits(name, text[u.start : u.end]) for u in units]
    if True in fits and False in fits:
        return [v for v, f in zip(vals, fits, strict=True) if f is not False]
    return vals


def _semicolon_chunks(masked: str, vals: list[Entity], n: int) -> list[list[Entity]] | None:
    """"Km and Vmax … (24 versus 122 ng/mL; 44 versus 68 mg/day, respectively)": values in
    ``n`` equal ";"-separated blocks, with no "respectively" before the last block, go block by
    block to the ``n`` parameters."""
    chunks: list[list[Entity]] = [[vals[0]]]
    for a, b in itertools.pairwise(vals):
        gap = masked[a.end:b.start]
        if ";" in gap:
            if re.search(r"respectively", gap, re.I):
                return None
            chunks.append([b])
        else:
            chunks[-1].append(b)
    if len(chunks) == n and len({len(c) for c in chunks}) == 1 and len(chunks[0]) > 1:
        return chunks
    return None
