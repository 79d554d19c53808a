"""The study context of measurements (pkharvest.study): each extractor on sentences written the
way PK abstracts phrase them, the article context from MeSH headings, and the columns the
pipeline stores, shows, queries and pools."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.fetch import EutilsClient, RateLimiter, RetryPolicy
from pkharvest.model.tagger import PKTagger, SentencePrediction
from pkharvest.pipeline import Extractor, predictions_to_measurements, run_search
from pkharvest.pool import StudyRow, pool
from pkharvest.records import (
    AbstractSection,
    Article,
    ArticleResult,
    ArticleTable,
    Entity,
    Measurement,
    Sentence,
)
from pkharvest.sentences import split_article
from pkharvest.store import Store
from pkharvest.study import (
    add_study_context,
    age_groups_in,
    apply_study_context,
    article_context,
    conditions_in,
    dose_in,
    group_size,
    populations_in,
    routes_in,
    species_in,
    statistic_of,
)
from pkharvest.testing.eutils_server import EutilsServer, make_article

runner = CliRunner()


# -- group size ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("Mean clearance of cefazolin was 5.8 L/h (n = 14).", 14),
        ("In 24 healthy male volunteers the terminal half-life was 9.3 h.", 24),
        ("Twelve patients on haemodialysis received 1 g of the drug.", 12),
        ("Twenty-four preterm neonates were sampled at 2, 6 and 12 h.", 24),
        ("Plasma samples (N: 30) were assayed by LC-MS/MS.", 30),
        ("Sixteen critically ill adults were studied; Vd was 0.9 L/kg.", 16),
        # subsets and two different groups are ambiguous
        ("Eight of 12 patients had a half-life longer than 10 h.", None),
        ("CL was 2.1 L/h in 10 children and 5.3 L/h in 14 adults.", None),
        ("A total of 9/20 subjects showed a second peak.", None),
        ("Three of the 14 volunteers vomited after dosing.", None),
        # numbers that are not group sizes
        ("Patients aged 12 years had a Tmax of 2 h after 3 doses.", None),
        ("The AUC was 45 mg·h/L at 24 h.", None),
        ("About 35% of patients had detectable trough levels.", None),
    ],
)
def test_group_size(text: str, n: int | None) -> None:
    assert group_size(text) == n


def test_the_same_size_twice_is_one_size() -> None:
    assert group_size("Twelve volunteers (n = 12) completed both periods.") == 12


# -- statistic -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "mtype", "dev", "statistic"),
    [
        # the words before the value come as the linker's measurement type
        ("The median tmax was 1.5 h.", "1.5", "median", None, "median"),
        ("Geometric mean AUC was 310 ng·h/mL.", "310", "geometric mean", None, "geometric_mean"),
        # words after the value
        ("Half-life was 7.2 h (median; range 4.1-12.0).", "7.2", None, None, "median"),
        ("Clearance was 3.1 ± 0.4 L/h (mean ± SD).", "3.1", None, "SD", "mean"),
        ("The typical CL was 4.4 L/h (population estimate).", "4.4", None, None,
         "population_estimate"),
        # what the deviation implies
        ("Clearance was 3.1 ± 0.4 L/h (SEM).", "3.1", None, "SE", "mean"),
        ("Vd was 35 L (IQR 28-41).", "35", None, "IQR", "median"),
        # a range value has no statistic; nothing said, nothing guessed
        ("Cmax ranged from 20 to 35 mg/L.", "20 to 35", "range", None, None),
        ("Clearance was 3.1 L/h and half-life 6 h.", "3.1", None, None, None),
        ("Clearance was 3.1 ± 0.4 L/h.", "3.1", None, "±", None),
    ],
)
def test_statistic(text: str, value: str, mtype: str | None, dev: str | None,
                   statistic: str | None) -> None:
    end = text.index(value) + len(value)
    assert statistic_of(text, end, mtype, dev) == statistic


# -- words -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("Gentamicin clearance in preterm infants was 0.05 L/h/kg.", ["neonate"]),
        ("Serum levels in newborns on day 3 of life were higher.", ["neonate"]),
        ("Infants younger than 6 months cleared the drug slowly.", ["infant"]),
        ("Dosing in paediatric oncology patients", ["child"]),
        ("Half-life was longer in elderly subjects (75-89 years).", ["elderly"]),
        ("Adolescents and adults had similar exposure.", ["adolescent", "adult"]),
        ("The drug was well tolerated.", []),
    ],
)
def test_age_groups(text: str, groups: list[str]) -> None:
    assert age_groups_in(text) == groups


@pytest.mark.parametrize(
    ("text", "population", "species"),
    [
        ("Twelve healthy Caucasian volunteers took part.", ["healthy"], ["human"]),
        ("Vd was 1.2 L/kg in patients with septic shock.", ["patients"], ["human"]),
        ("Adult male Wistar rats received 10 mg/kg i.v.", [], ["rat"]),
        ("Beagle dogs and cynomolgus monkeys were dosed orally.", [], ["dog", "monkey"]),
        ("Guinea pigs were dosed by gavage.", [], ["guinea_pig"]),
        ("Healthy volunteers and patients with cirrhosis were compared.",
         ["healthy", "patients"], ["human"]),
    ],
)
def test_population_and_species(text: str, population: list[str], species: list[str]) -> None:
    assert populations_in(text) == population
    assert species_in(text) == species


@pytest.mark.parametrize(
    ("text", "conditions"),
    [
        ("Cefuroxime in pregnant women at term", ["pregnancy"]),
        ("Patients on continuous haemodialysis with end-stage renal disease",
         ["renal_impairment"]),
        ("Subjects with moderate hepatic impairment (Child-Pugh B)", ["hepatic_impairment"]),
        ("Critically ill patients in the ICU", ["critical_illness"]),
        ("Morbidly obese patients undergoing bariatric surgery", ["obesity"]),
        ("Healthy volunteers fasted overnight.", []),
    ],
)
def test_conditions(text: str, conditions: list[str]) -> None:
    assert conditions_in(text) == conditions


@pytest.mark.parametrize(
    ("text", "routes", "doses"),
    [
        ("After a single 500 mg oral dose, Cmax was 12.3 mg/L.", ["oral"], ["500 mg"]),
        ("Patients received 1 g q8h as a 30-min infusion.", ["intravenous"], ["1 g q8h"]),
        ("Rats were given 10 mg/kg i.v. and clearance was 35 mL/min/kg.", ["intravenous"],
         ["10 mg/kg"]),
        ("Enoxaparin 40 mg once daily subcutaneously", ["subcutaneous"],
         ["40 mg once daily"]),
        ("A 2 mg IM injection gave a Tmax of 0.5 h.", ["intramuscular"], ["2 mg"]),
        # an amount that is no dose, and a concentration
        ("Cmax was 20 mg/L and 35 mg was excreted unchanged in urine.", [], []),
        ("Bioavailability of the oral versus the intravenous form was 64%.",
         ["oral", "intravenous"], []),
        ("Relative bioavailability (PO compared to IM) was 83%.", ["oral", "intramuscular"], []),
        ("Tmax after the suppository was longer than after gavage.", ["rectal", "oral"], []),
    ],
)
def test_route_and_dose(text: str, routes: list[str], doses: list[str]) -> None:
    assert routes_in(text) == routes
    assert dose_in(text) == doses


# -- article context -------------------------------------------------------------------------


def _article(pmid: str, title: str, abstract: str, mesh: tuple[str, ...]) -> Article:
    return Article(pmid, title, (AbstractSection(abstract),), mesh=mesh)


def test_article_context_from_mesh() -> None:
    # an adult study is indexed with every adult band it includes
    adult = article_context(_article(
        "1", "Pharmacokinetics of drug X", "Clearance was 5 L/h.",
        ("Adolescent", "Adult", "Aged", "Middle Aged", "Young Adult", "Humans", "Male",
         "Healthy Volunteers", "Administration, Oral", "Obesity, Morbid"),
    ))
    assert (adult.age_group, adult.population, adult.species, adult.route, adult.conditions) == (
        "adult", "healthy", "human", "oral", ("obesity",))
    rats = article_context(_article(
        "2", "Disposition of drug Y", "Clearance was 35 mL/min/kg.",
        ("Animals", "Rats", "Rats, Sprague-Dawley", "Injections, Intravenous", "Male"),
    ))
    assert (rats.species, rats.route, rats.population, rats.age_group) == (
        "rat", "intravenous", None, None)
    # several paediatric bands say nothing; the title decides
    kids = _article("3", "Drug Z", "Clearance was 0.2 L/h/kg.",
                    ("Child", "Child, Preschool", "Infant", "Humans"))
    assert article_context(kids).age_group is None
    titled = dataclasses.replace(kids, title="Drug Z in infants with sepsis")
    assert article_context(titled).age_group == "infant"
    assert article_context(titled).conditions == ("critical_illness",)


def test_article_context_title_wins_and_abstract_is_last() -> None:
    a = _article("4", "Vancomycin in critically ill neonates",
                 "Twenty neonates were studied. Adults need other doses.",
                 ("Infant, Newborn", "Humans"))
    ctx = article_context(a)
    # the abstract speaks of neonates and adults: its one size may be either group's
    assert (ctx.age_group, ctx.population, ctx.n) == ("neonate", None, None)
    one = dataclasses.replace(a, sections=(AbstractSection("Twenty neonates were studied."),))
    assert article_context(one).n == 20
    assert ctx.conditions == ("critical_illness",)
    b = _article("5", "A pharmacokinetic study", "Patients with gout received 300 mg daily.", ())
    assert (article_context(b).population, article_context(b).species) == ("patients", "human")


# -- measurements ----------------------------------------------------------------------------


def _pred(text: str, *spans: tuple[str, str]) -> SentencePrediction:
    ents = [Entity(label, text.index(s), text.index(s) + len(s), s) for label, s in spans]
    return SentencePrediction(text, ents, 1.0, 0)


def test_deviation_in_the_canonical_unit() -> None:
    texts = ["Clearance was 0.25 ± 0.05 L/min (mean ± SD) in 8 volunteers.",
             "AUC was 120 mg·h/L (CV 30%)."]
    sentences = [Sentence("7", i, t, 0, len(t)) for i, t in enumerate(texts)]
    preds = [_pred(texts[0], ("PK", "Clearance"), ("VALUE", "0.25"), ("VALUE", "0.05"),
                   ("UNITS", "L/min")),
             _pred(texts[1], ("PK", "AUC"), ("VALUE", "120"), ("UNITS", "mg·h/L"),
                   ("VALUE", "30"), ("UNITS", "%"))]
    _, _, ms = predictions_to_measurements(sentences, preds, 0.5)
    cl = next(m for m in ms if m.parameter_text == "Clearance")
    assert (cl.unit, cl.value_canonical, cl.deviation_canonical) == (
        "L/h", pytest.approx(15.0), pytest.approx(3.0))
    auc = next(m for m in ms if m.parameter_text == "AUC")
    assert (auc.deviation_type, auc.deviation_canonical) == ("CV", 30.0)  # a CV stays percent


def test_a_statistic_word_in_the_parameter_name_is_no_statistic() -> None:
    text = "The mean residence time was 5.2 h and the mean clearance 3.3 L/h."
    sentences = [Sentence("8", 0, text, 0, len(text))]
    preds = [_pred(text, ("PK", "mean residence time"), ("VALUE", "5.2"), ("UNITS", "h"),
                   ("PK", "clearance"), ("VALUE", "3.3"), ("UNITS", "L/h"))]
    _, _, ms = predictions_to_measurements(sentences, preds, 0.5)
    apply_study_context(_article("8", "", text, ()), ms, sentences)
    assert [(m.parameter_text, m.statistic) for m in ms] == [
        ("mean residence time", None), ("clearance", "mean")]


def test_sentence_words_win_over_the_article_and_table_values_keep_their_n() -> None:
    title = "Meropenem in healthy volunteers and patients"
    texts = [
        "Clearance was 14.1 ± 2.0 L/h (mean ± SD) in 10 healthy volunteers.",
        "In critically ill patients the median clearance was 9.8 L/h.",
        "The half-life was 1.1 h.",
    ]
    article = _article("9", title, " ".join(texts), ("Humans", "Adult", "Infusions, Intravenous"))
    sentences = [Sentence("9", i + 1, t, 0, len(t)) for i, t in enumerate(texts)]
    preds = [
        _pred(texts[0], ("PK", "Clearance"), ("VALUE", "14.1"), ("VALUE", "2.0"), ("UNITS", "L/h")),
        _pred(texts[1], ("PK", "clearance"), ("VALUE", "9.8"), ("UNITS", "L/h")),
        _pred(texts[2], ("PK", "half-life"), ("VALUE", "1.1"), ("UNITS", "h")),
    ]
    _, _, ms = predictions_to_measurements(sentences, preds, 0.5, title=title)
    table = ArticleTable("9", "T2", "Table 2", "Meropenem PK in obese patients", "pk", 1,
                         (("CL",), ("8",)))
    cell = Measurement("9", None, "CL", None, None, value_text="8.0", value=8.0,
                       source="table", table_id="T2", row=1, col=1,
                       group_label="2 g q8h (n = 7)", n=7, statistic="median")
    out = apply_study_context(article, [*ms, cell], sentences, [table])
    got = [(m.n, m.statistic, m.population, m.conditions, m.route, m.dose_text) for m in out]
    assert got == [
        (10, "mean", "healthy", None, "intravenous", None),
        (None, "median", "patients", ["critical_illness"], "intravenous", None),
        # the abstract speaks of volunteers and patients: its one size is not every group's
        (None, None, None, None, "intravenous", None),
        (7, "median", "patients", ["obesity"], "intravenous", "2 g q8h"),
    ]
    assert {m.species for m in out} == {"human"} and {m.age_group for m in out} == {"adult"}
    assert out[0].deviation_canonical == pytest.approx(2.0)
    # idempotent: a second pass changes nothing
    before = [dataclasses.asdict(m) for m in out]
    apply_study_context(article, out, sentences, [table])
    assert [dataclasses.asdict(m) for m in out] == before


# -- end to end through run_search -----------------------------------------------------------


def _client(server: EutilsServer) -> EutilsClient:
    return EutilsClient(
        base_url=server.url,
        retry=RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05, jitter=0.01),
        rate_limiter=RateLimiter(1000.0),
        timeout=5.0,
    )


PEOPLE_SENTENCES = [
    "Twelve healthy volunteers were enrolled.",
    "Clearance was 4.2 L/h and the volume of distribution was 52 L.",
    "The elimination half-life was 6.1 ± 1.3 h (mean ± SD).",
    "Cmax was 20 mg/L and AUC was 310 mg·h/L.",
]
RAT_SENTENCES = [
    "Clearance was 35 mL/min/kg and the volume of distribution was 2.1 L/kg.",
    "The elimination half-life was 1.3 ± 0.2 h (mean ± SD).",
]


def test_run_search_stores_the_study_context(tmp_path: Path, untrained_model: Path) -> None:
    extractor = Extractor(PKTagger.load(untrained_model), threshold=0.0)
    articles = [
        make_article(
            3100 + i, title=f"Pharmacokinetics of vancomycin, study {i}",
            sentences=PEOPLE_SENTENCES, chemicals=["Vancomycin"],
            mesh=["Adult", "Middle Aged", "Humans", "Healthy Volunteers",
                  "Administration, Oral", "Vancomycin"],
        )
        for i in range(3)
    ] + [
        make_article(
            3200 + i, title=f"Vancomycin disposition, experiment {i}",
            sentences=RAT_SENTENCES, chemicals=["Vancomycin"],
            mesh=["Animals", "Rats, Wistar", "Male", "Injections, Intravenous"],
        )
        for i in range(3)
    ]
    db = tmp_path / "s.duckdb"
    with EutilsServer(articles) as server, Store(db) as store:
        summary = run_search("vancomycin", store, _client(server), extractor)
    assert summary.articles_fetched == 6
    with Store(db, read_only=True) as store:
        stored = store.measurements()
    assert {m.pmid[:2] for m in stored} == {"31", "32"}, "no value linked in an article kind"
    for m in stored:
        if m.pmid.startswith("31"):
            assert (m.species, m.population, m.age_group, m.route) == (
                "human", "healthy", "adult", "oral"), m
            assert m.n == 12, m  # the one group size the abstract states
        else:
            assert (m.species, m.population, m.age_group, m.route, m.n) == (
                "rat", None, None, "intravenous", None), m
    # the untrained model's values are noise: the statistic of real values is checked with the
    # tags a model gives (pooled_db below)


# -- stored, shown, queried and pooled -------------------------------------------------------

# (pmid, mesh, sentence, value, sd): the sentence states n; the MeSH headings the population
POOLED = [
    ("5001", ("Humans", "Adult", "Healthy Volunteers"),
     "In 12 healthy volunteers, midazolam clearance was 25.0 ± 6.0 L/h (mean ± SD).", 25.0, 6.0),
    ("5002", ("Humans", "Adult", "Healthy Volunteers"),
     "Midazolam clearance in 18 volunteers was 30.5 ± 7.5 L/h (mean ± SD).", 30.5, 7.5),
    ("5003", ("Humans", "Aged", "Critical Illness"),
     "In 9 critically ill patients midazolam clearance was 14.0 ± 5.0 L/h (mean ± SD).", 14.0, 5.0),
    ("5004", ("Humans", "Aged", "Liver Cirrhosis"),
     "Midazolam clearance was 11.5 ± 4.0 L/h (mean ± SD) in 15 patients with cirrhosis.",
     11.5, 4.0),
    ("5005", ("Animals", "Rats"),
     "Midazolam clearance was 3.0 ± 0.5 L/h (mean ± SD) in 6 rats.", 3.0, 0.5),
]


@pytest.fixture()
def pooled_db(tmp_path: Path) -> Path:
    """A store written from PubMed records served over loopback HTTP, parsed, split, linked
    (from the tags a model gives these sentences), normalised and given their study context by
    the pipeline's functions."""
    served = [make_article(p, title="Midazolam pharmacokinetics", sentences=[s], mesh=list(mesh),
                           chemicals=["Midazolam"]) for p, mesh, s, _, _ in POOLED]
    with EutilsServer(served) as server:
        articles = list(_client(server).fetch_articles([p for p, *_ in POOLED]))
    results = []
    for batch in articles:
        for article in batch:
            sentences = split_article(article)
            preds = []
            for s in sentences:
                row = next((r for r in POOLED if r[2] == s.text), None)
                preds.append(_pred(s.text) if row is None else _pred(
                    s.text, ("PK", "clearance"), ("VALUE", f"{row[3]:.1f}"),
                    ("VALUE", f"{row[4]:.1f}"), ("UNITS", "L/h")))
            scored, mentions, ms = predictions_to_measurements(
                sentences, preds, 0.5, title=article.title, chemicals=article.chemicals,
                mesh=article.mesh)
            results.append(add_study_context(ArticleResult(article, scored, mentions, ms)))
    db = tmp_path / "pk.duckdb"
    with Store(db) as store:
        store.write_batch(results, None, "test-model")
    return db


