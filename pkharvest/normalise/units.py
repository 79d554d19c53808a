"""Unit parsing and canonicalisation with Pint, extended for the notations of PK papers.

``parse_unit(text)`` turns a unit as written in an abstract ("µg·h/mL", "l·h-1·kg-1",
"mL/min/1.73 m²", "h(-1)", "%") into the canonical unit of its *quantity kind* (clearance → L/h,
exposure → mg·h/L, ...) and the factor that converts a value into it. It never raises on user
text: problems come back in ``UnitResult.error``.

How a text is read:

0. :func:`fold_case` puts letter case right: Pint is case-sensitive (SI: ``M`` mega, ``m``
   milli), PK papers are not. An all-upper-case spelling ("NG/ML", "ML/MIN", "MG.H/L") is
   folded to the conventional case, and a mega/peta look-alike of a mass, volume or amount
   ("Mg/L", "ML", "Mmol", "PM") is read as milli/pico; see the comment above ``fold_case``.
1. :func:`clean_unit_text` rewrites PK typography into Pint syntax (unicode micro signs, dashes,
   middle dots, superscripts, ``h-1``/``h(-1)`` exponents, ``/1.73 m2`` and ``/70 kg`` factors,
   ``ng-eq``...). Pint's own parser cannot be configured for these, hence the rewriting.
2. Pint parses the expression (our registry adds international units and the standard body
   surface area ``std_bsa`` = 1.73 m², and redefines ``U``/``u`` as activity units like IU:
   Pint's own are the enzyme unit and the atomic mass unit; see ``_EXTRA_DEFINITIONS``).
3. The quantity kind comes from the dimensionality plus two facts the dimensionality alone loses:
   a mass divided by a mass ("mg/kg", "ng/g" would otherwise be a plain fraction) and an area in
   the denominator ("mL/min/1.73 m²" would otherwise look like a velocity).
4. When the literal reading has no PK kind, two alternative readings that PK authors commonly
   mean are tried, in order: a slash that divides by everything after it ("ml/kg·min" meaning
   mL/(kg·min)), and molar symbols used for amounts ("nM/l" meaning nmol/L). The first reading
   with a PK kind wins.
5. A reading that still holds a mega-or-larger unit of mass, volume or amount of substance
   (megagram, megalitre, megamole, megamolar...) is refused with an error: no PK quantity has
   that size, so it can only be a misread milli, and a value off by 10^9 must not be stored.
6. A reading that is no PK quantity whatever its dimensionality is refused ("not a PK unit:
   ..."): a temperature ("°C", "degree c"), radioactivity (Bq and Ci are 1/time in Pint, so "MBq"
   would be a rate constant), count rates, rpm, and a stray "c" (the speed of light).
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pint

logger = logging.getLogger(__name__)

MAX_UNIT_CHARS = 120

BSA_UNIT = "std_bsa"  # no digits: unit identifiers are letters and "_" only
_EXTRA_DEFINITIONS = (
    # International units have no SI dimension: give them their own so IU/L is a concentration.
    "international_unit = [international_unit] = IU = iu",
    # Standard body surface area, so "mL/min/1.73 m²" is a unit of its own.
    f"{BSA_UNIT} = 1.73 * meter ** 2",
    # "U" and "u" are *redefined* (the only redefinitions here). Pint's "U" is the enzyme unit
    # (µmol/min) and "u" the atomic mass unit, so heparin "U/mL", insulin "mU/L" or "µU/mL" came
    # out as µmol/L/h, and "u/kg" (lower-cased U/kg) as 1.7e-21 mg/kg, stored without an error.
    # In PK papers U is a unit of biological activity like IU (heparin, insulin, penicillin,
    # enzyme-replacement doses), and the atomic mass unit is no PK unit (molecular masses are
    # written Da/kDa, which stay daltons). Prefixes follow: mU, uU/µU, kU, MU; in lower case
    # "mu", "uu", "ku" (Pint splits "mug", "muM", "mumol", "ug", "umol", "uL" as micro + unit,
    # so those are untouched). U and IU are one activity dimension with factor 1: no activity
    # scale is converted into another, a value keeps the drug's own unit.
    "activity_unit = international_unit = U = u",
)


@lru_cache(maxsize=1)
def get_registry() -> pint.UnitRegistry:
    """The project's Pint registry (built once). Canonical unit strings parse with it."""
    # on_redefinition="ignore": "U"/"u" above are redefined on purpose (Pint would log a warning)
    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True, on_redefinition="ignore")
    for line in _EXTRA_DEFINITIONS:
        ureg.define(line)
    return ureg


@dataclass(frozen=True)
class QuantityKind:
    """A PK quantity kind and its canonical unit (a string :func:`get_registry` parses)."""

    key: str
    description: str
    canonical: str


