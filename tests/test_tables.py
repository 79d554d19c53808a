"""Tables: grids with spans, inline markup and footnote markers, cell syntaxes and statistics,
classification, and extraction of every layout of the JATS fixtures against their gold files."""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from pkharvest.fulltext import parse_pmc_xml
from pkharvest.fulltext.jats import JatsTable
from pkharvest.tables import (
    classify,
    extract_table,
    extract_tables,
    orientation,
    parse_cell,
    split_name_unit,
    statistic_in,
)
from pkharvest.tables.evaluate import load_gold, score
from pkharvest.tables.grid import TableError, cell_text, expand, rows_of

DATA = Path(__file__).parent / "data" / "jats"
STEMS = ["pmc_rows", "pmc_columns", "pmc_multihead", "pmc_headings", "pmc_split"]


def _article(stem: str):
    [art] = parse_pmc_xml((DATA / f"{stem}.xml").read_bytes()).articles
    return art


def _table(stem: str, table_id: str) -> JatsTable:
    return next(t for t in _article(stem).tables if t.table_id == table_id)


def _wrap(table_xml: str, foot: str = "", caption: str = "PK parameters") -> JatsTable:
    doc = (
        "<pmc-articleset><article><front><article-meta>"
        '<article-id pub-id-type="pmid">1</article-id><article-id pub-id-type="pmc">2</article-id>'
        "</article-meta></front><body><sec><title>Results</title>"
        f'<table-wrap id="X"><label>Table 9</label><caption><p>{caption}</p></caption>'
        f"{table_xml}<table-wrap-foot>{foot}</table-wrap-foot></table-wrap>"
        "</sec></body></article></pmc-articleset>"
    )
    [art] = parse_pmc_xml(doc.encode()).articles
    return art.tables[0]


# ----------------------------------------------------------------------------- cell syntaxes


@pytest.mark.parametrize(
    ("text", "value", "deviation", "low", "high"),
    [
        ("4.2", 4.2, None, None, None),
        ("4.2 ± 1.1", 4.2, 1.1, None, None),
        ("4.2 +/- 1.1", 4.2, 1.1, None, None),
        ("4.2 (1.1)", 4.2, 1.1, None, None),
        ("3.42 (28.1)", 3.42, 28.1, None, None),
        ("3.42 (28.1%)", 3.42, 28.1, None, None),
        ("1.5 (0.5–4.0)", 1.5, None, 0.5, 4.0),
        ("1.5 (0.5-4.0)", 1.5, None, 0.5, 4.0),
        ("12.0 [9.1–15.2]", 12.0, None, 9.1, 15.2),
        ("4.2 (3.1, 5.6)", 4.2, None, 3.1, 5.6),
        ("4.2 (3.1 to 5.6)", 4.2, None, 3.1, 5.6),
        ("1,245 ± 310", 1245.0, 310.0, None, None),
        ("9,870 ± 2,140", 9870.0, 2140.0, None, None),
        ("12,345.6", 12345.6, None, None, None),
        ("\u22120.52", -0.52, None, None, None),
        ("\u22121.2 (\u22122.0\u2013\u22120.4)", -1.2, None, -2.0, -0.4),
        ("4.2*", 4.2, None, None, None),
        ("4.2\u2020", 4.2, None, None, None),
        ("0.5–4.0", None, None, 0.5, 4.0),
    ],
)
def test_cell_syntaxes(text, value, deviation, low, high) -> None:
    cv = parse_cell(text)
    assert cv is not None
    assert (cv.value, cv.deviation, cv.low, cv.high) == (value, deviation, low, high)


@pytest.mark.parametrize(
    "text",
    [
        "NA",
        "N/A",
        "–",
        "-",
        "—",
        "ND",
        "n.d.",
        "BLQ",
        "BQL",
        "<LLOQ",
        "< LLOQ",
        "NC",
        "not determined",
        "",
        "Healthy",
        "1,5",
    ],
)
def test_cells_without_a_value(text: str) -> None:
    assert parse_cell(text) is None