def test_stored_columns_filter_the_queries(pooled_db: Path) -> None:
    with Store(pooled_db, read_only=True) as store:
        cols, rows = store.run_query("evidence", {"drug": "midazolam", "parameter": "CL"})
        ev = [dict(zip(cols, r, strict=True)) for r in rows]
        assert [(e["pmid"], e["n"], e["statistic"], e["population"], e["species"],
                 e["age_group"], e["conditions"]) for e in ev] == [
            ("5001", 12, "mean", "healthy", "human", "adult", None),
            ("5002", 18, "mean", "healthy", "human", "adult", None),
            ("5003", 9, "mean", "patients", "human", "elderly", ["critical_illness"]),
            ("5004", 15, "mean", "patients", "human", "elderly", ["hepatic_impairment"]),
            ("5005", 6, "mean", None, "rat", None, None),
        ]

        def pmids(query: str, **params: str) -> list[str]:
            cols, rows = store.run_query(query, {"drug": "midazolam", "parameter": "CL",
                                                 **params})
            return [r[cols.index("pmid")] for r in rows]

        assert pmids("evidence", population="healthy") == ["5001", "5002"]
        assert pmids("evidence", population="Patients", age_group="elderly") == ["5003", "5004"]
        assert pmids("evidence", species="rat") == ["5005"]
        assert pmids("evidence", condition="renal_impairment") == []
        assert pmids("evidence", condition="hepatic_impairment") == ["5004"]

        def summary(**params: str) -> tuple[int, float]:
            cols, rows = store.run_query("parameter_summary", params)
            (row,) = rows
            d = dict(zip(cols, row, strict=True))
            return d["n_values"], d["median"]

        assert summary(species="human") == (4, pytest.approx((14.0 + 25.0) / 2))
        assert summary(population="healthy") == (2, pytest.approx((25.0 + 30.5) / 2))
        # without filters the query gives the rows of the parameter_summary view
        _, view = store.run_query("parameter_summary", {})
        direct = store.con.execute(
            "SELECT * FROM parameter_summary ORDER BY drug, parameter").fetchall()
        assert len(view) == len(direct)  # the same rows; sums may differ in the last digit
        for got, want in zip(view, direct, strict=True):
            assert list(got) == [
                pytest.approx(x, rel=1e-12) if isinstance(x, float) else x for x in want
            ]


