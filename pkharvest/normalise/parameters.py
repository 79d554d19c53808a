"""The project's PK parameter vocabulary and matching of parameter mentions to it.

Each :class:`ParameterDef` has a stable ``key`` (stored in ``Measurement.parameter``), a display
name, spelling variants, and the quantity kinds (:data:`pkharvest.normalise.units.KINDS`) its unit
may have. Matching (:func:`lookup_parameter`): exact lookup of a normalised form (case, spaces,
brackets, dashes, unicode ½/∞/subscripts/Greek folded), then the same after dropping modifiers
that do not change the parameter ("mean", "plasma", "estimated"...), then rapidfuzz for spelling
variants above a threshold.

Decisions worth knowing:

* Creatinine clearance (``CLcr``) and GFR are *covariates* (category ``"covariate"``), not PK
  parameters of the drug. They are in the vocabulary so that "creatinine clearance" is recognised
  as such and never fuzzy-matched to drug clearance ``CL``; ``normalise`` flags them.
* "apparent (oral) clearance" → ``CL/F``; "apparent volume of distribution" → ``V`` (the
  historical name of Vd, used after IV dosing too); "V/F" only when written so.
* ``V1``/``V2`` follow the usual two-compartment naming: V1 = central (``Vc``), V2 = peripheral
  (``Vp``). NONMEM ADVAN4 numbers them differently; the raw text is kept in the measurement.
* Partial AUCs other than 0–24/0–12/0–t/0–∞/τ map to ``AUC`` (the interval stays in the text).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from pkharvest.errors import UsageError
from pkharvest.normalise.units import KINDS, UnitResult, get_registry

logger = logging.getLogger(__name__)

FUZZY_THRESHOLD = 88.0  # rapidfuzz ratio (0-100) below which a fuzzy match is rejected
FUZZY_MIN_CHARS = 6  # short symbols ("CL", "ka", "V") only match exactly

_CLEARANCE = ("clearance", "clearance_per_weight", "clearance_per_bsa")
_VOLUME = ("volume", "volume_per_weight", "volume_per_bsa")
_CONC = ("concentration_mass", "concentration_molar", "concentration_iu",
         "concentration_per_dose", "amount_per_weight")  # C/D; tissue ng/g  # fmt: skip
_AUC = ("exposure_mass", "exposure_molar", "exposure_iu", "exposure_per_dose",
        "exposure_molar_per_dose", "exposure_per_weight")  # fmt: skip
_TIME = ("time",)
_RATE = ("rate_constant",)
_FRACTION = ("fraction",)


@dataclass(frozen=True)
class ParameterDef:
    key: str
    name: str
    synonyms: tuple[str, ...]
    kinds: tuple[str, ...]
    category: str = "pk"  # "pk" or "covariate"

    @property
    def dimensionality(self) -> str:
        """Dimensionality of the canonical unit of the first (main) kind."""
        return _dimensionality_of(KINDS[self.kinds[0]].canonical)


VOCABULARY: tuple[ParameterDef, ...] = (
    ParameterDef("CL", "clearance", (
        "CL", "clearance", "total clearance", "total body clearance", "body clearance",
        "systemic clearance", "plasma clearance", "serum clearance", "blood clearance",
        "elimination clearance", "clearance rate", "CLtot", "CLT", "CL tot", "CLs", "CLp",
        "total plasma clearance", "drug clearance", "CL/kg", "clearance (CL)",
        "metabolic clearance", "metabolic clearance rate", "MCR",
    ), _CLEARANCE),
    ParameterDef("CL/F", "apparent oral clearance", (
        "CL/F", "apparent clearance", "apparent oral clearance", "oral clearance",
        "apparent total clearance", "apparent total body clearance", "CLoral", "CLpo",
        "apparent plasma clearance", "CL/f",
    ), _CLEARANCE),
    ParameterDef("CLr", "renal clearance", (
        "CLr", "CLR", "CL r", "CLren", "CLrenal", "renal clearance", "renal plasma clearance",
        "CL renal",
    ), _CLEARANCE),
    ParameterDef("CLnr", "non-renal clearance", (
        "CLnr", "CLNR", "non-renal clearance", "nonrenal clearance", "extrarenal clearance",
        "CL non-renal",
    ), _CLEARANCE),
    ParameterDef("CLh", "hepatic clearance", ("CLh", "CLH", "hepatic clearance"), _CLEARANCE),
    ParameterDef("CLint", "intrinsic clearance", (
        "CLint", "intrinsic clearance", "hepatic intrinsic clearance", "CLint,u",
        "unbound intrinsic clearance",
    ), _CLEARANCE),
    ParameterDef("Q", "intercompartmental clearance", (
        "Q", "Q2", "intercompartmental clearance", "inter-compartmental clearance",
        "distributional clearance", "distribution clearance",
    ), _CLEARANCE),
    ParameterDef("CLcr", "creatinine clearance (covariate)", (
        "CLcr", "CrCL", "CLCR", "creatinine clearance", "estimated creatinine clearance",
    ), _CLEARANCE, category="covariate"),
    ParameterDef("GFR", "glomerular filtration rate (covariate)", (
        "GFR", "eGFR", "glomerular filtration rate", "estimated glomerular filtration rate",
    ), _CLEARANCE, category="covariate"),
    ParameterDef("V", "volume of distribution", (
        "V", "Vd", "VD", "volume of distribution", "distribution volume",
        "apparent volume of distribution", "volume", "Vdarea", "V/kg", "Vd/kg",
        "volume of distribution (Vd)",
    ), _VOLUME),
    ParameterDef("V/F", "apparent volume of distribution (oral)", (
        "V/F", "Vd/F", "Vz/F", "Vss/F", "apparent oral volume of distribution",
        "oral volume of distribution",
    ), _VOLUME),
    ParameterDef("Vss", "volume of distribution at steady state", (
        "Vss", "Vdss", "VDss", "Vd,ss", "V ss", "volume of distribution at steady state",
        "volume of distribution at steady-state", "steady-state volume of distribution",
        "steady state volume of distribution", "apparent volume of distribution at steady state",
        "steady state distribution volume", "steady-state distribution volume",
    ), _VOLUME),
    ParameterDef("Vc", "central volume of distribution", (
        "Vc", "V1", "Vcentral", "central volume", "central volume of distribution",
        "volume of the central compartment", "volume of central compartment",
    ), _VOLUME),
    ParameterDef("Vp", "peripheral volume of distribution", (
        "Vp", "V2", "Vperipheral", "peripheral volume", "peripheral volume of distribution",
        "volume of the peripheral compartment", "volume of peripheral compartment",
    ), _VOLUME),
    ParameterDef("Vz", "terminal-phase volume of distribution", (
        "Vz", "Vβ", "Vbeta", "Varea", "V area", "terminal volume of distribution",
        "volume of distribution during the terminal phase",
        "volume of distribution in the terminal phase",
        "volume of distribution based on the terminal phase",
    ), _VOLUME),
    ParameterDef("t1/2", "half-life", (
        "t1/2", "t½", "T1/2", "t(1/2)", "t 1/2", "thalf", "half-life", "half life", "halflife",
        "elimination half-life", "elimination half life", "half-life of elimination",
        "apparent half-life", "t1/2el", "t1/2elim", "t1/2e", "elimination t1/2",
        "plasma elimination half-life", "biological half-life",
        "half-life (t1/2)",
    ), _TIME),
    ParameterDef("t1/2alpha", "distribution half-life (α phase)", (
        "t1/2α", "t1/2alpha", "t1/2,α", "alpha half-life", "α half-life",
        "distribution half-life", "half-life of distribution", "distribution phase half-life",
        "half-life of the distribution phase", "initial half-life", "T1/2α",
    ), _TIME),
    ParameterDef("t1/2beta", "β-phase half-life", (
        "t1/2β", "t1/2beta", "t1/2,β", "beta half-life", "β half-life",
        "β-phase half-life", "beta-phase half-life", "T1/2β",
    ), _TIME),
    ParameterDef("t1/2gamma", "γ-phase half-life", (
        "t1/2γ", "t1/2gamma", "t1/2,γ", "gamma half-life", "γ half-life",
        "γ-phase half-life", "gamma-phase half-life",
    ), _TIME),
    ParameterDef("t1/2z", "terminal half-life", (
        "t1/2z", "t1/2,z", "t1/2λz", "terminal half-life", "terminal half life",
        "terminal elimination half-life", "terminal phase half-life",
        "half-life of the terminal phase", "terminal t1/2", "terminal disposition half-life",
        "t1/2term", "t1/2,term", "apparent terminal half-life", "terminal thalf",
        "terminal elimination half life", "apparent terminal elimination half-life",
    ), _TIME),
    ParameterDef("t1/2abs", "absorption half-life", (
        "t1/2abs", "t1/2ka", "t1/2,a", "t1/2,abs", "absorption half-life",
        "half-life of absorption", "absorption half life",
    ), _TIME),
    ParameterDef("Cmax", "maximum concentration", (
        "Cmax", "C max", "Cpeak", "Cmax,ss", "peak concentration", "maximum concentration",
        "maximal concentration", "maximum plasma concentration", "peak plasma concentration",
        "maximum serum concentration", "peak serum concentration", "peak level",
        "peak plasma level", "peak serum level", "maximum observed concentration",
        "maximum observed plasma concentration", "maximal plasma concentration",
        "highest concentration", "greatest plasma concentration", "greatest concentration",
        "highest plasma concentration", "peak", "maximum drug concentration",
        "maximum blood concentration", "peak blood concentration",
    ), _CONC),
    ParameterDef("Cmin", "minimum concentration", (
        "Cmin", "C min", "Cmin,ss", "minimum concentration", "minimal concentration",
        "minimum plasma concentration", "lowest concentration",
    ), _CONC),
    ParameterDef("Ctrough", "trough concentration", (
        "Ctrough", "C trough", "Ctr", "trough concentration", "trough level",
        "trough plasma concentration", "trough serum concentration", "predose concentration",
        "pre-dose concentration", "trough",
    ), _CONC),
    ParameterDef("Css", "steady-state concentration", (
        "Css", "C ss", "Cp,ss", "steady-state concentration", "steady state concentration",
        "concentration at steady state", "steady-state plasma concentration",
        "plateau concentration",
    ), _CONC),
    ParameterDef("Cavg", "average concentration", (
        "Cavg", "Cav", "Cave", "Css,avg", "Cavg,ss", "Css,av", "average concentration",
        "mean concentration", "average steady-state concentration",
        "average plasma concentration", "average steady state concentration",
    ), _CONC),
    ParameterDef("C0", "initial / back-extrapolated concentration", (
        "C0", "Co", "initial concentration", "back-extrapolated concentration",
        "extrapolated initial concentration",
    ), _CONC),
    ParameterDef("Tmax", "time to maximum concentration", (
        "Tmax", "T max", "tpeak", "time to peak", "time to peak concentration",
        "time to maximum concentration", "time to maximal concentration",
        "time to reach maximum concentration", "time to reach Cmax", "time to Cmax",
        "time of maximum concentration", "time of peak concentration", "peak time",
        "time to maximum plasma concentration", "time to peak plasma concentration",
        "time of maximal concentration", "time to reach peak concentration",
    ), _TIME),
    ParameterDef("Tlag", "absorption lag time", (
        "Tlag", "T lag", "tlag", "lag time", "absorption lag time", "lag-time", "ALAG",
    ), _TIME),
    ParameterDef("AUC", "area under the concentration-time curve", (
        "AUC", "area under the curve", "area under the concentration-time curve",
        "area under the concentration time curve", "area under the plasma concentration-time curve",
        "area under the plasma concentration time curve",
        "area under the serum concentration-time curve", "area under curve",
        "area under the plasma drug concentration-time curve",
        "area under the blood concentration-time curve", "AUC (area under the curve)",
    ), _AUC),
    ParameterDef("AUC0-t", "AUC to the last measurable concentration", (
        "AUC0-t", "AUC(0-t)", "AUC0-last", "AUClast", "AUCt", "AUC0-tlast", "AUCall", "AUCT",
        "AUC0-tn", "AUC 0-t", "area under the curve to the last measurable concentration",
    ), _AUC),
    ParameterDef("AUC0-inf", "AUC extrapolated to infinity", (
        "AUC0-∞", "AUC(0-∞)", "AUC0-inf", "AUCinf", "AUC∞", "AUC0-infinity", "AUCI", "AUC0→∞",
        "AUC(0-inf)", "AUCINF", "AUC0-INF", "AUC 0-∞", "area under the curve to infinity",
        "area under the concentration-time curve from zero to infinity",
        "area under the curve extrapolated to infinity", "AUCinf,obs", "AUC0-∞,obs",
    ), _AUC),
    ParameterDef("AUC0-24", "AUC over 0-24 h", (
        "AUC0-24", "AUC(0-24)", "AUC0-24h", "AUC24", "AUC24h", "AUC0-24 h", "AUC(0-24 h)",
        "AUC 0-24", "daily AUC",
    ), _AUC),
    ParameterDef("AUC0-12", "AUC over 0-12 h", (
        "AUC0-12", "AUC(0-12)", "AUC0-12h", "AUC12", "AUC0-12 h", "AUC(0-12 h)",
    ), _AUC),
    ParameterDef("AUCtau", "AUC over a dosing interval", (
        "AUCtau", "AUCτ", "AUC0-τ", "AUC0-tau", "AUC(0-τ)", "AUC(0-tau)", "AUCss", "AUC,ss",
        "AUCτ,ss", "AUC over the dosing interval", "AUC during a dosing interval",
    ), _AUC),
    ParameterDef("AUMC", "area under the first moment curve", (
        "AUMC", "AUMC0-∞", "AUMCinf", "AUMClast", "AUMC0-t", "area under the first moment curve",
        "area under the moment curve",
        "area under the first moment of the concentration-time curve",
    ), ("moment_mass", "moment_molar")),
    ParameterDef("ka", "absorption rate constant", (
        "ka", "Ka", "kabs", "k a", "k01", "absorption rate constant", "absorption rate",
        "first-order absorption rate constant", "rate constant of absorption",
    ), _RATE),
    ParameterDef("ke", "elimination rate constant", (
        "ke", "kel", "Kel", "kelim", "k10", "k el", "elimination rate constant",
        "elimination rate", "elimination constant", "first-order elimination rate constant",
        "rate constant of elimination",
    ), _RATE),
    ParameterDef("lambda_z", "terminal rate constant", (
        "λz", "lambda z", "lambdaz", "kz", "terminal rate constant",
        "terminal elimination rate constant", "terminal phase rate constant",
        "terminal disposition rate constant",
    ), _RATE),
    ParameterDef("k12", "central-to-peripheral rate constant", ("k12", "K12"), _RATE),
    ParameterDef("k21", "peripheral-to-central rate constant", ("k21", "K21"), _RATE),
    ParameterDef("F", "bioavailability", (
        "F", "bioavailability", "absolute bioavailability", "oral bioavailability",
        "systemic bioavailability", "F%", "Fabs", "absolute oral bioavailability",
        "extent of bioavailability",
    ), _FRACTION),
    ParameterDef("Frel", "relative bioavailability", (
        "Frel", "F rel", "relative bioavailability", "relative oral bioavailability",
    ), _FRACTION),
    ParameterDef("MRT", "mean residence time", (
        "MRT", "MRTinf", "MRT0-∞", "MRT0-inf", "MRTlast", "MRT0-t", "mean residence time",
        "mean resident time", "mean residence time (MRT)",
    ), _TIME),
    ParameterDef("Km", "Michaelis-Menten constant", (
        "Km", "K(m)", "Michaelis-Menten constant", "Michaelis constant",
        "half-saturating concentration", "half-saturating plasma concentration",
    ), _CONC),
    ParameterDef("Vmax", "maximum elimination rate (Michaelis-Menten)", (
        "Vmax", "V(max)", "maximum rate of elimination", "maximal elimination rate",
        "maximum elimination rate", "maximum metabolic rate",
    ), ("rate_mass", "concentration_rate", "concentration_rate_molar")),
    ParameterDef("Kp", "tissue-to-plasma partition coefficient", (
        "Kp", "partition coefficient", "tissue-to-plasma partition coefficient",
        "tissue to plasma concentration ratio", "tissue-to-plasma ratio",
    ), _FRACTION),
    ParameterDef("Rac", "accumulation ratio", (
        "Rac", "Racc", "accumulation ratio", "accumulation index", "accumulation factor",
    ), _FRACTION),
    ParameterDef("MAT", "mean absorption time", ("MAT", "mean absorption time"), _TIME),
    ParameterDef("fu", "unbound fraction", (
        "fu", "fup", "fu,p", "fub", "unbound fraction", "fraction unbound", "free fraction",
        "unbound fraction in plasma", "fraction unbound in plasma", "plasma unbound fraction",
        "free drug fraction",
    ), _FRACTION),
    ParameterDef("PB", "protein binding", (
        "PB", "PPB", "protein binding", "plasma protein binding", "serum protein binding",
        "binding to plasma proteins", "fraction bound", "bound fraction",
    ), _FRACTION),
    ParameterDef("fe", "fraction excreted unchanged", (
        "fe", "Fe", "fe%", "fraction excreted", "fraction excreted unchanged",
        "fraction excreted unchanged in urine", "fraction of dose excreted unchanged",
        "fraction of the dose excreted unchanged in urine", "urinary recovery",
        "urinary excretion", "fraction excreted in urine", "renal excretion",
        "cumulative urinary excretion", "Ae/dose", "fe,u",
    ), (*_FRACTION, "amount_mass", "amount_molar")),
    ParameterDef("Ae", "amount excreted", (
        "Ae", "Ae0-24", "Ae0-t", "amount excreted", "amount excreted in urine",
        "amount excreted unchanged",
    ), ("amount_mass", "amount_molar", *_FRACTION)),
)  # fmt: skip

BY_KEY: dict[str, ParameterDef] = {p.key: p for p in VOCABULARY}

# Words that qualify a parameter without changing it ("mean plasma clearance" is CL).
_MODIFIERS = frozenset(
    {
        "mean", "median", "average", "the", "a", "an", "its", "plasma", "serum", "blood",
        "estimated", "observed", "predicted", "calculated", "population", "typical",
        "individual", "geometric", "arithmetic", "overall", "drug", "corresponding", "model",
        "derived", "whole", "value", "values", "systemic", "total", "parameter", "parameters", "pk",
        "pharmacokinetic", "level", "levels", "large", "small", "high", "higher", "low", "lower",
        "of", "at", "in", "for", "to", "and", "with", "was", "were", "is",
    }
)  # fmt: skip

_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "λ": "lambda", "τ": "tau", "∞": "inf"}
_STRIP_CHARS_RE = re.compile(r"[\s()\[\]{},.;:_'\"`*−–—‐‑-]")


@dataclass(frozen=True)
class ParameterMatch:
    """A parameter mention matched to the vocabulary. ``score`` is 1.0 for an exact (normalised)
    match, else the rapidfuzz ratio / 100. ``dimensionality`` is that of the canonical unit of
    the parameter's main quantity kind."""

    key: str
    name: str
    score: float
    dimensionality: str
    kinds: tuple[str, ...] = ()
    category: str = "pk"