def test_comparator_is_kept() -> None:
    cv = parse_cell("<0.05")
    assert (cv.value, cv.comparator) == (0.05, "<")


@pytest.mark.parametrize(
    ("text", "statistic", "dispersion"),
    [
        ("mean ± SD", "mean", "SD"),
        ("Values are mean (SD).", "mean", "SD"),
        ("arithmetic mean ± standard deviation", "mean", "SD"),
        ("mean ± SEM", "mean", "SE"),
        ("Data are geometric mean (CV%)", "geometric_mean", "CV"),
        ("geometric mean (%CV)", "geometric_mean", "CV"),
        ("Median (range).", "median", "range"),
        ("Median (min–max).", "median", "range"),
        ("median [interquartile range]", "median", "IQR"),
        ("Median [IQR]", "median", "IQR"),
        ("geometric mean (90% CI)", "geometric_mean", "90% CI"),
        ("Pharmacokinetic parameters", None, None),
    ],
)
def test_statistic_phrases(text: str, statistic, dispersion) -> None:
    spec = statistic_in(text)
    assert (spec.statistic, spec.dispersion) == (statistic, dispersion)


@pytest.mark.parametrize(
    ("text", "name", "unit"),
    [
        ("Cmax (ng/mL)", "Cmax", "ng/mL"),
        ("Cmax [ng/mL]", "Cmax", "ng/mL"),
        ("Cmax, µg/mL", "Cmax", "µg/mL"),
        ("AUC(0–24) (mg·h/L)", "AUC(0–24)", "mg·h/L"),
        ("Tmax (h), median (range)", "Tmax", "h"),
        ("Half-life", "Half-life", None),
    ],
)
def test_name_and_unit_of_a_label(text: str, name: str, unit) -> None:
    assert split_name_unit(text) == (name, unit)


# ------------------------------------------------------------------------- grids and markup


def test_inline_markup_becomes_text_and_footnote_markers_are_dropped() -> None:
    cell = etree.fromstring(
        '<td>C<sub>max</sub><xref ref-type="table-fn" rid="fn1"><sup>a</sup></xref> '
        "(mg/L)<sup>b</sup></td>"
    )
    assert cell_text(cell) == ("Cmax (mg/L)", ("fn1", "b"))
    assert (
        cell_text(etree.fromstring("<td>AUC<sub>0–∞</sub> (<italic>µ</italic>g·h/mL)</td>"))[0]
        == "AUC0–∞ (µg·h/mL)"
    )
    # a superscript exponent is text, a trailing plain symbol is a marker
    assert cell_text(etree.fromstring("<td>BSA (m<sup>2</sup>)</td>")) == ("BSA (m2)", ())
    assert cell_text(etree.fromstring("<td>T<sub>max</sub>, h*</td>")) == ("Tmax, h", ("*",))


def test_rowspan_and_colspan_are_expanded_with_their_origin() -> None:
    table = etree.fromstring(
        "<table><thead>"
        '<tr><th rowspan="2">P</th><th colspan="2">A (n = 3)</th><th>B</th></tr>'
        "<tr><th>D1</th><th>D7</th><th>D1</th></tr></thead>"
        '<tbody><tr><td rowspan="2">CL</td><td>1</td><td colspan="2">2</td></tr>'
        "<tr><td>3</td><td>4</td></tr></tbody></table>"
    )
    head, body = rows_of(table)
    hgrid = expand(head, "X", header=True)
    bgrid = expand(body, "X", header=False)
    assert [[c.text for c in r] for r in hgrid] == [
        ["P", "A (n = 3)", "A (n = 3)", "B"],
        ["P", "D1", "D7", "D1"],
    ]
    assert [[c.text for c in r] for r in bgrid] == [["CL", "1", "2", "2"], ["CL", "3", "4", ""]]
    assert bgrid[0][3].origin == (0, 2) and bgrid[1][0].origin == (0, 0)