def test_cli_query_show_and_pool_by_population(pooled_db: Path) -> None:
    res = runner.invoke(app, ["query", "evidence", "--db", str(pooled_db), "-p", "drug=midazolam",
                              "-p", "parameter=CL", "-p", "population=healthy", "--format",
                              "json"])
    assert res.exit_code == 0, res.output
    assert [r["pmid"] for r in json.loads(res.stdout)] == ["5001", "5002"]
    shown = runner.invoke(app, ["show", "5003", "--db", str(pooled_db)])
    assert shown.exit_code == 0, shown.output
    assert "n=9" in shown.output and "patients" in shown.output
    assert "critical_illness" in shown.output and "elderly" in shown.output
    res = runner.invoke(app, ["pool", "--db", str(pooled_db), "--drug", "midazolam",
                              "--parameter", "clearance", "--by", "population", "--format",
                              "json", "--method", "DL"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    expected = pool([
        StudyRow(study=f"PMID {p}", statistic="mean", estimate=v, deviation_type="sd",
                 deviation=sd, n=n, unit="L/h", facets={"population": pop})
        for (p, _, _, v, sd), n, pop in zip(
            POOLED, (12, 18, 9, 15, 6), ("healthy", "healthy", "patients", "patients", None),
            strict=True)
    ], "DL", by="population")
    assert [(o["subgroup"], o["k"]) for o in out] == [(e.subgroup, e.k) for e in expected]
    assert {o["subgroup"] for o in out} >= {"healthy", "patients"}
    for o, e in zip(out, expected, strict=True):
        assert o["estimate"] == pytest.approx(e.estimate, rel=1e-9)
        assert o["tau2"] == pytest.approx(e.tau2, rel=1e-9, abs=1e-12)
