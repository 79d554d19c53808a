"""Views, the ready-made queries of ``queries/`` and export, on real DuckDB files.

Expected statistics are computed independently in the tests (numpy / statistics)."""

from __future__ import annotations

import csv
import dataclasses
import math
import random
import statistics
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from pkharvest.errors import StoreError, UsageError
from pkharvest.records import (
    AbstractSection,
    Article,
    ArticleResult,
    Entity,
    Measurement,
    Mention,
    ScoredSentence,
    Sentence,
)
from pkharvest.store import (
    QUERIES_DIR,
    Store,
    list_queries,
    parse_query,
    resolve_query,
    sql_placeholders,
)

HOSTILE = "'; DROP TABLE measurements; --"


def measurement_article(
    pmid: str,
    values: list[tuple[str, str, float, str | None]],
    drug: str,
    parameter: str = "clearance",
    unit: str | None = "L/h",
    flags: list[str] | None = None,
    comparator: str | None = None,
) -> tuple[Article, list[Sentence], list[Mention], list[Measurement]]:
    """One article, one sentence per value: ``(measurement_type, value_text, canonical,
    unit_text)``. Offsets are computed from the sentence text."""
    sentences, mentions, measurements = [], [], []
    for i, (mtype, vtext, canonical, unit_text) in enumerate(values):
        text = f"The {mtype} {parameter} of {drug} was {comparator or ''}{vtext} {unit_text or ''}."
        sentences.append(Sentence(pmid, i, text, 0, len(text), "RESULTS"))
        ps = text.index(parameter)
        vs = text.index(vtext, ps + len(parameter) + len(drug))
        mentions += [
            Mention(pmid, i, Entity("PK", ps, ps + len(parameter), parameter)),
            Mention(pmid, i, Entity("VALUE", vs, vs + len(vtext), vtext)),
        ]
        measurements.append(
            Measurement(
                pmid=pmid,
                sentence_index=i,
                parameter_text=parameter,
                parameter_start=ps,
                parameter_end=ps + len(parameter),
                value_text=vtext,
                value_start=vs,
                value_end=vs + len(vtext),
                value=float(vtext) if vtext.replace(".", "").lstrip("-").isdigit() else None,
                comparator=comparator,
                measurement_type=mtype,
                unit_text=unit_text,
                parameter=parameter,
                unit=unit,
                value_canonical=canonical,
                drug=drug,
                flags=list(flags or []),
            )
        )
    article = Article(
        pmid, f"PK of {drug}", (AbstractSection(" ".join(s.text for s in sentences)),)
    )
    return article, sentences, mentions, measurements


def write(store: Store, *arts: tuple, mv: str = "v1") -> None:
    store.write_batch(
        [ArticleResult(a, [ScoredSentence(s) for s in ss], ms, xs) for a, ss, ms, xs in arts],
        None,
        mv,
    )


@pytest.fixture
def populated(tmp_path: Path) -> tuple[Path, dict]:
    """A store with midazolam clearance (mean) over 8 articles, including a zero and a negative
    value, a median-type group, an inequality, a flagged value and a second drug."""
    rng = random.Random(7)
    db = tmp_path / "pk.duckdb"
    mean_values: list[tuple[str, float]] = []
    arts = []
    for a in range(8):
        pmid = str(1000 + a)
        vals = []
        for _ in range(rng.randint(1, 3)):
            v = round(rng.lognormvariate(math.log(30), 0.4), 2)
            vals.append(("mean", f"{v}", v, "L/h"))
            mean_values.append((pmid, v))
        arts.append(measurement_article(pmid, vals, "Midazolam"))
    arts.append(measurement_article("2000", [("mean", "0", 0.0, "L/h")], "midazolam"))
    arts.append(measurement_article("2001", [("mean", "-4", -4.0, "L/h")], "MIDAZOLAM"))
    mean_values += [("2000", 0.0), ("2001", -4.0)]
    medians = [("3000", 21.0), ("3001", 25.0), ("3002", 40.0)]
    for pmid, v in medians:
        arts.append(measurement_article(pmid, [("median", f"{v:g}", v, "L/h")], "midazolam"))
    # an inequality is not a point estimate: kept out of the summary
    arts.append(
        measurement_article("4000", [("mean", "5", 5.0, "L/h")], "midazolam", comparator="<")
    )
    # a unit that does not fit the parameter (flagged by normalisation) and an unknown unit
    arts.append(
        measurement_article(
            "5000",
            [("mean", "12", 12.0, "mg")],
            "midazolam",
            unit="mg",
            flags=["unit mg does not fit clearance"],
        )
    )
    arts.append(
        measurement_article("5001", [("mean", "7", None, "furlongs")], "midazolam", unit=None)
    )
    arts.append(measurement_article("6000", [("mean", "3.5", 3.5, "L/h")], HOSTILE))
    with Store(db) as store:
        write(store, *arts)
    return db, {"mean": mean_values, "median": medians}