# Per quantity kind one canonical unit. Molar and mass kinds are separate on purpose: converting
# between them needs the drug's molar mass, which normalisation does not know.
KINDS: dict[str, QuantityKind] = {
    k.key: k
    for k in (
        QuantityKind("time", "time", "h"),
        QuantityKind("rate_constant", "first-order rate constant", "1/h"),
        QuantityKind("fraction", "fraction (dimensionless; % becomes 0.01)", "dimensionless"),
        QuantityKind("volume", "volume", "L"),
        QuantityKind("volume_per_weight", "weight-normalised volume", "L/kg"),
        QuantityKind("volume_per_bsa", "BSA-normalised volume", "L/m**2"),
        QuantityKind("clearance", "clearance / flow", "L/h"),
        QuantityKind("clearance_per_weight", "weight-normalised clearance", "L/h/kg"),
        # per-BSA clearance in the family of plain clearance (L/h), per 1.73 m²
        QuantityKind("clearance_per_bsa", "BSA-normalised clearance", f"L/h/{BSA_UNIT}"),
        QuantityKind("concentration_mass", "mass concentration", "mg/L"),
        QuantityKind("concentration_molar", "molar concentration", "umol/L"),
        QuantityKind("concentration_iu", "activity concentration", "IU/L"),
        QuantityKind("exposure_mass", "exposure (AUC), mass", "mg*h/L"),
        QuantityKind("exposure_molar", "exposure (AUC), molar", "umol*h/L"),
        QuantityKind("exposure_iu", "exposure (AUC), activity", "IU*h/L"),
        QuantityKind("moment_mass", "first moment (AUMC), mass", "mg*h**2/L"),
        QuantityKind("moment_molar", "first moment (AUMC), molar", "umol*h**2/L"),
        QuantityKind("exposure_per_dose", "dose-normalised exposure (AUC/D)", "h/L"),
        QuantityKind("concentration_per_dose", "dose-normalised concentration (C/D)", "1/L"),
        QuantityKind("amount_mass", "amount / dose (mass)", "mg"),
        QuantityKind("amount_molar", "amount / dose (molar)", "umol"),
        QuantityKind("exposure_per_weight", "tissue exposure (AUC per g of tissue)", "mg*h/kg"),
        QuantityKind("amount_per_weight", "dose per body weight or tissue content", "mg/kg"),
        QuantityKind("rate_mass", "dosing / infusion rate", "mg/h"),
        QuantityKind("rate_per_weight", "weight-normalised dosing rate", "mg/h/kg"),
        QuantityKind("permeability", "permeability / velocity", "cm/s"),
        QuantityKind("flux", "flux per area (e.g. transdermal)", "ug/cm**2/h"),
        QuantityKind("concentration_rate", "rate of change of mass concentration", "mg/L/h"),
        QuantityKind(
            "concentration_rate_molar", "rate of change of molar concentration", "umol/L/h"
        ),
        QuantityKind("exposure_molar_per_dose", "dose-normalised molar exposure", "umol*h/L/mg"),
        QuantityKind("second_order_rate", "second-order (binding) rate constant", "1/nM/h"),
    )
}


@dataclass(frozen=True)
class UnitResult:
    """Outcome of :func:`parse_unit`.

    ``unit`` is the canonical unit (None on error); a value in the input unit times ``factor``
    is the value in ``unit``. ``dimensionality`` is Pint's dimensionality of the reading (also
    filled when no PK kind fits). ``kind`` is the :data:`KINDS` key; ``reading`` the Pint
    expression that was finally used."""

    input: str
    unit: str | None = None
    factor: float | None = None
    error: str | None = None
    dimensionality: str | None = None
    kind: str | None = None
    reading: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.unit is not None


# --------------------------------------------------------------------------- text -> Pint syntax

_MICRO = ("µ", "μ", "\u00b5", "\u03bc")
_DASHES = "−–—‐‑‒﹣－"
_TIMES = "·⋅∙•×✕*"
# Whole-word spellings Pint does not know (lower-cased match) -> Pint spelling.
_ALIASES = {
    "microg": "ug",
    "micrograms": "ug",
    "microgram": "ug",
    "mcg": "ug",
    "mcl": "ul",
    "mcmol": "umol",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "wk": "week",
    "wks": "week",
    "yr": "year",
    "yrs": "year",
    "mo": "month",
    "sec": "s",
    "secs": "s",
    "lit": "L",
    "litre": "L",
    "litres": "L",
    "liters": "L",
    # Pint reads "unit(s)" as micro-nit(s), a luminance: "units/mL" means U/mL
    "unit": "U",
    "units": "U",
}
# Qualifiers that name *what* is counted, not a unit: "ng-eq/g" (radioactivity equivalents),
# "µL/min/mg·protein" (per mg of microsomal protein). They are dropped.
_QUALIFIER_RE = re.compile(
    r"[-*]?\b(?:eq|equiv|equivalents?|protein|prot|w/w|v/v|w/v)\b", re.IGNORECASE
)
_IDENT_RE = re.compile(r"[A-Za-z_]+")
_TEMPERATURE_RE = re.compile(r"(?:°\s*|(?<![A-Za-z])deg(?:ree)?s?\.?\s*)([CcFf])(?![A-Za-z])")