@dataclass(frozen=True)
class ParameterLookup:
    """Result of :func:`lookup_parameter`: a match, or ``None`` and the reason."""

    match: ParameterMatch | None
    reason: str | None = None


@lru_cache(maxsize=64)
def _dimensionality_of(unit: str) -> str:
    return str(get_registry().parse_expression(unit).dimensionality)


def normalise_text(text: str) -> str:
    """Fold a parameter mention to its lookup form: NFKC (½→1/2, subscripts), Greek letters
    spelled out, infinity → "inf", "→" → "-", lower case, brackets/spaces/dashes removed."""
    s = unicodedata.normalize("NFKC", text)
    # U+2044 fraction slash (from NFKC of ½); "∪" is an OCR misreading of "U" in "A∪C"
    s = s.replace("\u2044", "/").replace("∪", "u").replace("→", "-").replace("∞", "inf")
    for g, word in _GREEK.items():
        s = s.replace(g, word)
    s = s.lower()
    s = re.sub(r"infinity|infin", "inf", s)
    return _STRIP_CHARS_RE.sub("", s)


def _strip_modifiers(text: str) -> str:
    words = re.split(r"\s+", text.strip())
    while words and words[0].lower() in _MODIFIERS:  # only leading/trailing qualifiers
        words.pop(0)
    while words and words[-1].lower() in _MODIFIERS:
        words.pop()
    return " ".join(words)


