"""Build ``pkharvest/resources/drugs/drug_names.txt``, the drug-name list used for drug
attribution, from the dictionary shipped by the PyPI package ``drug-named-entity-recognition``
(Fast Data Science; MIT licence; its dictionary is built mainly from the DrugBank Open Data
vocabulary, CC0).

Only canonical names with a DrugBank identifier are kept (MeSH-only entries include classes
and proteins such as "aaa proteins") (no brand names, no synonyms
taken from other sources), lower-cased, letters, spaces and hyphens only (laboratory codes such
as "rp01" are dropped), at least four letters; endogenous substances, elements, foods and
everyday words that the dictionary also lists (creatinine, glucose, water, rice ...) are left
out because they would read as drugs in PK sentences.

    pip install "drug-named-entity-recognition==2.0.9"
    python scripts/build_drug_names.py
"""

from __future__ import annotations

import bz2
import pickle
import re
from importlib import metadata, resources
from pathlib import Path

PACKAGE = "drug-named-entity-recognition"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "pkharvest" / "resources" / "drugs" / "drug_names.txt"

# Listed in the dictionary, but in a PK abstract a marker, a nutrient or an everyday word.
EXCLUDE = frozenset({
    "water", "oxygen", "nitrogen", "hydrogen", "carbon", "sodium", "potassium", "calcium",
    "magnesium", "iron", "zinc", "copper", "gold", "silver", "lead", "tin", "neon", "argon",
    "helium", "xenon", "chloride", "phosphate", "sulfate", "bicarbonate", "glucose", "dextrose",
    "fructose", "sucrose", "lactose", "creatinine", "urea", "uric acid", "inulin", "albumin",
    "bilirubin", "cholesterol", "glycine", "alanine", "serine", "leucine", "valine", "proline",
    "histidine", "lysine", "arginine", "cysteine", "glutamine", "tyrosine", "methionine",
    "threonine", "tryptophan", "phenylalanine", "isoleucine", "asparagine", "glutamic acid",
    "aspartic acid", "ethanol", "alcohol", "caffeine", "nicotine", "vitamin", "heme", "nadh",
    "adenosine", "adenosine triphosphate", "lamb", "oat", "rice", "tuna", "beet", "hops", "sage",
    "elm", "kale", "bean", "whey", "corn", "wheat", "milk", "egg", "soy", "peanut", "apple",
    "orange", "lemon", "cocoa", "coffee", "tea", "honey", "garlic", "ginger", "pepper", "salt",
    "sugar", "talc", "soot", "air", "placebo", "saline", "control", "dose", "plasma", "serum",
    "blood", "urine", ""
})


def main() -> None:
    version = metadata.version(PACKAGE)
    pkg = resources.files("drug_named_entity_recognition")
    with (pkg / "drug_ner_dictionary.pkl.bz2").open("rb") as fh, bz2.open(fh) as raw:
        data = pickle.load(raw)  # the package's own data file
    names = set()
    for key, entry in data["drug_canonical_to_data"].items():
        if "drugbank_id" not in entry:  # MeSH-only entries include classes ("aaa proteins")
            continue
        name = " ".join(str(key).lower().split())
        if not re.fullmatch(r"[a-z][a-z \-]*[a-z]", name) or sum(c.isalpha() for c in name) < 4:
            continue
        if name in EXCLUDE:
            continue
        names.add(name)
    header = [
        f"# Drug names derived from {PACKAGE} {version} (PyPI; MIT licence) by",
        "# scripts/build_drug_names.py: canonical names with a DrugBank (Open Data, CC0)",
        "# identifier; see README.md beside this file.",
    ]
    OUT.write_text("\n".join(header + sorted(names)) + "\n", encoding="utf-8")
    print(f"{len(names)} names -> {OUT}")


if __name__ == "__main__":
    main()