def _is_unit_name(ureg: pint.UnitRegistry, name: str) -> bool:
    return _unit_name_cached(id(ureg), name)


@lru_cache(maxsize=4096)
def _unit_name_cached(_reg_id: int, name: str) -> bool:
    try:
        get_registry().parse_units(name)
        return True
    except Exception:
        return False


def _fix_identifier(ureg: pint.UnitRegistry, tok: str) -> str:
    """Map one identifier to something Pint knows: alias, lower case, or two glued units
    ("ngh" → "ng*h", "lh" → "l*h"); unchanged when nothing works (Pint then reports it)."""
    low = tok.lower()
    if low in _ALIASES:
        return _ALIASES[low]
    if _is_unit_name(ureg, tok):
        return tok
    if low != tok and _is_unit_name(ureg, low):
        return low
    # only "<amount or volume><time>" is split: other splits invent units ("CV" → C*V)
    for i in range(len(tok) - 1, 0, -1):
        a, b = tok[:i], _ALIASES.get(tok[i:].lower(), tok[i:])
        if _is_amount(ureg, a, volume=True) and _is_time(ureg, b):
            return f"{a}*{b}"
    return tok


def _dims_of_name(ureg: pint.UnitRegistry, name: str) -> dict[str, float] | None:
    if not _is_unit_name(ureg, name):
        return None
    try:
        return {k: float(v) for k, v in ureg.parse_units(name).dimensionality.items()}
    except Exception:
        return None


def _is_amount(ureg: pint.UnitRegistry, name: str, volume: bool = False) -> bool:
    """A mass or amount-of-substance unit (or a volume, when ``volume``)."""
    d = _dims_of_name(ureg, name)
    ok = [{"[mass]": 1.0}, {"[substance]": 1.0}] + ([{"[length]": 3.0}] if volume else [])
    return d in ok


def _is_time(ureg: pint.UnitRegistry, name: str) -> bool:
    return _dims_of_name(ureg, name) == {"[time]": 1.0}


def _balance(expr: str) -> str:
    """Drop unmatched closing brackets and close open ones ("l/[h·kg" → "l/(h*kg)")."""
    out: list[str] = []
    depth = 0
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                continue
            depth -= 1
        out.append(ch)
    return "".join(out) + ")" * depth


# --------------------------------------------------------------------------- letter case
#
# Why by hand: Pint is case-sensitive, as SI is ("M" mega, "m" milli; "M" molar, "m" metre;
# "H" henry, "S" siemens, "G" gauss), while PK papers are not: older abstracts set units in
# capitals ("NG/ML", "MCG/ML", "ML/MIN", "MG.H/L", "UG.H/ML") and always mean the milli, micro
# and nano units. Read literally, "ML" is a megalitre and "Mg" a megagram: values off by 10^6 to
# 10^9, stored without any error. Pint's case_sensitive=False does not help (an exact-case
# match still wins: "ML" stays a megalitre, "Mg" becomes a megagauss), and no blanket lower-
# casing can tell MBq from mBq or mM from MM. Genuine mega units do occur (MBq of a
# radiopharmaceutical, 3 MIU of interferon, 2.4 MU of penicillin), so the rule follows the
# conventions of the PK literature:
#
# * A text with no lower-case letter (micro signs aside) is all-caps typesetting: each word gets
#   its conventional case. That is lower case (mg, ng, mcg, h, min, kg, mmol...; L, mL, dL) except
#   - molar symbols: NM, UM, MCM, PM, MM, M → nM, uM, pM, mM, M (nanometre and megamolar are no
#     PK units); squared or cubed they are lengths (M2 → m², M(-2) → m⁻², MM3 → mm³);
#   - activity units keep "U"/"IU" (lower-case "u" is the atomic mass unit): UIU → uIU,
#     KIU → kIU; an M prefix is milli per volume (MIU/ML, MU/L, MIU.H/ML: plasma levels are
#     never mega-units per mL) and mega otherwise (MIU, MU/M2: doses);
#   - radioactivity: MBQ → MBq, KBQ → kBq, GBQ → GBq (doses are MBq, never mBq); MCI → mCi,
#     UCI → uCi;
#   - a Greek capital mu is the upper case of the micro sign ("µg".upper() == "ΜG").
# * In a text with lower-case letters the author's case is trusted (MBq/kg, MU/kg, MIU/mL,
#   nM, mM), except where the capital prefix would make a mass, volume, amount or molar
#   concentration a million-fold or more too large, which is never a PK quantity: "Mg", "MG",
#   "ML", "Ml", "Mmol", "MM", "PM", "Pg" → mg, mL, mmol, mM, pM, pg. A bare "M" squared or
#   cubed is a metre there too ("1.73 M2").
#
# Whatever still reads as a mega-or-larger mass, volume or amount after this is refused by
# parse_unit (see _implausible_unit), never stored.