def _singular(text: str) -> str:
    """Plural words to singular ("half-lives", "peak concentrations", "AUCs") -- enough for
    the vocabulary's nouns; not a general lemmatiser."""

    def one(word: str) -> str:
        low = word.lower()
        if low.endswith("lives"):
            return word[:-5] + "life"
        if len(word) >= 4 and low.endswith("s") and not low.endswith(("ss", "us", "is")):
            return word[:-1]
        return word

    return " ".join(one(w) for w in re.split(r"\s+", text.strip()))


@lru_cache(maxsize=1)
def _index() -> dict[str, ParameterDef]:
    idx: dict[str, ParameterDef] = {}
    for p in VOCABULARY:
        for syn in (p.key, p.name, *p.synonyms):
            norm = normalise_text(syn)
            if norm in idx and idx[norm].key != p.key:
                logger.debug("synonym %r of %s also names %s", syn, p.key, idx[norm].key)
                continue
            idx.setdefault(norm, p)
    return idx


_PARTIAL_AUC_RE = re.compile(
    r"^AUC\s*[(\[]?\s*\d+(?:\.\d+)?\s*(?:h|min)?\s*(?:-|–|−|to|→)\s*\d+(?:\.\d+)?\s*"
    r"(?:h|hr|hours|min)?\s*[)\]]?$",
    re.IGNORECASE,
)


