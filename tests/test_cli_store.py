"""`pkharvest query|export|show` through Typer's CliRunner, on real DuckDB files."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from store_articles import full_text_result
from typer.testing import CliRunner

from pkharvest.cli import app
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
from pkharvest.store import Store, list_queries

runner = CliRunner()

SENTENCES = (
    "Midazolam clearance was 25.5 L/h [range 12-40].",
    "The median volume of distribution of midazolam was 80 L.",
    "Patients were adults.",
)


def build_store(db: Path) -> None:
    """One article (PMID 42) whose measurements and mentions are located by searching the text,
    plus a second article of another drug."""
    article = Article("42", "Midazolam in adults", (AbstractSection(" ".join(SENTENCES)),))
    sentences, mentions, measurements = [], [], []
    start = 0
    for i, text in enumerate(SENTENCES):
        sentences.append(
            ScoredSentence(Sentence("42", i, text, start, start + len(text)), 0.9 - 0.4 * i, i < 2)
        )
        start += len(text) + 1
    specs = [
        (0, "clearance", "25.5", "L/h", "CL", "L/h", 25.5, "mean"),
        (1, "volume of distribution", "80", "L", "V", "L", 80.0, "median"),
    ]
    for idx, ptext, vtext, utext, param, unit, canonical, mtype in specs:
        text = SENTENCES[idx]
        ps, vs = text.index(ptext), text.index(vtext)
        us = text.index(" " + utext, vs) + 1
        for label, s, t in (("PK", ps, ptext), ("VALUE", vs, vtext), ("UNITS", us, utext)):
            mentions.append(Mention("42", idx, Entity(label, s, s + len(t), t)))
        measurements.append(
            Measurement(
                "42",
                idx,
                ptext,
                ps,
                ps + len(ptext),
                vtext,
                vs,
                vs + len(vtext),
                float(vtext),
                unit_text=utext,
                parameter=param,
                unit=unit,
                value_canonical=canonical,
                measurement_type=mtype,
                drug="midazolam",
                flags=["checked [by hand]"] if idx == 1 else [],
            )
        )
    other_text = "Digoxin clearance was 7 L/h."
    other = Article("43", "Digoxin", (AbstractSection(other_text),))
    o_meas = Measurement(
        "43", 0, "clearance", 8, 17, "7", 22, 23, 7.0, unit_text="L/h", parameter="CL",
        unit="L/h", value_canonical=7.0, drug="digoxin",
    )  # fmt: skip
    with Store(db) as store:
        store.write_batch(
            [
                ArticleResult(article, sentences, mentions, measurements),
                ArticleResult(
                    other,
                    [ScoredSentence(Sentence("43", 0, other_text, 0, len(other_text)))],
                    [],
                    [o_meas],
                ),
            ],
            store.start_run(None, model_version="m1"),
            "m1",
        )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "pk.duckdb"
    build_store(path)
    return path


@pytest.mark.parametrize("command", ["query", "export", "show"])
def test_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--db" in result.output
    assert "Usage" in result.output


def test_query_json_matches_the_library(db: Path) -> None:
    result = runner.invoke(app, ["query", "parameter_summary", "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    with Store(db, read_only=True) as store:
        columns, rows = store.run_query("parameter_summary", {})
    assert got == [dict(zip(columns, r, strict=True)) for r in rows]
    # the V value carries a flag: left out of the summary unless flagged=1
    assert {(r["drug"], r["parameter"]) for r in got} == {("midazolam", "CL"), ("digoxin", "CL")}
    result = runner.invoke(app, ["query", "parameter_summary", "--db", str(db), "--format", "json",
                                 "-p", "flagged=1"])
    assert result.exit_code == 0, result.output
    every = {(r["drug"], r["parameter"]): r for r in json.loads(result.stdout)}
    assert set(every) == {("midazolam", "CL"), ("midazolam", "V"), ("digoxin", "CL")}
    assert every[("midazolam", "V")]["n_flagged"] == 1


def test_query_csv_with_params(db: Path) -> None:
    result = runner.invoke(
        app,
        ["query", "evidence", "--db", str(db), "-p", "drug=MIDAZOLAM", "--param",
         "parameter=clearance", "--format", "csv"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1
    (row,) = rows
    assert row["sentence"] == SENTENCES[0]
    assert row["pubmed_url"] == "https://pubmed.ncbi.nlm.nih.gov/42/"
    assert float(row["value_canonical"]) == 25.5
    assert "--param parameter 'clearance': parameter key CL" in result.stderr


def test_query_table_turns_to_row_blocks_when_wider_than_the_console(db: Path) -> None:
    args = ["query", "parameter_summary", "--db", str(db)]
    narrow = runner.invoke(app, args, env={"COLUMNS": "60"})
    assert narrow.exit_code == 0, narrow.output
    assert "-[ row 1 ]-" in narrow.stdout and "┃" not in narrow.stdout
    lines = narrow.stdout.splitlines()
    # every column keeps its whole name, one "column  value" line each
    for column in ("measurement_type", "n_articles", "geo_mean", "n_flagged"):
        assert any(line.split()[:1] == [column] for line in lines), column
    assert any(line.split()[:2] == ["drug", "midazolam"] for line in lines)
    wide = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert wide.exit_code == 0 and "┃ drug" in wide.stdout and "-[ row" not in wide.stdout


def test_query_table_and_listing(db: Path) -> None:
    result = runner.invoke(app, ["query", "runs", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "m1" in result.stdout and "1 rows" in result.stdout
    listing = runner.invoke(app, ["query"])
    assert listing.exit_code == 0, listing.output
    for name in ("parameter_summary", "evidence", "needs_review"):
        assert name in listing.stdout


def test_query_listing_shows_whole_descriptions() -> None:
    listing = runner.invoke(app, ["query"], env={"COLUMNS": "80"})
    assert listing.exit_code == 0, listing.output
    flat = " ".join(listing.stdout.split())
    specs = list_queries()
    needs_review = next(s for s in specs if s.name == "needs_review")
    assert "(e.g. a unit that does not fit the parameter)" in needs_review.description
    for spec in specs:  # every description whole, past "e.g." and "i.e."
        assert " ".join(spec.description.split()) in flat, spec.name
    assert max(len(line) for line in listing.stdout.splitlines()) <= 80


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["query", "evidence", "-p", "drug=x"], 2, "--param"),
        (["query", "evidence", "-p", "drug", "-p", "parameter=CL"], 2, "key=value"),
        (["query", "evidence", "-p", "drug=x", "-p", "parameter=CL", "-p", "z=1"], 2, "z"),
        (["query", "evidence", "-p", "drug=x", "-p", "parameter=clearence"], 2,
         "--param parameter: unknown parameter 'clearence'; nearest keys: CL"),
        (["export", "--out", "{tmp}/x.csv", "--format", "csv", "--parameter", "clearence"], 2,
         "--parameter: unknown parameter 'clearence'; nearest keys: CL"),
        (["query", "no_such_query"], 2, "no_such_query"),
        (["query", "runs", "--format", "xml"], 2, "--format"),
        (["export", "--out", "{tmp}/x.xlsx", "--format", "xlsx"], 2, "--format"),
        (["export", "--out", "{tmp}/none/x.csv", "--format", "csv"], 2, "--out"),
        (["show", "99999"], 2, "PMID: 99999 is not in store"),
    ],
)
def test_usage_errors_are_one_line(
    db: Path, tmp_path: Path, args: list[str], code: int, needle: str
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = runner.invoke(app, [*args, "--db", str(db)])
    assert result.exit_code == code, result.output
    assert needle in result.output
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["query", "runs"], ["show", "42"], ["export", "--out"]])
def test_missing_and_corrupt_store(tmp_path: Path, command: list[str]) -> None:
    if command[0] == "export":
        command = [*command, str(tmp_path / "out.csv"), "--format", "csv"]
    missing = tmp_path / "missing.duckdb"
    result = runner.invoke(app, [*command, "--db", str(missing)])
    assert result.exit_code == 1
    assert str(missing) in result.stderr and "no such store" in result.stderr
    assert not missing.exists()
    corrupt = tmp_path / "corrupt.duckdb"
    corrupt.write_bytes(b"\x00" * 8 + b"JUNK" + b"\x01" * 5000)
    result = runner.invoke(app, [*command, "--db", str(corrupt)])
    assert result.exit_code == 1
    assert str(corrupt) in result.stderr and "not a DuckDB store file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_export_parquet_and_csv(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.parquet"
    result = runner.invoke(app, ["export", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Exported 3 measurement(s)" in result.stdout
    table = pq.read_table(out)
    assert sorted(table.column("pmid").to_pylist()) == ["42", "42", "43"]
    assert set(table.column("sentence").to_pylist()) == {
        SENTENCES[0], SENTENCES[1], "Digoxin clearance was 7 L/h."
    }  # fmt: skip
    out_csv = tmp_path / "mid.csv"
    result = runner.invoke(
        app,
        ["export", "--db", str(db), "--out", str(out_csv), "--format", "csv", "--drug",
         "Midazolam", "--parameter", "volume", "--parameter", "clearance"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with out_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["parameter"] for r in rows) == ["CL", "V"]  # names the vocabulary knows
    assert "--parameter 'volume': parameter key V" in result.stderr
    assert {r["title"] for r in rows} == {"Midazolam in adults"}


def test_show_renders_sentences_mentions_and_measurements(db: Path) -> None:
    result = runner.invoke(app, ["show", "42", "--db", str(db)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Midazolam in adults" in out
    assert "https://pubmed.ncbi.nlm.nih.gov/42/" in out
    for text in SENTENCES:
        assert text in out  # brackets in the text are printed, not read as markup
    assert "(filtered out)" in out  # the third sentence did not pass the classifier
    lines = out.splitlines()
    cl = next(i for i, line in enumerate(lines) if "clearance (CL) = 25.5 L/h" in line)
    vd = next(i for i, line in enumerate(lines) if "volume of distribution (V) = 80" in line)
    assert lines[cl - 1].strip() == SENTENCES[0]  # listed right below its sentence
    assert lines[vd - 1].strip() == SENTENCES[1]
    assert "checked [by hand]" in lines[vd]


def test_show_colours_entities_by_label(db: Path) -> None:
    from pkharvest.cli.commands_store import LABEL_STYLES, _sentence_text

    with Store(db, read_only=True) as store:
        view = store.article_view("42")
    assert view is not None
    sentence = view.sentences[0]
    rendered = _sentence_text(sentence.text, sentence.mentions)
    styled = {(s.start, s.end): str(s.style) for s in rendered.spans}
    assert len(sentence.mentions) == 3
    for e in sentence.mentions:
        assert styled[(e.start, e.end)] == LABEL_STYLES[e.label]
    assert len({LABEL_STYLES[e.label] for e in sentence.mentions}) == 3


def test_store_held_by_a_writer_exits_3(db: Path) -> None:
    holder = textwrap.dedent(
        f"""
        import sys
        from pkharvest.store import Store
        with Store({str(db)!r}):
            print("held", flush=True)
            sys.stdin.readline()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        result = runner.invoke(app, ["query", "runs", "--db", str(db)])
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
    assert result.exit_code == 3, result.output
    assert "in use by another process" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    after = runner.invoke(app, ["query", "runs", "--db", str(db)])
    assert after.exit_code == 0, after.output