_WORD_RE = re.compile(r"[A-Za-z]+")
_GREEK_CAPITAL_MU = "\u039c"
# an exponent of 2 or 3 right after a symbol: "M2", "M^2", "M**2", "M(-2)", "M²" (after NFKC)
_AREA_VOLUME_EXPONENT_RE = re.compile(rf"(?:\^|\*\*)?\(?[-+{_DASHES}]?[23](?![\d.])")
_CAPS_PREFIX = {"": "", "K": "k", "M": "m", "U": "u", "MC": "u", "MU": "u", "N": "n",
                "P": "p", "F": "f", "D": "d"}  # fmt: skip
_CAPS_LITRE_RE = re.compile(r"(MC|MU|[MUNPFD])?L")
_CAPS_MOLAR_RE = re.compile(r"(MC|MU|[MUNPF])?M")
_CAPS_ACTIVITY_RE = re.compile(r"(MC|MU|[KUNP]|M)?(IU|U)")
_CAPS_BQ_RE = re.compile(r"([KMGT])?BQ")
_BQ_PREFIX = {"": "", "K": "k", "M": "M", "G": "G", "T": "T"}
_CAPS_CI_RE = re.compile(r"(MC|MU|[MUNPK])?CI")
# mixed-case text: a capital M or P that would make a mass, volume, amount or molar unit huge
_MEGA_LOOKALIKE_RE = re.compile(r"([MP])(g|G|l|L|mol|Mol|MOL|M)")
_LOOKALIKE_BASE = {"g": "g", "G": "g", "l": "L", "L": "L", "mol": "mol", "Mol": "mol",
                   "MOL": "mol", "M": "M"}  # fmt: skip


def _is_all_caps(text: str) -> bool:
    return bool(re.search(r"[A-Z]", text)) and not re.search(r"[a-z]", text)


def _fold_caps_word(word: str, after: str, activity_milli: bool) -> str:
    """Conventional case of one word of an all-caps unit (``after``: the text that follows)."""
    if m := _CAPS_MOLAR_RE.fullmatch(word):
        if _AREA_VOLUME_EXPONENT_RE.match(after):
            return word.lower()  # "M2", "M(-2)", "MM3": an area or a volume, not molar²
        return _CAPS_PREFIX[m.group(1) or ""] + "M"
    if m := _CAPS_ACTIVITY_RE.fullmatch(word):
        prefix = m.group(1) or ""
        if prefix == "M":
            return ("m" if activity_milli else "M") + m.group(2)
        return _CAPS_PREFIX[prefix] + m.group(2)
    if m := _CAPS_BQ_RE.fullmatch(word):
        return _BQ_PREFIX[m.group(1) or ""] + "Bq"
    if m := _CAPS_CI_RE.fullmatch(word):
        return _CAPS_PREFIX[m.group(1) or ""] + "Ci"
    if m := _CAPS_LITRE_RE.fullmatch(word):
        return _CAPS_PREFIX[m.group(1) or ""] + "L"  # "L" for litre is the usual spelling
    return word.lower()


def _fold_all_caps(text: str, activity_milli: bool) -> str:
    return _WORD_RE.sub(
        lambda m: _fold_caps_word(m.group(0), text[m.end() :], activity_milli), text
    )


def _fold_mixed_word(word: str, after: str) -> str:
    if m := _MEGA_LOOKALIKE_RE.fullmatch(word):
        return m.group(1).lower() + _LOOKALIKE_BASE[m.group(2)]
    if word == "M" and _AREA_VOLUME_EXPONENT_RE.match(after):
        return "m"
    return word


def _per_volume(expr: str) -> bool:
    """Whether a cleaned expression divides by a volume (a concentration or an AUC)."""
    if _too_big(expr):
        return False
    try:
        dims = get_registry().parse_expression(expr).dimensionality
    except Exception:
        return False
    return float(dims.get("[length]", 0)) == -3.0