def _match(p: ParameterDef, score: float) -> ParameterMatch:
    return ParameterMatch(
        key=p.key,
        name=p.name,
        score=round(score, 4),
        dimensionality=p.dimensionality,
        kinds=p.kinds,
        category=p.category,
    )


@lru_cache(maxsize=8192)
def lookup_parameter(text: str) -> ParameterLookup:
    """Match a parameter mention to the vocabulary; never raises."""
    try:
        return _lookup(text)
    except Exception as exc:  # user text must never crash the pipeline
        logger.debug("lookup_parameter(%r) failed", text, exc_info=True)
        return ParameterLookup(None, f"lookup failed: {type(exc).__name__}")


def _lookup(text: str) -> ParameterLookup:
    if not isinstance(text, str) or not text.strip():
        return ParameterLookup(None, "empty parameter text")
    idx = _index()
    stripped = _strip_modifiers(text)
    candidates = [text, stripped, _singular(text), _singular(stripped)]
    for cand in candidates:
        norm = normalise_text(cand)
        if norm in idx:
            return ParameterLookup(_match(idx[norm], 1.0))
    # weaker readings: "<name> (<symbol>)" either part; "<parameter> of <drug/tissue>"
    weaker: list[str] = []
    paren = re.search(r"^(.*?)\s*[(\[]([^()\[\]]+)[)\]]\s*$", stripped)
    if paren:
        weaker += [paren.group(1), paren.group(2)]
        # "area under the ... curve (AUC0-8)": the symbol names a partial AUC
        if _PARTIAL_AUC_RE.match(unicodedata.normalize("NFKC", paren.group(2)).strip()):
            return ParameterLookup(_match(BY_KEY["AUC"], 0.95))
    parts = re.split(r"\s+(?:of|in|for|at|after|during)\s+", stripped)
    if len(parts) > 1:
        weaker += [" ".join(parts[:-1]), parts[0]]
    for cand in weaker:
        for form in (cand, _singular(_strip_modifiers(cand))):
            norm = normalise_text(form)
            if norm and norm in idx:
                return ParameterLookup(_match(idx[norm], 0.95))
    norm = normalise_text(candidates[-1]) or normalise_text(text)
    if not norm:
        return ParameterLookup(None, "no letters or digits in parameter text")
    # "AUC0-48", "AUC(0-6 h)": a partial AUC over another interval is an AUC
    if _PARTIAL_AUC_RE.match(unicodedata.normalize("NFKC", text).strip()):
        return ParameterLookup(_match(BY_KEY["AUC"], 0.9))
    if len(norm) < FUZZY_MIN_CHARS:
        return ParameterLookup(None, f"no exact match for short symbol {text!r}")
    best = process.extractOne(norm, list(idx), scorer=fuzz.ratio, score_cutoff=FUZZY_THRESHOLD)
    if best is None:
        near = process.extractOne(norm, list(idx), scorer=fuzz.ratio)
        hint = f" (closest {idx[near[0]].key} at {near[1]:.0f})" if near else ""
        return ParameterLookup(None, f"no vocabulary entry within fuzzy threshold{hint}")
    return ParameterLookup(_match(idx[best[0]], best[1] / 100.0))