CONTEXT_FILTERS = ("population", "age_group", "species", "route", "condition")


def as_dicts(columns: list[str], rows: list[tuple]) -> list[dict]:
    return [dict(zip(columns, r, strict=True)) for r in rows]


# -- the queries folder -----------------------------------------------------------------------


def test_every_query_file_declares_its_parameters() -> None:
    specs = list_queries()
    names = {s.name for s in specs}
    assert {"parameter_summary", "evidence", "needs_review"} <= names
    for spec in specs:
        assert spec.path.parent == QUERIES_DIR
        assert spec.description, f"{spec.path} has no header comment"
        declared = [p.name for p in spec.params]
        assert sorted(declared) == sorted(sql_placeholders(spec.sql)), spec.path
        text = spec.path.read_text()
        for name in declared:
            assert f"-- ${name}" in text
    evidence = resolve_query("evidence").params
    assert [p.name for p in evidence if p.required] == ["drug", "parameter"]
    assert {p.name for p in evidence if not p.required} == set(CONTEXT_FILTERS)
    assert set(CONTEXT_FILTERS) <= {p.name for p in resolve_query("parameter_summary").params}
    assert not any(p.required for p in resolve_query("needs_review").params)


def test_every_query_runs_on_an_empty_store(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    Store(db).close()
    with Store(db, read_only=True) as store:
        for spec in list_queries():
            params = {p.name: "x" for p in spec.params if p.required}
            columns, rows = store.run_query(spec.name, params)
            assert columns and rows == []


# -- parameter_summary ------------------------------------------------------------------------


def test_parameter_summary_matches_independent_statistics(populated: tuple[Path, dict]) -> None:
    db, expected = populated
    with Store(db, read_only=True) as store:
        rows = as_dicts(*store.run_query("parameter_summary", {"drug": "MidAzolam"}))
    groups = {(r["measurement_type"], r["unit"]): r for r in rows}
    assert {r["drug"] for r in rows} == {"midazolam"}
    assert set(groups) == {("mean", "L/h"), ("median", "L/h")}

    mean = groups[("mean", "L/h")]
    pmids = [p for p, _ in expected["mean"]]
    x = np.array([v for _, v in expected["mean"]])
    positive = x[x > 0]
    assert mean["n_values"] == len(x)
    assert mean["n_articles"] == len(set(pmids))
    assert mean["median"] == pytest.approx(statistics.median(x))
    assert mean["q1"] == pytest.approx(np.percentile(x, 25))
    assert mean["q3"] == pytest.approx(np.percentile(x, 75))
    assert mean["min"] == pytest.approx(x.min()) and mean["max"] == pytest.approx(x.max())
    assert mean["n_positive"] == len(positive)
    assert mean["geo_mean"] == pytest.approx(statistics.geometric_mean(positive))
    logs = np.log(positive)
    assert mean["geo_cv_pct"] == pytest.approx(
        100 * math.sqrt(math.exp(np.var(logs, ddof=1)) - 1))
    assert 10 < mean["geo_cv_pct"] < 100  # a percentage: lognormal sigma 0.4 is a CV near 40 %
    assert mean["n_flagged"] == 0 and mean["n_left_out"] == 0

    med = groups[("median", "L/h")]
    mv = [v for _, v in expected["median"]]
    assert (med["n_values"], med["n_articles"]) == (3, 3)
    assert med["median"] == pytest.approx(statistics.median(mv))
    assert med["geo_mean"] == pytest.approx(statistics.geometric_mean(mv))
    # the only mg value carries a flag: its group is left out of the summary unless flagged=1
    with Store(db, read_only=True) as store:
        every = as_dicts(*store.run_query("parameter_summary",
                                          {"drug": "midazolam", "flagged": "1"}))
    assert {(r["measurement_type"], r["unit"]) for r in every} == set(groups) | {("mean", "mg")}
    flagged = next(r for r in every if r["unit"] == "mg")
    assert (flagged["n_values"], flagged["n_flagged"], flagged["n_left_out"]) == (1, 1, 0)


def test_parameter_summary_filters(populated: tuple[Path, dict]) -> None:
    db, _ = populated
    with Store(db, read_only=True) as store:
        all_rows = as_dicts(*store.run_query("parameter_summary", {}))
        none = store.run_query("parameter_summary", {"parameter": "volume"})[1]
        hostile = as_dicts(*store.run_query("parameter_summary", {"drug": HOSTILE}))
    assert {r["drug"] for r in all_rows} == {"midazolam", HOSTILE.lower()}
    assert none == []
    assert [(r["n_values"], r["median"]) for r in hostile] == [(1, 3.5)]


# -- evidence ---------------------------------------------------------------------------------


def test_evidence_rows_point_into_their_sentences(populated: tuple[Path, dict]) -> None:
    db, expected = populated
    with Store(db, read_only=True) as store:
        rows = as_dicts(
            *store.run_query("evidence", {"drug": "midazolam", "parameter": "clearance"})
        )
    n_mid = len(expected["mean"]) + len(expected["median"]) + 3  # inequality, mg, furlongs
    assert len(rows) == n_mid
    for r in rows:
        assert r["pubmed_url"] == f"https://pubmed.ncbi.nlm.nih.gov/{r['pmid']}/"
        s = r["sentence"]
        assert s[r["parameter_start"] : r["parameter_end"]] == r["parameter_text"]
        assert s[r["value_start"] : r["value_end"]] == r["value_text"]
    assert sorted(r["value_canonical"] for r in rows if r["measurement_type"] == "median") == [
        v for _, v in expected["median"]
    ]


def test_hostile_values_are_stored_and_bound_safely(populated: tuple[Path, dict]) -> None:
    db, _ = populated
    with Store(db, read_only=True) as store:
        before = store.counts()
        rows = as_dicts(*store.run_query("evidence", {"drug": HOSTILE, "parameter": "clearance"}))
        assert [r["drug"] for r in rows] == [HOSTILE]
        assert HOSTILE in rows[0]["sentence"]
        none = store.run_query("evidence", {"drug": "midazolam", "parameter": HOSTILE})[1]
        assert none == []
        assert store.counts() == before
    with Store(db) as store:  # and through a writable store too
        assert store.run_query("evidence", {"drug": HOSTILE, "parameter": "x' OR '1'='1"})[1] == []
        assert store.counts() == before


# -- needs_review -----------------------------------------------------------------------------


def test_needs_review_flags_outliers_by_robust_distance(tmp_path: Path) -> None:
    db = tmp_path / "pk.duckdb"
    rng = random.Random(3)
    values = [round(rng.lognormvariate(math.log(10), 0.3), 3) for _ in range(30)]
    values += [400.0, 0.05]  # far out on both sides
    arts = [
        measurement_article(str(100 + i), [("mean", f"{v}", v, "L/h")], "theophylline")
        for i, v in enumerate(values)
    ]
    with Store(db) as store:
        write(store, *arts)
    logs = np.log(values)
    med = np.median(logs)
    mad = 1.4826 * np.median(np.abs(logs - med))
    z = np.abs(logs - med) / mad
    expected = {str(100 + i): z[i] for i in range(len(values)) if z[i] > 3}
    assert {"130", "131"} <= set(expected)  # the planted outliers
    with Store(db, read_only=True) as store:
        rows = as_dicts(*store.run_query("needs_review", {"drug": "Theophylline"}))
        stricter = store.run_query("needs_review", {"k": "1000"})[1]
        small = store.run_query("needs_review", {"min_n": "100"})[1]
    got = {r["pmid"]: r["robust_z"] for r in rows}
    assert set(got) == set(expected)
    for pmid, zz in expected.items():
        assert got[pmid] == pytest.approx(zz)
    assert all(r["reasons"][0].startswith("outlier") for r in rows)
    assert rows[0]["group_median"] == pytest.approx(math.exp(med))
    assert stricter == [] and small == []


def test_needs_review_lists_flagged_and_unrecognised_units(populated: tuple[Path, dict]) -> None:
    db, _ = populated
    with Store(db, read_only=True) as store:
        rows = as_dicts(*store.run_query("needs_review", {"drug": "midazolam"}))
    by_pmid = {r["pmid"]: r["reasons"] for r in rows}
    assert by_pmid["5000"] == ["unit mg does not fit clearance"]
    assert by_pmid["5001"] == ["unit not recognised"]


# -- parameters and files ---------------------------------------------------------------------


def test_unknown_and_missing_parameters_are_named(populated: tuple[Path, dict]) -> None:
    db, _ = populated
    with Store(db, read_only=True) as store:
        with pytest.raises(UsageError) as err:
            store.run_query("evidence", {"drug": "x", "colour": "red", "x;DROP": "1"})
        msg = str(err.value)
        assert err.value.field == "param"
        assert "colour" in msg and "x;DROP" in msg and "missing parameter(s) parameter" in msg
        with pytest.raises(UsageError, match="no query named 'nope'"):
            store.run_query("nope", {})
        with pytest.raises(UsageError, match=r"known queries: .*evidence"):
            store.run_query("no/such/file.sql", {})


def test_own_sql_file_with_placeholders(populated: tuple[Path, dict], tmp_path: Path) -> None:
    db, _ = populated
    own = tmp_path / "by_pmid.sql"
    own.write_text(
        "-- a comment mentioning $ghost is ignored\n"
        "SELECT pmid, value_text, '$literal' AS lit FROM measurements WHERE pmid = $pmid;\n"
    )
    assert [p.name for p in parse_query(own).params] == ["pmid"]
    with Store(db, read_only=True) as store:
        columns, rows = store.run_query(own, {"pmid": "6000"})
        assert columns == ["pmid", "value_text", "lit"]
        assert rows == [("6000", "3.5", "$literal")]
        with pytest.raises(UsageError, match="missing parameter"):
            store.run_query(str(own), {})
        bad = tmp_path / "bad.sql"
        bad.write_text("SELECT no_such_column FROM measurements")
        with pytest.raises(StoreError, match=r"bad\.sql"):
            store.run_query(bad, {})
        # a read-only store cannot be changed by a query file
        drop = tmp_path / "drop.sql"
        drop.write_text("DROP TABLE measurements")
        with pytest.raises(StoreError, match=r"drop\.sql"):
            store.run_query(drop, {})
        assert store.counts()["measurements"] > 0


# -- export -----------------------------------------------------------------------------------


def test_export_csv_and_parquet_read_back(populated: tuple[Path, dict], tmp_path: Path) -> None:
    db, expected = populated
    with Store(db, read_only=True) as store:
        total = store.counts()["measurements"]
        out_pq = tmp_path / "all.parquet"
        assert store.export(out_pq, "parquet") == total
        out_csv = tmp_path / "it's midazolam.csv"  # a quote in the path
        n = store.export(out_csv, "csv", drugs=["MIDAZOLAM"], parameters=["clearance"])
        assert store.export(tmp_path / "none.csv", "csv", parameters=["volume"]) == 0
        with pytest.raises(UsageError, match="format must be one of") as err:
            store.export(tmp_path / "x.xlsx", "xlsx")
        assert err.value.field == "format"
        with pytest.raises(UsageError, match="does not exist") as err:
            store.export(tmp_path / "missing" / "x.csv", "csv")
        assert err.value.field == "out"
    table = pq.read_table(out_pq)
    assert table.num_rows == total
    cols = set(table.column_names)
    assert {"pmid", "drug", "parameter", "value_canonical", "unit", "sentence", "pubmed_url",
            "title", "model_version", "parameter_start", "value_end"} <= cols  # fmt: skip
    with out_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n == len(expected["mean"]) + len(expected["median"]) + 3
    assert {r["drug"].lower() for r in rows} == {"midazolam"}
    for r in rows:
        s = r["sentence"]
        assert s[int(r["value_start"]) : int(r["value_end"])] == r["value_text"]
    con = duckdb.connect()
    pq_pmids = {
        r[0]
        for r in con.execute("SELECT pmid FROM read_parquet($p)", {"p": str(out_pq)}).fetchall()
    }
    assert {r["pmid"] for r in rows} < pq_pmids
    assert "6000" in pq_pmids


def test_export_hostile_filter_is_bound(populated: tuple[Path, dict], tmp_path: Path) -> None:
    db, _ = populated
    with Store(db, read_only=True) as store:
        out = tmp_path / "h.parquet"
        assert store.export(out, "parquet", drugs=[HOSTILE]) == 1
        assert store.counts()["measurements"] > 1
    assert pq.read_table(out).column("drug").to_pylist() == [HOSTILE]


# -- flags that leave a value out: one definition for the summary and pooling -----------------

FLAG_CASES = [
    ([], False),
    (["covariate:CLcr"], False),
    (["in_vitro"], True),
    (["cited"], True),
    (["drug_from_query"], True),
    (["negative_value:CL"], True),
    (["covariate:CLcr", "cited"], True),
    (["written by a newer version"], True),
]


def test_flagged_values_are_left_out_of_the_summary_and_pooling(tmp_path: Path) -> None:
    from pkharvest.flags import left_out
    from pkharvest.pool.stored import read_store_rows

    db = tmp_path / "flags.duckdb"
    arts = [
        measurement_article(str(7000 + i), [("mean", f"{10 + i}", 10.0 + i, "L/h")], "digoxin",
                            parameter="CL", flags=flags)
        for i, (flags, _) in enumerate(FLAG_CASES)
    ]
    with Store(db) as store:
        write(store, *arts)
    kept = [10.0 + i for i, (flags, out) in enumerate(FLAG_CASES) if not out]
    assert [left_out(f) for f, _ in FLAG_CASES] == [out for _, out in FLAG_CASES]
    with Store(db, read_only=True) as store:
        (row,) = as_dicts(*store.run_query("parameter_summary", {"drug": "digoxin"}))
        (every,) = as_dicts(*store.run_query("parameter_summary",
                                             {"drug": "digoxin", "flagged": "1"}))
        evidence = as_dicts(*store.run_query("evidence", {"drug": "digoxin", "parameter": "CL"}))
    assert (row["n_values"], row["n_left_out"], row["n_flagged"]) == (len(kept), 6, 1)
    assert (row["min"], row["max"]) == (min(kept), max(kept))
    assert (every["n_values"], every["n_left_out"]) == (len(FLAG_CASES), 0)
    # the SQL definition and the Python one agree value by value
    assert all(e["left_out_by_flags"] == left_out(e["flags"]) for e in evidence)
    pooled, _ = read_store_rows(db, "digoxin", "CL")
    assert sorted(r.estimate for r in pooled) == kept
    assert len(read_store_rows(db, "digoxin", "CL", include_flagged=True)[0]) == len(FLAG_CASES)


def test_deviation_in_the_canonical_unit_is_stored_and_exported(tmp_path: Path) -> None:
    from pkharvest.link import link
    from pkharvest.normalise import normalise

    text = "Total body clearance was 0.115 liter/h.kg (SD, 0.022) and CL/F 2194 +- 61 ml/h/kg."
    spans = [("PK", "Total body clearance"), ("VALUE", "0.115"), ("UNITS", "liter/h.kg"),
             ("VALUE", "0.022"), ("PK", "CL/F"), ("VALUE", "2194"), ("VALUE", "61"),
             ("UNITS", "ml/h/kg")]
    entities = [Entity(label, text.index(s), text.index(s) + len(s), s) for label, s in spans]
    sentence = Sentence("8000", 0, text, 0, len(text), "RESULTS")
    measurements = [dataclasses.replace(normalise(m), drug="vancomycin")
                    for m in link(sentence, entities)]
    article = Article("8000", "PK of vancomycin", (AbstractSection(text),))
    db = tmp_path / "dev.duckdb"
    with Store(db) as store:
        write(store, (article, [sentence], [], measurements))
        store.export(tmp_path / "out.csv", "csv")
    with Store(db, read_only=True) as store:
        rows = as_dicts(*store.run_query("evidence", {"drug": "vancomycin", "parameter": "CL"}))
        rows += as_dicts(*store.run_query("evidence", {"drug": "vancomycin",
                                                       "parameter": "CL/F"}))
    got = sorted((r["value_canonical"], r["deviation_canonical"], r["deviation_type"])
                 for r in rows)
    assert got == [(pytest.approx(0.115), pytest.approx(0.022), "SD"),
                   (pytest.approx(2.194), pytest.approx(0.061), "SD")]  # SD named before
    with open(tmp_path / "out.csv", newline="") as fh:
        exported = sorted(float(r["deviation_canonical"]) for r in csv.DictReader(fh))
    assert exported == [pytest.approx(0.022), pytest.approx(0.061)]