def fold_case(text: str) -> str:
    """Put the letter case of a unit as written right for Pint (the rule is in the comment
    above). Examples: ``"NG/ML"`` → ``"ng/mL"``, ``"MBQ/KG"`` → ``"MBq/kg"``, ``"MIU/ML"`` →
    ``"mIU/mL"``, ``"MIU"`` → ``"MIU"``, ``"Mg/L"`` → ``"mg/L"``, ``"MBq/kg"`` unchanged."""
    s = unicodedata.normalize("NFKC", text)
    if _is_all_caps(s):
        s = s.replace(_GREEK_CAPITAL_MU, "\u03bc")  # its lower case, as NFKC spells µ
        folded = _fold_all_caps(s, activity_milli=False)
        milli = _fold_all_caps(s, activity_milli=True)
        if milli != folded and _per_volume(_rewrite(folded)):
            folded = milli
    else:
        folded = _WORD_RE.sub(lambda m: _fold_mixed_word(m.group(0), s[m.end() :]), s)
    if folded != s:
        logger.debug("unit %r read in conventional case as %r", text, folded)
    return folded


# --------------------------------------------------------------------------- rewriting


def clean_unit_text(text: str) -> str:
    """Rewrite a unit as written in PK papers into an expression Pint parses.

    Pure string rewriting; raises nothing. Examples: ``"µg·h/mL"`` → ``"ug*h/mL"``,
    ``"l·h(-1)·70·kg(-1)"`` → ``"l*h**-1*(70*kg)**-1"``, ``"ml/min/1.73 m²"`` →
    ``"ml/min/(1.73*m**2)"``, ``"NG.H/ML"`` → ``"ng*h/mL"`` (letter case: :func:`fold_case`)."""
    return _rewrite(fold_case(text))


def _rewrite(text: str) -> str:
    """:func:`clean_unit_text` after the letter case is settled."""
    ureg = get_registry()
    s = unicodedata.normalize("NFKC", text)  # superscripts, NBSP, fullwidth forms, ½...
    # "°C", "degree c", "degrees C", "deg F": Pint reads "degree c" as an angle times the speed of
    # light (a velocity, stored as a permeability) and "deg C" as degree·coulomb; one symbol makes
    # it a temperature, which parse_unit refuses (no PK quantity is a temperature).
    s = _TEMPERATURE_RE.sub(lambda m: "deg" + m.group(1).upper(), s)
    # a micro sign with no unit after it ("µ/ml", a lost "g") must not become "u", now the
    # activity unit: "micro" alone is no unit, so Pint reports it
    s = re.sub(rf"[{''.join(_MICRO)}](?![A-Za-z])", "micro", s)
    for m in _MICRO:
        s = s.replace(m, "u")
    for d in _DASHES:
        s = s.replace(d, "-")
    # "microg-min/ml", "ng-h/mL": a hyphen between a unit and a time unit is a product (AUC
    # units as printed in older papers), not a minus
    s = re.sub(r"(?<=[A-Za-z])-(?=(?:h|hr|hrs|hours?|min|mins|minutes?|s|sec|d|days?)(?![A-Za-z]))",
               "*", s, flags=re.IGNORECASE)
    s = s.replace("**", "^")  # keep explicit exponents apart from products
    for t in _TIMES:
        s = s.replace(t, "*")
    s = re.sub(r"\s+per\s+", "/", s, flags=re.IGNORECASE)  # "mL/min per 1.73 m2"
    s = s.replace("[", "(").replace("]", ")").replace("{", "(").replace("}", ")")
    s = s.strip().strip("*").strip()
    # "ng.h/ml", "mg.kg-1": a period between letters is a product (not a decimal point).
    s = re.sub(r"(?<=[A-Za-z)])\.(?=[A-Za-z(])", "*", s)
    # "ml.min-1.kg-1": a period after an exponent and before a unit is a product too (Pint would
    # read "min-1.kg" as min minus 1.0 times kg); "1.73" (digit, period, digit) is untouched
    s = re.sub(r"(?<=[A-Za-z)])(\^?\(?-?\d\)?)\.(?=[A-Za-z(])", r"\1*", s)
    s = _QUALIFIER_RE.sub("", s)
    s = re.sub(r"^/", "1/", s)  # "/h", "/year"
    # "(-l)" in "ml(-l)": a letter L read for the digit one ("ML(-L)" in capitals).
    s = re.sub(r"\(\s*-\s*[lL]\s*\)", "(-1)", s)
    # "mg/1", "nM/1" at the end: a digit one read for the letter l (litre).
    s = re.sub(r"/\s*1$", "/l", s)
    s = re.sub(r"\s*/\s*", "/", s)
    s = re.sub(r"\s*\*\s*", "*", s)
    s = re.sub(r"\s+", "*", s.strip())  # "micrograms ml-1", "mg h/L": juxtaposition = product
    s = re.sub(r"(?<=\d)(?=[A-Za-z(])", "*", s)  # "nM-1h-1", "1.73m2": digit then unit
    s = re.sub(r"\*+", "*", s)
    s = re.sub(r"\*(?=[/)])|(?<=[/(])\*", "", s)  # "μg/·ml", "l·/m2", "(·10−6)"
    s = re.sub(r"\*(?=-\d)", "", s)  # "min·-1" -> exponent of the unit before
    # scale factors "10-6", "10−7" before a unit
    s = re.sub(r"(^|[*(/])10-(\d+)(?![\d.])", r"\g<1>10^-\2", s)
    s = re.sub(r"(^|[*(/])10\^\(?([-+]?\d+)\)?", r"\g<1>10^\2", s)
    # exponents written as "h-1", "h(-1)", "m2", "m(2)", "h−1", "(ml·h−1)·kg−1", "kg**-1"
    s = re.sub(r"(?<=[A-Za-z)])\^?\(([-+]?\d+)\)", r"^\1", s)
    s = re.sub(r"(?<=[A-Za-z)])\^?([-+]?\d+)(?![\d.])", r"^\1", s)
    # identifiers Pint does not know as written
    s = _IDENT_RE.sub(lambda m: _fix_identifier(ureg, m.group(0)), s)
    # an unknown word glued to an amount names the substance counted ("ng·BDP/l" = ng of BDP
    # per litre, "nM/min/mg·protein"): drop it so the amount unit remains
    s = re.sub(
        r"(?<![A-Za-z_])([A-Za-z_]+)\*([A-Za-z_]+)(?![A-Za-z_^])",
        lambda m: (
            m.group(1)
            if _is_amount(ureg, m.group(1)) and not _is_unit_name(ureg, m.group(2))
            else m.group(0)
        ),
        s,
    )
    # "/1.73*m^2", "/70*kg": a number right after "/" scales the unit that follows it
    s = re.sub(
        r"/(\d+(?:\.\d+)?)\*([A-Za-z_]+(?:\^[-+]?\d+)?)",
        r"/(\1*\2)",
        s,
    )
    # "70*kg**-1": "per 70 kg" (the number stands alone: at the start or after "*" / "(")
    s = re.sub(
        r"(?:^|(?<=[(*]))(\d+(?:\.\d+)?)\*([A-Za-z_]+)\^-(\d+)",
        r"(\1*\2)^-\3",
        s,
    )
    s = s.replace("%", "percent").replace("^", "**")
    return _balance(s)