def test_brackets_in_user_text_print_as_written(db: Path, tmp_path: Path) -> None:
    # rich would read "[range 12-40]" as a style tag and drop it, and "[/x]" as a closing tag
    # and crash: the consoles print text as it is
    sql = tmp_path / "brackets.sql"
    sql.write_text("SELECT text FROM sentences WHERE text LIKE '%[range%'", encoding="utf-8")
    result = runner.invoke(app, ["query", str(sql), "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "25.5 L/h [range 12-40]." in result.stdout
    shown = runner.invoke(app, ["show", "42", "--db", str(db)], env={"COLUMNS": "200"})
    assert "[range 12-40]" in shown.stdout and "checked [by hand]" in shown.stdout
    missing = runner.invoke(app, ["query", "[/x]", "--db", str(db)])
    assert missing.exit_code == 2
    assert "[/x]" in missing.output and "Traceback" not in missing.output
    assert len(missing.output.strip().splitlines()) == 1
    units = runner.invoke(app, ["units", "[mg]/L", "[/]"], env={"COLUMNS": "200"})
    assert units.exit_code == 0, units.output
    assert "[mg]/L" in units.stdout and "[/]" in units.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe SELECT 1", "not UTF-8 text"),
        (b"", "no SQL statement"),
        (b"-- a description only\n", "no SQL statement"),
        (b"SELECT 1; SELECT 2", "2 SQL statements"),
    ],
)
def test_query_file_that_is_not_one_statement_is_a_usage_error(
    db: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    sql = tmp_path / "q.sql"
    sql.write_bytes(content)
    result = runner.invoke(app, ["query", str(sql), "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"Error: QUERY: query file {sql}: {message}"
        + ("" if "statements" not in message else "; a query file holds one")
    ]


def test_show_renders_a_stored_table_and_its_measurements(tmp_path: Path) -> None:
    db = tmp_path / "ft.duckdb"
    with Store(db) as store:
        store.write_batch([full_text_result()], None, "v2")
    result = runner.invoke(app, ["show", "100", "--db", str(db)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "[Table 2 Pharmacokinetic parameters of midazolam] (pk)" in out
    assert "[Table 1 Demographics] (demographic)" in out
    assert "12.3 ± 4.5" in out and "Values are mean ± SD." in out
    line = next(x for x in out.splitlines() if "row 2, col 1" in x)
    assert "CL (clearance) = 12.3 ± 4.5 L/h" in line
    assert "group 1 g q8h (n = 10) / Day 1" in line
