"""Write a synthetic PubMed baseline file (``pubmedYYnNNNN.xml.gz``) for bulk benchmarks.

    PYTHONPATH=$PWD .venv/bin/python bench/make_baseline.py --out /tmp/bulk \\
        [--name pubmed26n0001] [--articles 1000] [--first-pmid 90000001] [--seed 1] \\
        [--deletions 0]

Records are made with the loopback E-utilities stand-in's article maker
(``pkharvest.testing.eutils_server.make_article``) from sentence templates below: abstracts of
6 to 12 sentences mixing background and method sentences without numbers with PK results
("the clearance of X was 4.2 L/h"). No sentence comes from an annotated corpus. The file is
written element by element (gzip stream), so any size fits in memory.
"""

from __future__ import annotations

import argparse
import gzip
import random
from pathlib import Path

from pkharvest.testing.eutils_server import PUBMED_DOCTYPE, make_article

DRUGS = ("midazolam", "caffeine", "warfarin", "metformin", "tacrolimus", "vancomycin",
         "amoxicillin", "digoxin", "imatinib", "rifampicin", "omeprazole", "gentamicin")
BACKGROUND = (
    "The pharmacokinetics of {d} in this population are poorly described.",
    "We studied the disposition of {d} in healthy volunteers and in patients.",
    "Plasma concentrations were measured by liquid chromatography with mass spectrometry.",
    "A population pharmacokinetic model was developed with nonlinear mixed effects.",
    "Covariates such as body weight and renal function were tested in the model.",
    "These findings support dose adjustment of {d} in clinical practice.",
    "Further studies are needed to confirm these observations.",
    "Samples were collected before and after the dose at scheduled times.",
)
RESULTS = (
    "The clearance of {d} was {v} L/h (range {lo}-{hi} L/h).",
    "Mean half-life of {d} was {v} h in {n} subjects.",
    "The volume of distribution was {v} L and the clearance {w} L/h.",
    "Cmax of {d} reached {v} mg/L after a {n} mg oral dose.",
    "The AUC was {v} mg·h/L, {w}-fold higher than in controls (p < 0.05).",
    "Oral bioavailability of {d} was {v}% in {n} patients.",
    "Tmax was {w} h and the elimination half-life {v} h.",
    "{d} clearance decreased by {n}% in patients with renal impairment.",
)


def _abstract(rng: random.Random) -> tuple[str, list[str]]:
    drug = rng.choice(DRUGS)
    n = rng.randint(6, 12)
    sentences = []
    for _ in range(n):
        pool = RESULTS if rng.random() < 0.4 else BACKGROUND
        v = round(rng.uniform(0.2, 90), 1)
        sentences.append(rng.choice(pool).format(
            d=drug, v=v, w=round(rng.uniform(0.5, 9), 1), lo=round(v * 0.5, 1),
            hi=round(v * 1.7, 1), n=rng.randint(6, 120)))
    sentences[0] = sentences[0][0].upper() + sentences[0][1:]
    return drug, sentences


def write_baseline(out: Path, name: str, articles: int, first_pmid: int, seed: int,
                   deletions: int = 0) -> Path:
    """Write ``out/name.xml.gz`` with ``articles`` records (and a ``DeleteCitation`` of the
    first ``deletions`` PMIDs) and return its path."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.xml.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(f'<?xml version="1.0" ?>\n{PUBMED_DOCTYPE}\n<PubmedArticleSet>\n')
        for i in range(articles):
            drug, sentences = _abstract(rng)
            art = make_article(first_pmid + i, title=f"Pharmacokinetics of {drug}.",
                               sentences=sentences, chemicals=[drug.capitalize()])
            fh.write(art.to_xml() + "\n")
        if deletions:
            fh.write("<DeleteCitation>" + "".join(
                f'<PMID Version="1">{first_pmid + i}</PMID>' for i in range(deletions))
                + "</DeleteCitation>\n")
        fh.write("</PubmedArticleSet>\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--name", default="pubmed26n0001")
    ap.add_argument("--articles", type=int, default=1000)
    ap.add_argument("--first-pmid", type=int, default=90_000_001)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--deletions", type=int, default=0)
    args = ap.parse_args()
    path = write_baseline(args.out, args.name, args.articles, args.first_pmid, args.seed,
                          args.deletions)
    print(f"{path}: {args.articles} articles, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