def _slash_binds_all(expr: str) -> str:
    """Alternative reading: "a/b*c/d" → "a/(b*c)/(d)" (everything after a slash divides)."""
    parts: list[str] = []
    depth = 0
    cur = ""
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "/" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    if len(parts) < 2:
        return expr
    return parts[0] + "".join(f"/({p})" for p in parts[1:])


_MOLAR_RE = re.compile(r"(?<![A-Za-z])([munpfk]?)M(?![A-Za-z])")


def _molar_as_amount(expr: str) -> str:
    """Alternative reading: "nM" meaning nmol (as in "nM/l", "μM·l-1")."""
    return _MOLAR_RE.sub(lambda m: f"{m.group(1)}mol", expr)


# ------------------------------------------------------------------------------ kinds


def _tags(ureg: pint.UnitRegistry, q: Any) -> tuple[bool, bool]:
    """(mass divided by mass, area in the denominator) of the *unsimplified* parsed units."""
    mass_up = mass_down = per_area = False
    for name, exp in q.units._units.items():
        dim = ureg.get_dimensionality(name)
        if name == BSA_UNIT and exp < 0:
            per_area = True
            continue
        if dim.get("[mass]", 0) and not dim.get("[length]", 0):
            if exp > 0:
                mass_up = True
            elif exp < 0:
                mass_down = True
        if exp < 0 and dict(dim) == {"[length]": 1} and exp == -2:
            per_area = True
        if exp < 0 and dict(dim) == {"[length]": 2}:
            per_area = True
    return mass_up and mass_down, per_area


def _dims(q: Any) -> dict[str, float]:
    return {k: float(v) for k, v in q.dimensionality.items()}


