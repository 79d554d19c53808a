"""Reading Prodigy JSONL corpora: the shared corpus, malformed lines, views, tokenisation."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.corpus.reader import (
    apply_view,
    corpus_stats,
    read_corpus,
    read_corpus_report,
    tokenize,
)
from pkharvest.corpus.records import ENTITY_LABELS
from pkharvest.errors import CorpusError, UsageError

README_LABEL_COUNTS = {"PK": 315, "VALUE": 567, "UNITS": 377, "RANGE": 52, "COMPARE": 14}


# --- a small hand-made corpus (our own sentences; shared material is never copied) -----------

TEXT = "The clearance was 3.5 L/h in adults."


def _line(text: str = TEXT, *, with_tokens: bool = True, **over: Any) -> dict[str, Any]:
    toks = tokenize(text)
    by_text = {t.text: t for t in toks}
    cl, val, unit_l, unit_h = by_text["clearance"], by_text["3"], by_text["L"], by_text["h"]
    pk = {"start": cl.start, "end": cl.end, "token_start": cl.id, "token_end": cl.id,
          "label": "PK"}
    value = {"start": val.start, "end": val.start + 3, "token_start": val.id,
             "token_end": val.id + 2, "label": "VALUE"}
    units = {"start": unit_l.start, "end": unit_h.end, "token_start": unit_l.id,
             "token_end": unit_h.id, "label": "UNITS"}
    obj: dict[str, Any] = {
        "text": text,
        "spans": [pk, value, units],
        "relations": [
            {"head": pk["token_end"], "child": value["token_end"], "head_span": pk,
             "child_span": value, "label": "C_VAL"},
            {"head": units["token_end"], "child": value["token_end"], "head_span": units,
             "child_span": value, "label": "RELATED"},
        ],
        "metadata": {"pmid": 12345, "pmc": "PMC999", "SID": 7},
        "meta": {"url": "https://example.org/a"},
        "answer": "accept",
    }
    if with_tokens:
        obj["tokens"] = [{"text": t.text, "start": t.start, "end": t.end, "id": t.id,
                          "ws": t.ws} for t in toks]
    obj.update(over)
    return obj


def _write(path: Path, objs: list[Any]) -> Path:
    lines = [o if isinstance(o, str) else json.dumps(o, ensure_ascii=False) for o in objs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_hand_made_line(tmp_path: Path) -> None:
    p = _write(tmp_path / "c.jsonl", [_line()])
    [ex] = read_corpus(p)
    assert ex.text == TEXT
    assert [ex.text[s.start:s.end] for s in ex.spans] == ["clearance", "3.5", "L/h"]
    assert [s.label for s in ex.spans] == ["PK", "VALUE", "UNITS"]
    assert {(r.head.label, r.child.label, r.label) for r in ex.relations} == {
        ("PK", "VALUE", "C_VAL"), ("UNITS", "VALUE", "RELATED")}
    assert ex.pmid == "12345" and ex.pmc == "999" and ex.sentence_id == "7"
    assert ex.article_id == "12345"
    assert ex.source == f"{p}:1"
    assert ex.metadata["url"] == "https://example.org/a"


def test_shared_corpus_matches_readme(corpus_path: Path) -> None:
    examples = read_corpus(corpus_path)
    stats = corpus_stats(examples)
    assert stats.sentences == 401
    assert stats.positives == 211
    assert stats.negatives == 190
    assert stats.label_counts == README_LABEL_COUNTS
    raw_relations = sum(len(json.loads(line)["relations"]) for line in corpus_path.open())
    assert sum(stats.relation_counts.values()) == raw_relations
    for ex in examples:
        assert ex.tokens, ex.source
        for s in ex.spans:
            assert ex.tokens[s.token_start].start == s.start
            assert ex.tokens[s.token_end].end == s.end
        for r in ex.relations:
            assert r.head in ex.spans and r.child in ex.spans
        assert ex.pmid is not None


def test_tokenizer_matches_published_tokens(corpus_path: Path) -> None:
    examples = read_corpus(corpus_path)
    same = sum(
        [(t.text, t.start, t.end, t.ws) for t in tokenize(ex.text)]
        == [(t.text, t.start, t.end, t.ws) for t in ex.tokens]
        for ex in examples
    )
    assert same >= 0.99 * len(examples)


def test_tokenize_examples() -> None:
    toks = tokenize("AUC0-∞ was 12.5 µg·h/mL  (patient's)")
    assert [t.text for t in toks][:6] == ["AUC", "0", "-", "∞", "was", "12"]
    assert "'s" in [t.text for t in toks]
    assert " " in [t.text for t in toks]  # the extra space is a token, like spaCy
    for t in toks:
        assert t.text == "AUC0-∞ was 12.5 µg·h/mL  (patient's)"[t.start:t.end]
    assert [t.id for t in toks] == list(range(len(toks)))


def test_lines_without_tokens_are_tokenised(tmp_path: Path) -> None:
    p = _write(tmp_path / "c.jsonl", [_line(with_tokens=False)])
    [ex] = read_corpus(p)
    assert [t.text for t in ex.tokens][:3] == ["The", "clearance", "was"]
    assert len(ex.spans) == 3


def test_token_indices_recomputed_when_tokens_missing(tmp_path: Path) -> None:
    obj = _line(with_tokens=False)
    for sp in obj["spans"]:  # indices of some other tokenisation
        sp["token_start"] += 100
        sp["token_end"] += 100
    [ex] = read_corpus(_write(tmp_path / "c.jsonl", [obj]))
    assert [ex.text[s.start:s.end] for s in ex.spans] == ["clearance", "3.5", "L/h"]
    assert [(s.token_start, s.token_end) for s in ex.spans] == [(1, 1), (3, 5), (6, 8)]
    assert len(ex.relations) == 2


def test_spans_without_token_indices_are_aligned(tmp_path: Path) -> None:
    obj = _line()
    for s in obj["spans"]:
        del s["token_start"], s["token_end"]
    [ex] = read_corpus(_write(tmp_path / "c.jsonl", [obj]))
    assert ex.spans[0].token_start == ex.spans[0].token_end == 1


def test_rejected_and_blank_lines_skipped(tmp_path: Path) -> None:
    p = _write(tmp_path / "c.jsonl", [_line(), "", _line(answer="reject"),
                                      _line(answer="ignore"), _line(spans=[], relations=[])])
    report = read_corpus_report(p)
    assert len(report.examples) == 2
    assert report.rejected == 2
    assert report.examples[1].source == f"{p}:5"
    assert report.examples[1].spans == [] and report.examples[1].relations == []


def _bad_cases() -> list[tuple[str, Any, str]]:
    pk_outside = _line()
    pk_outside["spans"][0] = {**pk_outside["spans"][0], "end": 999}
    off_token = _line()
    off_token["spans"][0] = {**off_token["spans"][0], "start": off_token["spans"][0]["start"] + 1}
    unknown = _line()
    unknown["spans"][0] = {**unknown["spans"][0], "label": "DRUG"}
    dangling = _line()
    dangling["relations"][0]["head_span"] = {"start": 0, "end": 3, "label": "PK"}
    bad_rel_label = _line()
    bad_rel_label["relations"][0]["label"] = "CAUSES"
    wrong_tok_idx = _line()
    wrong_tok_idx["spans"][0] = {**wrong_tok_idx["spans"][0], "token_start": 0}
    overlap = _line()
    overlap["spans"].append({**overlap["spans"][1], "label": "RANGE"})
    tok_text = _line()
    tok_text["tokens"][0] = {**tok_text["tokens"][0], "text": "A"}
    no_text = _line()
    del no_text["text"]
    return [
        ("bad json", '{"text": "x", ', "invalid JSON"),
        ("not object", "[1, 2]", "expected a JSON object"),
        ("missing text", no_text, "missing 'text'"),
        ("span outside", pk_outside, "outside the text"),
        ("off token", off_token, "not on token boundaries"),
        ("unknown label", unknown, "unknown label 'DRUG'"),
        ("dangling relation", dangling, "points to a missing span"),
        ("relation label", bad_rel_label, "unknown label 'CAUSES'"),
        ("token index", wrong_tok_idx, "token_start"),
        ("overlap", overlap, "spans overlap"),
        ("token text", tok_text, "differs from the text"),
        ("spans not list", _line(spans={"a": 1}), "'spans' is not a list"),
    ]


@pytest.mark.parametrize(("name", "bad", "message"), _bad_cases(),
                         ids=[c[0] for c in _bad_cases()])
def test_malformed_line_names_file_and_line(tmp_path: Path, name: str, bad: Any,
                                            message: str) -> None:
    p = _write(tmp_path / "bad.jsonl", [_line(), _line(), bad, _line()])
    with pytest.raises(CorpusError) as info:
        read_corpus(p)
    err = info.value
    assert err.line == 3 and err.path == str(p)
    assert str(err).startswith(f"{p}:3: ")
    assert message in str(err)
    assert "\n" not in str(err)


def test_skip_mode_logs_and_reports(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cases = _bad_cases()
    p = _write(tmp_path / "bad.jsonl", [_line()] + [c[1] for c in cases] + [_line()])
    with caplog.at_level(logging.WARNING, logger="pkharvest.corpus.reader"):
        report = read_corpus_report(p, errors="skip")
    assert len(report.examples) == 2
    assert [e.line for e in report.skipped] == list(range(2, 2 + len(cases)))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(cases)
    assert read_corpus(p, errors="skip") == report.examples


def test_bad_error_mode(tmp_path: Path) -> None:
    p = _write(tmp_path / "c.jsonl", [_line()])
    with pytest.raises(UsageError):
        read_corpus(p, errors="lenient")  # type: ignore[arg-type]


def test_custom_labels(tmp_path: Path) -> None:
    p = _write(tmp_path / "c.jsonl", [_line()])
    with pytest.raises(CorpusError, match="unknown label 'VALUE'"):
        read_corpus(p, labels=("PK", "UNITS"))


def test_missing_file_says_how_to_get_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(CorpusError) as info:
        read_corpus(missing)
    msg = str(info.value)
    assert str(missing) in msg and "not found" in msg
    assert "pkharvest corpus fetch pred" in msg and "PKHARVEST_CORPUS" in msg


def test_default_path_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PKHARVEST_CORPUS", raising=False)
    monkeypatch.setenv("PKHARVEST_SHARED", str(tmp_path / "noshared"))
    monkeypatch.setenv("PKHARVEST_CACHE", str(tmp_path / "cache"))
    with pytest.raises(CorpusError, match="no corpus given and none found"):
        read_corpus()


def test_default_path_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _write(tmp_path / "c.jsonl", [_line()])
    monkeypatch.setenv("PKHARVEST_CORPUS", str(p))
    assert len(read_corpus()) == 1


def test_folder_is_rejected_with_listing(tmp_path: Path) -> None:
    _write(tmp_path / "dev.jsonl", [_line()])
    with pytest.raises(CorpusError, match=r"is a folder.*dev\.jsonl"):
        read_corpus(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    p.write_bytes(json.dumps(_line()).encode() + b"\n" + b'{"text": "\xff\xfe"}\n')
    with pytest.raises(CorpusError, match=r":2: not UTF-8"):
        read_corpus(p)


def test_views(corpus_path: Path) -> None:
    examples = read_corpus(corpus_path)
    pk = apply_view(examples, "pk")
    assert len(pk) == len(examples)
    stats = corpus_stats(pk)
    assert stats.label_counts["PK"] == README_LABEL_COUNTS["PK"]
    assert sum(stats.label_counts.values()) == README_LABEL_COUNTS["PK"]
    assert all(not ex.relations for ex in pk)  # every relation has a non-PK end
    full = apply_view(examples, "full")
    assert corpus_stats(full) == corpus_stats(examples)
    # the input is left alone
    assert corpus_stats(examples).label_counts == README_LABEL_COUNTS


def test_view_drops_relations_losing_an_end(tmp_path: Path) -> None:
    [ex] = read_corpus(_write(tmp_path / "c.jsonl", [_line()]))
    [pk] = apply_view([ex], "pk")
    assert [s.label for s in pk.spans] == ["PK"] and pk.relations == []
    assert len(ex.relations) == 2


def test_unknown_view() -> None:
    with pytest.raises(UsageError) as info:
        apply_view([], "values")
    assert info.value.field == "view"


def test_labels_constant_unchanged() -> None:
    assert ENTITY_LABELS == ("PK", "VALUE", "UNITS", "RANGE", "COMPARE")


# --- CLI: pkharvest corpus stats ---------------------------------------------------------------

runner = CliRunner()


def test_cli_stats_shared_corpus(corpus_path: Path) -> None:
    res = runner.invoke(app, ["corpus", "stats", str(corpus_path)])
    assert res.exit_code == 0, res.output
    rows = dict(_table_rows(res.output))
    assert rows["sentences"] == "401" and rows["with spans"] == "211"
    for label, n in README_LABEL_COUNTS.items():
        assert rows[f"spans {label}"] == str(n)
    res_pk = runner.invoke(app, ["corpus", "stats", str(corpus_path), "--view", "pk"])
    rows_pk = dict(_table_rows(res_pk.output))
    assert rows_pk["spans PK"] == "315" and "spans VALUE" not in rows_pk
    assert rows_pk["relations C_VAL"] == "0"


def _table_rows(output: str) -> list[tuple[str, str]]:
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) == 2 and cells[1].isdigit():
            rows.append((cells[0], cells[1]))
    return rows


def test_cli_stats_malformed_is_one_line(tmp_path: Path) -> None:
    p = _write(tmp_path / "bad.jsonl", [_line(), '{"text": 5}'])
    res = runner.invoke(app, ["corpus", "stats", str(p)])
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert f"{p}:2:" in lines[0] and "'text' is not a string" in lines[0]
    assert "Traceback" not in res.output


def test_cli_stats_skip_bad(tmp_path: Path) -> None:
    p = _write(tmp_path / "bad.jsonl", [_line(), '{"text": 5}', _line(answer="reject")])
    res = runner.invoke(app, ["corpus", "stats", str(p), "--skip-bad"])
    assert res.exit_code == 0, res.output
    rows = dict(_table_rows(res.output))
    assert rows["sentences"] == "1"
    assert rows["malformed lines skipped"] == "1" and rows["rejected/ignored lines"] == "1"


def test_cli_stats_missing_file_and_bad_view(tmp_path: Path) -> None:
    res = runner.invoke(app, ["corpus", "stats", str(tmp_path / "none.jsonl")])
    assert res.exit_code == 1
    assert "not found" in res.output and "pkharvest corpus fetch pred" in res.output
    res = runner.invoke(app, ["corpus", "stats", str(tmp_path / "none.jsonl"), "--view", "x"])
    assert res.exit_code == 2 and "--view" in res.output