def test_a_value_under_a_colspan_is_read_once() -> None:
    t = _wrap(
        "<table><thead><tr><th>Parameter</th><th>Day 1</th><th>Day 7</th></tr></thead><tbody>"
        "<tr><td>Cmax (mg/L)</td><td>4.0</td><td>5.0</td></tr>"
        '<tr><td>Tlag (h)</td><td colspan="2">0.5</td></tr>'
        "<tr><td>AUC (mg·h/L)</td><td>40</td><td>50</td></tr></tbody></table>"
    )
    ms = extract_table(t, "1").measurements
    assert [(m.parameter, m.value, m.col) for m in ms if m.parameter == "Tlag"] == [
        ("Tlag", 0.5, 1)
    ]


@pytest.mark.parametrize("bad", ['rowspan="two"', 'colspan="-1"', 'rowspan="100000"'])
def test_bad_spans_raise(bad: str) -> None:
    table = etree.fromstring(f"<table><tr><td {bad}>x</td></tr></table>")
    with pytest.raises(TableError, match="table X"):
        expand(rows_of(table)[1], "X", header=False)


def test_multi_row_headers_are_joined() -> None:
    t = _table("pmc_multihead", "t1")
    ms = extract_table(t, "39000003").measurements
    assert ms[0].group_label == "1 g q8h (n = 10) / Day 1"
    assert ms[0].evidence == "Table 1: Cmax | 1 g q8h (n = 10) / Day 1 | 45.2 (10.1)"
    assert len(t.header) == 2 and t.grid_text()[1][:3] == ("Parameter", "Unit", "Day 1")


# -------------------------------------------------------------------------------- footnotes


def test_row_footnote_applies_to_its_row_only() -> None:
    ms = extract_table(_table("pmc_rows", "T2"), "39000001").measurements
    stats = {m.parameter: (m.statistic, m.deviation_type) for m in ms}
    assert stats["Tmax"] == ("median", "range")
    assert stats["Cmax"] == ("geometric_mean", "CV")
    assert stats["CL/F"] == ("geometric_mean", "CV")


def test_plain_symbol_footnote_and_general_note() -> None:
    ms = extract_table(_table("pmc_headings", "T2"), "39000004").measurements
    tmax = [m for m in ms if m.parameter == "Tmax"]
    cmax = [m for m in ms if m.parameter == "Cmax"]
    assert {(m.statistic, m.deviation_type) for m in tmax} == {("median", "range")}
    assert {(m.statistic, m.deviation_type) for m in cmax} == {("mean", "SD")}
    assert tmax[0].value_low == 0.5 and tmax[0].value_high == 2.0


def test_footnote_linked_by_label_without_xref() -> None:
    t = _wrap(
        "<table><thead><tr><th>Parameter</th><th>Value</th></tr></thead><tbody>"
        "<tr><td>C<sub>max</sub> (mg/L)</td><td>4.0 (1.0)</td></tr>"
        "<tr><td>T<sub>max</sub> (h)<sup>b</sup></td><td>1.0 (0.5–2.0)</td></tr>"
        "</tbody></table>",
        foot="<fn><p><sup>b</sup>Median (range).</p></fn><fn><p>Mean (SD).</p></fn>",
    )
    ms = {m.parameter: m for m in extract_table(t, "1").measurements}
    assert (ms["Tmax"].statistic, ms["Tmax"].deviation_type) == ("median", "range")
    assert (ms["Cmax"].statistic, ms["Cmax"].deviation_type) == ("mean", "SD")
    assert ms["Cmax"].deviation == 1.0


# ----------------------------------------------------------------------------- extraction


def test_p_value_ratio_and_difference_columns_are_not_groups() -> None:
    t = _wrap(
        "<table><thead><tr><th>Parameter</th><th>A</th><th>B</th><th>Difference</th>"
        "<th>Ratio B/A</th><th><italic>P</italic>-value</th></tr></thead><tbody>"
        "<tr><td>CL (L/h)</td><td>4.0</td><td>5.0</td><td>1.0</td><td>1.25</td><td>0.03</td></tr>"
        "<tr><td>V (L)</td><td>40</td><td>50</td><td>10</td><td>1.25</td><td>0.2</td></tr>"
        "</tbody></table>"
    )
    ms = extract_table(t, "1").measurements
    assert sorted({m.group_label for m in ms}) == ["A", "B"]
    assert len(ms) == 4