def normalise_parameter(text: str) -> ParameterMatch | None:
    """The vocabulary entry a parameter mention names, or None (see :func:`lookup_parameter`
    for the reason)."""
    return lookup_parameter(text).match


def resolve_parameter_name(name: str, field: str = "parameter") -> ParameterDef:
    """The vocabulary entry a parameter name typed by a user names: a stored key in any letter
    case ("CL", "cl"), the entry's name or any synonym the vocabulary knows ("clearance", "Vd",
    "half-life"). Raises :class:`~pkharvest.errors.UsageError` naming ``field`` and the nearest
    keys for an unknown name (no fuzzy guess: a filter on the wrong key would be silent)."""
    text = name.strip() if isinstance(name, str) else ""
    for p in VOCABULARY:
        if text.lower() == p.key.lower():
            return p
    norm = normalise_text(text)
    idx = _index()
    if norm in idx:
        return idx[norm]
    found = lookup_parameter(text).match
    if found is not None and found.score >= 0.95:
        return BY_KEY[found.key]
    near = process.extract(norm or text, list(idx), scorer=fuzz.WRatio, limit=12)
    keys: list[str] = []
    for cand, _score, _i in near:
        if idx[cand].key not in keys:
            keys.append(idx[cand].key)
    hint = f"; nearest keys: {', '.join(keys[:3])}" if keys else ""
    raise UsageError(f"unknown parameter {name!r}{hint}", field=field)


def unit_fits(parameter_key: str, unit_result: UnitResult) -> tuple[bool, str | None]:
    """Whether a parsed unit's quantity kind suits a parameter: ``(True, None)`` or
    ``(False, reason)``."""
    p = BY_KEY.get(parameter_key)
    if p is None:
        return False, f"unknown parameter key {parameter_key!r}"
    if not unit_result.ok or unit_result.kind is None:
        return False, f"unit not normalised: {unit_result.error or 'no kind'}"
    if unit_result.kind in p.kinds:
        return True, None
    return False, (
        f"{p.key} expects {' or '.join(KINDS[k].description for k in p.kinds)}, "
        f"got {KINDS[unit_result.kind].description} ({unit_result.unit})"
    )