_L3 = "[length]"
_KIND_RULES: list[tuple[str, dict[str, float], str | None]] = [
    # (kind, dimensionality, required tag: "ratio" | "area" | None)
    ("exposure_per_weight", {"[time]": 1}, "ratio"),
    ("time", {"[time]": 1}, None),
    ("rate_per_weight", {"[time]": -1}, "ratio"),
    ("rate_constant", {"[time]": -1}, None),
    ("amount_per_weight", {}, "ratio"),
    ("fraction", {}, None),
    ("volume", {_L3: 3}, None),
    ("volume_per_weight", {_L3: 3, "[mass]": -1}, None),
    ("volume_per_bsa", {_L3: 1}, "area"),
    ("clearance", {_L3: 3, "[time]": -1}, None),
    ("clearance_per_weight", {_L3: 3, "[time]": -1, "[mass]": -1}, None),
    ("clearance_per_bsa", {_L3: 1, "[time]": -1}, "area"),
    ("permeability", {_L3: 1, "[time]": -1}, None),
    ("concentration_mass", {"[mass]": 1, _L3: -3}, None),
    ("concentration_molar", {"[substance]": 1, _L3: -3}, None),
    ("concentration_iu", {"[international_unit]": 1, _L3: -3}, None),
    ("exposure_mass", {"[mass]": 1, "[time]": 1, _L3: -3}, None),
    ("exposure_molar", {"[substance]": 1, "[time]": 1, _L3: -3}, None),
    ("exposure_iu", {"[international_unit]": 1, "[time]": 1, _L3: -3}, None),
    ("moment_mass", {"[mass]": 1, "[time]": 2, _L3: -3}, None),
    ("moment_molar", {"[substance]": 1, "[time]": 2, _L3: -3}, None),
    ("exposure_per_dose", {"[time]": 1, _L3: -3}, None),
    ("concentration_per_dose", {_L3: -3}, None),
    ("amount_mass", {"[mass]": 1}, None),
    ("amount_molar", {"[substance]": 1}, None),
    ("rate_mass", {"[mass]": 1, "[time]": -1}, None),
    ("flux", {"[mass]": 1, _L3: -2, "[time]": -1}, None),
    ("concentration_rate", {"[mass]": 1, _L3: -3, "[time]": -1}, None),
    ("concentration_rate_molar", {"[substance]": 1, _L3: -3, "[time]": -1}, None),
    ("exposure_molar_per_dose", {"[substance]": 1, "[time]": 1, _L3: -3, "[mass]": -1}, None),
    ("second_order_rate", {_L3: 3, "[substance]": -1, "[time]": -1}, None),
]


def _kind_of(ureg: pint.UnitRegistry, q: Any) -> str | None:
    dims = _dims(q)
    ratio, area = _tags(ureg, q)
    for kind, want, tag in _KIND_RULES:
        if dims != want:
            continue
        if tag == "ratio" and not ratio:
            continue
        if tag == "area" and not area:
            continue
        return kind
    return None


def _readings(expr: str) -> list[str]:
    out = [expr, _slash_binds_all(expr)]
    if _MOLAR_RE.search(expr):
        out += [_molar_as_amount(e) for e in list(out)]
    seen: list[str] = []
    for e in out:
        if e not in seen:
            seen.append(e)
    return seen


# An exponent that is itself raised to a power: "h**9**9", "l**(2**9)**9".
# "(m**2)**-1" is fine: the base of the second power is a bracketed unit, not an exponent.
_CHAINED_POWER_RE = re.compile(
    r"\*\*\s*[-+]?[\d.]+\s*\*\*|\*\*\s*\([^()]*\)\s*\*\*|\*\*\s*\([^()]*\*\*")


def _too_big(expr: str) -> str | None:
    """Why Pint must not evaluate ``expr`` (None when it may)."""
    if re.search(r"\*\*\s*\(?[-+]?\d{3,}", expr) or re.search(r"\d{7,}", expr):
        return "exponent too large"
    if _CHAINED_POWER_RE.search(expr):  # "l^9^9^9": Pint would compute 9**387420489
        return "chained exponents"
    return None


# Pint names of mega-or-larger grams, litres, moles and molars: no PK mass, volume, amount or
# concentration is that large, so such a reading is a misread milli (MBq, MIU, MU, MDa are fine)
_NEVER_BIG_RE = re.compile(
    r"(?:mega|giga|tera|peta|exa|zetta|yotta)(?:gram|liter|litre|mole|molar)"
)


def _implausible_unit(q: Any) -> str | None:
    """The first unit of a parsed reading that no PK quantity is measured in ("megaliter")."""
    for name in q.units._units:
        if _NEVER_BIG_RE.fullmatch(str(name)):
            return str(name)
    return None


# Units whose dimensionality coincides with a PK kind although the quantity is none. Pint gives
# the becquerel and the curie (and count rates, revolutions per minute) the dimension 1/time, so
# "MBq" read as a rate constant (3.6e9 /h) and "MBq·h/mL" as a dose-normalised concentration;
# the dimensionality cannot tell them apart, so the unit names are checked. There is no
# radioactivity kind: such a reading is refused, never stored.
_NOT_PK_UNITS = {
    "becquerel": "radioactivity (Bq, Ci) has no PK quantity kind",
    "curie": "radioactivity (Bq, Ci) has no PK quantity kind",
    "rutherford": "radioactivity (Bq, Ci) has no PK quantity kind",
    "counts_per_second": "a count rate has no PK quantity kind",
    "counts_per_minute": "a count rate has no PK quantity kind",
    "revolutions_per_minute": "a rotation speed has no PK quantity kind",
    "revolutions_per_second": "a rotation speed has no PK quantity kind",
    # "c" is only ever a stray letter in a PK unit ("degree c" is handled before Pint)
    "speed_of_light": "'c' would be the speed of light",
}