def test_n_from_an_n_row_and_canonical_deviation() -> None:
    t = _wrap(
        "<table><thead><tr><th>Parameter</th><th>Adults</th><th>Children</th></tr></thead><tbody>"
        "<tr><td>n</td><td>12</td><td>9</td></tr>"
        "<tr><td>CL (mL/min)</td><td>100 ± 20</td><td>50 ± 10</td></tr>"
        "<tr><td>V<sub>ss</sub> (L)</td><td>40 ± 8</td><td>20 ± 4</td></tr>"
        "</tbody></table>",
        caption="Pharmacokinetics (mean ± SD)",
    )
    ms = extract_table(t, "1").measurements
    cl = next(m for m in ms if m.parameter == "CL" and m.group_label == "Adults")
    assert cl.n == 12 and cl.unit == "L/h"
    assert math.isclose(cl.value_canonical, 6.0) and math.isclose(cl.deviation_canonical, 1.2)
    assert {m.n for m in ms if m.group_label == "Children"} == {9}


def test_table_measurements_carry_cell_provenance() -> None:
    art = _article("pmc_columns")
    [res] = [
        r for r in extract_tables(art.tables, art.pmid, art.pmcid) if r.table.table_id == "tab2"
    ][:1]
    m = res.measurements[0]
    assert (m.source, m.pmcid, m.table_id, m.table_label, m.section) == (
        "table",
        "PMC9000002",
        "tab2",
        "Table 2",
        "Results > Pharmacokinetics",
    )
    assert m.sentence_index is None and m.parameter_start is None
    assert (m.row, m.col, m.value_text) == (0, 2, "1,245 ± 310")
    assert m.evidence == "Table 2: 2 to <6 years | Cmax (ng/mL) | 1,245 ± 310"
    assert res.table.kind == "pk" and res.table.header_rows == 1
    assert res.table.grid[1][2] == "1,245 ± 310"
    assert res.table.footnotes == ("ND, not determined (too few samples in the terminal phase).",)


@pytest.mark.parametrize("stem", STEMS)
def test_each_layout_matches_its_gold(stem: str) -> None:
    gold = load_gold(DATA / f"{stem}.gold.json")
    art = _article(stem)
    results = extract_tables(art.tables, art.pmid, art.pmcid)
    got = {
        (
            r.table.table_id,
            m.row,
            m.col,
            m.parameter,
            round(m.value, 6),
            m.unit,
            m.n,
            m.statistic,
            m.deviation_type,
        )
        for r in results
        for m in r.measurements
    }
    want = {
        (
            g.table_id,
            g.row,
            g.col,
            g.parameter,
            round(g.value, 6),
            g.unit,
            g.n,
            g.statistic,
            g.dispersion,
        )
        for g in gold.records
    }
    assert got == want
    assert {r.table.table_id: r.table.kind for r in results} == gold.kinds


def test_orientation_of_the_layouts() -> None:
    data = {}
    for stem in STEMS:
        gold = __import__("json").loads((DATA / f"{stem}.gold.json").read_text())
        for t in _article(stem).tables:
            if gold["tables"][t.table_id]["kind"] == "pk":
                data[(stem, t.table_id)] = (orientation(t), gold["tables"][t.table_id]["layout"])
    assert data and all(got == want for got, want in data.values())


def test_demographic_and_other_tables_give_no_measurements() -> None:
    for stem, tid, kind in [
        ("pmc_rows", "T1", "demographic"),
        ("pmc_headings", "T1", "demographic"),
        ("pmc_columns", "tab4", "other"),
    ]:
        t = _table(stem, tid)
        assert classify(t) == kind
        assert extract_table(t, "1").measurements == ()


def test_text_only_table_is_other() -> None:
    t = _wrap(
        "<table><tr><th>Parameter</th><th>Definition</th></tr>"
        "<tr><td>CL</td><td>clearance</td></tr><tr><td>Vss</td><td>volume</td></tr></table>"
    )
    assert classify(t) == "other"


def test_fixture_scores_reach_the_targets() -> None:
    golds, found, kinds = [], [], {}
    for stem in [*STEMS, "pmc_withheld"]:
        golds.append(load_gold(DATA / f"{stem}.gold.json"))
        art = _article(stem)
        for r in extract_tables(art.tables, art.pmid, art.pmcid):
            kinds[(art.pmid, r.table.table_id)] = r.table.kind
            found.extend(r.measurements)
    s = score(golds, found, kinds)
    assert s.tables >= 8
    assert s.f1 >= 0.95, s.misses
    assert s.share(s.all_ok) >= 0.90, s.misses
    assert s.classification_accuracy == 1.0, s.misses


def test_separate_sd_and_min_max_columns_belong_to_their_value_column() -> None:
    ms = extract_table(_table("pmc_split", "tbl2"), "39000008").measurements
    cl = {m.statistic: m for m in ms if m.parameter == "CL"}
    assert set(cl) == {"mean", "median"}  # SD, Min and Max columns give no measurements
    assert (cl["mean"].value, cl["mean"].deviation, cl["mean"].deviation_type) == (2.1, 0.6, "SD")
    assert (cl["median"].value_low, cl["median"].value_high) == (1.1, 3.4)
    assert math.isclose(cl["mean"].value_canonical, 2.1 * 60 / 1000)
    assert {m.unit_text for m in ms if m.parameter == "Vss"} == {"L/kg"}  # from the Units column


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.,±()[]–−-<>= %*abNDLOQ ", max_size=24))
def test_parse_cell_never_raises(text: str) -> None:
    cv = parse_cell(text)
    if cv is not None:
        numbers = [x for x in (cv.value, cv.deviation, cv.low, cv.high) if x is not None]
        assert numbers and all(math.isfinite(x) for x in numbers)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_extraction_survives_shuffled_and_blanked_cells(data: st.DataObject) -> None:
    """Any table made of the fixtures' cell texts classifies and extracts without raising."""
    texts = sorted(
        {c.text for stem in STEMS for t in _article(stem).tables for r in t.body for c in r}
    )
    n_rows = data.draw(st.integers(1, 5))
    n_cols = data.draw(st.integers(1, 5))
    cells = data.draw(
        st.lists(st.sampled_from(["", *texts]), min_size=n_rows * n_cols, max_size=n_rows * n_cols)
    )
    head = "".join(f"<th>{escape(x)}</th>" for x in cells[:n_cols])
    body = "".join(
        "<tr>"
        + "".join(f"<td>{escape(x)}</td>" for x in cells[r * n_cols : (r + 1) * n_cols])
        + "</tr>"
        for r in range(n_rows)
    )
    t = _wrap(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    result = extract_table(t, "1")
    assert result.table.kind in ("pk", "demographic", "other")
    for m in result.measurements:
        assert m.source == "table" and 0 <= m.row < n_rows and 0 <= m.col < n_cols


def test_a_header_written_with_td_is_found() -> None:
    t = _wrap(
        "<table><tbody><tr><td>Parameter</td><td>Adults (n = 8)</td></tr>"
        "<tr><td>CL (L/h)</td><td>4.1 ± 0.9</td></tr>"
        "<tr><td>V<sub>ss</sub> (L)</td><td>38 ± 7</td></tr></tbody></table>",
        caption="Pharmacokinetic parameters (mean ± SD)",
    )
    assert len(t.header) == 1
    ms = extract_table(t, "1").measurements
    assert [(m.parameter, m.value, m.n, m.row) for m in ms] == [
        ("CL", 4.1, 8, 0),
        ("Vss", 38.0, 8, 1),
    ]