def _not_pk_unit(ureg: pint.UnitRegistry, q: Any) -> str | None:
    """Why a parsed reading is no PK quantity whatever its dimensionality (None when fine)."""
    if "[temperature]" in q.dimensionality:
        return "a temperature is not a PK quantity"
    for name in q.units._units:
        for _prefix, base, _suffix in ureg.parse_unit_name(str(name)):
            if base in _NOT_PK_UNITS:
                return f"{_NOT_PK_UNITS[base]} ({name})"
    return None


@lru_cache(maxsize=8192)
def parse_unit(text: str) -> UnitResult:
    """Parse a unit as written in a PK paper; never raises on user text.

    Returns the canonical unit of its quantity kind and the factor from the input unit to it,
    or a :class:`UnitResult` whose ``error`` says what went wrong."""
    try:
        return _parse_unit(text)
    except Exception as exc:  # Pint has many failure modes; user text must never crash us
        logger.debug("parse_unit(%r) failed", text, exc_info=True)
        return UnitResult(input=text, error=f"cannot parse unit: {type(exc).__name__}")


def _parse_unit(text: str) -> UnitResult:
    if not isinstance(text, str) or not text.strip():
        return UnitResult(input=str(text), error="empty unit")
    if len(text) > MAX_UNIT_CHARS:
        return UnitResult(input=text, error=f"unit text longer than {MAX_UNIT_CHARS} characters")
    ureg = get_registry()
    expr = clean_unit_text(text)
    if not _IDENT_RE.search(expr.replace("**", "")):
        return UnitResult(input=text, error="no unit symbol in text")
    too_big = _too_big(expr)
    if too_big:
        return UnitResult(input=text, error=too_big)
    first_error: str | None = None
    first_dims: str | None = None
    for reading in _readings(expr):
        try:
            q = ureg.parse_expression(reading)
        except Exception as exc:
            first_error = first_error or f"unknown unit: {_describe(exc)}"
            continue
        if not hasattr(q, "units"):  # a bare number
            first_error = first_error or "no unit symbol in text"
            continue
        first_dims = first_dims or str(q.dimensionality)
        implausible = _implausible_unit(q)
        if implausible:
            return UnitResult(
                input=text,
                error=f"implausible unit: {implausible} (no PK mass, volume or amount is "
                "mega-sized; an upper-case M meant as milli?)",
                dimensionality=first_dims,
            )
        not_pk = _not_pk_unit(ureg, q)
        if not_pk:
            return UnitResult(
                input=text, error=f"not a PK unit: {not_pk}", dimensionality=first_dims
            )
        kind = _kind_of(ureg, q)
        if kind is None:
            continue
        canonical = KINDS[kind].canonical
        factor = float(q.to(canonical).magnitude)
        if not math.isfinite(factor) or factor == 0.0:
            return UnitResult(input=text, error="conversion factor is not finite")
        return UnitResult(
            input=text,
            unit=display_unit(canonical),
            factor=factor,
            dimensionality=str(ureg.parse_expression(canonical).dimensionality),
            kind=kind,
            reading=reading,
        )
    if first_dims is not None:
        return UnitResult(
            input=text,
            error=f"no PK quantity kind has dimensionality {first_dims}",
            dimensionality=first_dims,
        )
    return UnitResult(input=text, error=first_error or "cannot parse unit")


def display_unit(canonical: str) -> str:
    """A canonical unit as stored and shown: the standard body surface area reads "1.73 m²"
    ("L/h/1.73 m²"), which :func:`parse_unit` reads back to the same unit."""
    return canonical.replace(BSA_UNIT, "1.73 m²")


def _describe(exc: Exception) -> str:
    if isinstance(exc, pint.UndefinedUnitError):
        return ", ".join(map(str, getattr(exc, "unit_names", ()) or ())) or str(exc)
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, pint.DimensionalityError):
        return "units that cannot be combined"
    # what Pint's tokenizer and evaluator raise on a malformed expression ("mg/(L", "mg**")
    return "not a unit expression"


def convert(value: float | None, result: UnitResult) -> float | None:
    """``value`` in the canonical unit of ``result`` (None when either is missing)."""
    if value is None or result.factor is None:
        return None
    return value * result.factor
