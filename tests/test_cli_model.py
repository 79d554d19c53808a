"""`pkharvest train|evaluate|tag` through Typer's CliRunner, on a tiny corpus and model."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.model.tagger import METRICS_FILE, REQUIRED_FILES

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "model"
    res = runner.invoke(app, ["train", "--corpus", str(tiny_corpus), "--out", str(out),
                              "--epochs", "1", "--batch-size", "8", "--max-length", "64",
                              "--mention-swap", "0.5", "--augment", "0.2", "--average-last", "2",
                              "--quiet"])
    assert res.exit_code == 0, res.output
    assert "saved to" in res.output
    return out


@pytest.mark.slow
def test_train_writes_model_folder(model_dir):
    for name in (*REQUIRED_FILES, METRICS_FILE, "README.md"):
        assert (model_dir / name).is_file(), name
    metrics = json.loads((model_dir / METRICS_FILE).read_text())
    assert "f1" in metrics["test"]["ner"]["strict"]["micro"]
    assert metrics["train_config"]["epochs"] == 1 and metrics["train_config"]["min_steps"] == 0
    assert metrics["train_config"]["mention_swap"] == 0.5
    assert metrics["train_config"]["augment"] == 0.2
    # --average-last 2 over a one-epoch schedule averages the one epoch there is
    assert metrics["train_config"]["average_last"] == 2 and metrics["averaged_epochs"] == 1
    assert "each of the last 1 epoch(s)" in (model_dir / "README.md").read_text()
    # the default at fraction 1: the dev split joins the training data, no early stopping
    assert metrics["train_config"]["refit"] is True and metrics["n_dev"] == 0
    assert metrics["n_train"] + metrics["n_test"] == 30 and metrics["n_test"] > 0
    assert "no early stopping" in (model_dir / "README.md").read_text()


@pytest.mark.slow
def test_evaluate_json_is_one_object(model_dir, tiny_corpus):
    res = runner.invoke(app, ["evaluate", "--model", str(model_dir), "--corpus",
                              str(tiny_corpus), "--json"])
    assert res.exit_code == 0, res.output
    scores = json.loads(res.stdout)
    assert scores["n_sentences"] == 30
    assert set(scores["ner"]["strict"]["per_label"]) == {"PK", "VALUE", "UNITS", "RANGE",
                                                         "COMPARE"}
    res = runner.invoke(app, ["evaluate", "--model", str(model_dir), "--corpus",
                              str(tiny_corpus), "--view", "pk", "--json"])
    assert set(json.loads(res.stdout)["ner"]["strict"]["per_label"]) == {"PK"}
    table = runner.invoke(app, ["evaluate", "--model", str(model_dir), "--corpus",
                                str(tiny_corpus)])
    assert table.exit_code == 0 and "micro" in table.output


@pytest.mark.slow
def test_tag_json_and_pretty(model_dir, tmp_path):
    text = "The clearance of drug X was 12.5 L/h."
    res = runner.invoke(app, ["tag", "--model", str(model_dir), "--json", text])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert len(out) == 1 and out[0]["text"] == text
    for e in out[0]["entities"]:
        assert text[e["start"] : e["end"]] == e["text"] and 0 < e["score"] <= 1
    f = tmp_path / "in.txt"
    f.write_text(f"{text}\n\nAUC was 3 mg·h/L.\n", encoding="utf-8")
    res = runner.invoke(app, ["tag", "--model", str(model_dir), "--input", str(f), "--json"])
    assert [p["text"] for p in json.loads(res.stdout)] == [text, "AUC was 3 mg·h/L."]
    pretty = runner.invoke(app, ["tag", "--model", str(model_dir), text])
    assert pretty.exit_code == 0 and "mention probability" in pretty.output
    assert "estimated mention count" in pretty.output and "bucket" not in pretty.output


def test_errors_name_the_option(tmp_path, tiny_corpus):
    res = runner.invoke(app, ["tag", "--model", str(tmp_path), "some text"])
    assert res.exit_code == 1 and REQUIRED_FILES[0] in res.output
    res = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "none"), "--json"])
    assert res.exit_code == 1 and "--model" in res.output and res.stdout.count("{") == 0
    res = runner.invoke(app, ["train", "--corpus", str(tmp_path / "missing.jsonl")])
    assert res.exit_code != 0 and "missing.jsonl" in res.output
    res = runner.invoke(app, ["tag", "--model", str(tmp_path)])
    assert res.exit_code == 2 and "TEXT" in res.output
    res = runner.invoke(app, ["tag", "--model", str(tmp_path), "--input",
                              str(tmp_path / "nofile.txt")])
    assert res.exit_code == 2 and "--input" in res.output


@pytest.mark.parametrize(("args", "option"), [
    (["--view", "nope"], "--view"), (["--weighting", "nope"], "--weighting"),
    (["--fraction", "0"], "--fraction"), (["--mention-swap", "2"], "--mention-swap"),
    (["--augment", "-0.1"], "--augment"), (["--average-last", "-1"], "--average-last"),
    (["--fraction", "0.5", "--refit"], "--refit"), (["--device", "gpu"], "--device"),
    (["--ensemble", "0"], "--ensemble"),
])
def test_train_rejects_bad_option(tiny_corpus, args, option):
    res = runner.invoke(app, ["train", "--corpus", str(tiny_corpus), *args])
    assert res.exit_code == 2 and option in res.output


@pytest.mark.parametrize("command", ["train", "evaluate", "tag"])
def test_help(command):
    res = runner.invoke(app, [command, "--help"])
    assert res.exit_code == 0
    assert "--model" in res.output or "--corpus" in res.output


def test_help_shows_the_written_defaults():
    # rich markup would take "[default: ...]" in a help text for a tag and drop it
    res = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "400"})
    assert res.exit_code == 0
    assert "[default: PKHARVEST_MODEL or model/default]" in res.output
    assert "[default: 8; 16 before" in res.output
    res = runner.invoke(app, ["evaluate", "--help"], env={"COLUMNS": "400"})
    assert "[default: the model's]" in res.output


@pytest.mark.slow
def test_train_reference_setup(tiny_corpus, tmp_path):
    out = tmp_path / "ref"
    res = runner.invoke(app, ["train", "--corpus", str(tiny_corpus), "--out", str(out),
                              "--reference", "--epochs", "1", "--max-length", "64",
                              "--view", "pk", "--weighting", "uncertainty", "--quiet"])
    assert res.exit_code == 0, res.output
    cfg = json.loads((out / METRICS_FILE).read_text())["train_config"]
    assert (cfg["batch_size"], cfg["lr"], cfg["head_lr"], cfg["patience"]) == (32, 3e-5, 3e-5, 3)
    assert cfg["use_features"] is False and cfg["view"] == "pk"
    # the reference set-up early-stops on the dev split
    metrics = json.loads((out / METRICS_FILE).read_text())
    assert cfg["refit"] is False and metrics["n_dev"] > 0 and "dev sentences" in \
        (out / "README.md").read_text()
    assert json.loads((out / "config.json").read_text())["labels"] == ["PK"]


@pytest.mark.slow
def test_train_fraction_keeps_dev_for_early_stopping(tiny_corpus, tmp_path):
    out = tmp_path / "f50"
    res = runner.invoke(app, ["train", "--corpus", str(tiny_corpus), "--out", str(out),
                              "--fraction", "0.5", "--epochs", "1", "--max-length", "64",
                              "--quiet"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / METRICS_FILE).read_text())
    assert metrics["train_config"]["refit"] is False and metrics["n_dev"] > 0
    assert "best epoch" in res.output


def test_train_refuses_an_out_folder_it_would_overwrite(tiny_corpus, model_dir, tmp_path):
    # a project folder with its own README.md and config.json: refused before training
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# my project\n", encoding="utf-8")
    (project / "config.json").write_text('{"mine": 1}\n', encoding="utf-8")
    args = ["train", "--corpus", str(tiny_corpus), "--epochs", "1", "--quiet"]
    res = runner.invoke(app, [*args, "--out", str(project)])
    assert res.exit_code == 1 and "--out" in res.output and "not empty" in res.output
    assert (project / "README.md").read_text(encoding="utf-8") == "# my project\n"
    a_file = tmp_path / "a_file"
    a_file.write_text("x", encoding="utf-8")
    res = runner.invoke(app, [*args, "--out", str(a_file)])
    assert res.exit_code == 1 and "--out" in res.output and "not a folder" in res.output
    res = runner.invoke(app, [*args, "--encoder", str(tmp_path / "no_such_encoder")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    error = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "--encoder" in error[0] and "does not exist" in error[0]
    # an earlier model folder is replaced, as before
    again = tmp_path / "again"
    shutil.copytree(model_dir, again)
    res = runner.invoke(app, [*args, "--batch-size", "8", "--max-length", "64",
                              "--out", str(again)])
    assert res.exit_code == 0, res.output


def test_tag_input_is_utf8_and_one_sentence_per_line(model_dir, tmp_path):
    odd = tmp_path / "odd.txt"
    # \x0b and \u2028 inside a line do not split it; blank lines are skipped
    odd.write_text("Cmax\x0bwas 5 mg/L.\r\nThe t1/2 was 3 h.\u2028Really.\n\n", encoding="utf-8")
    res = runner.invoke(app, ["tag", "--model", str(model_dir), "--input", str(odd), "--json"])
    assert res.exit_code == 0, res.output
    assert [p["text"] for p in json.loads(res.output)] == [
        "Cmax\x0bwas 5 mg/L.", "The t1/2 was 3 h.\u2028Really."]
    res = runner.invoke(app, ["tag", "--model", str(model_dir), "--input", "-"],
                        input=b"\xff\xfeCL was 5\n")
    assert res.exit_code == 2 and "--input" in res.output and "standard input" in res.output
    res = runner.invoke(app, ["tag", "--model", str(model_dir), "CL \udcff was 5"])
    assert res.exit_code == 2 and res.output.startswith("Error: TEXT: not UTF-8 text")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n", encoding="utf-8")
    res = runner.invoke(app, ["tag", "--model", str(model_dir), "--input", str(blank)])
    assert res.exit_code == 2 and "--input" in res.output and "blank.txt" in res.output


def test_evaluate_refuses_a_corpus_without_sentences_and_a_file_as_model(
        model_dir, tiny_corpus, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    res = runner.invoke(app, ["evaluate", "--model", str(model_dir), "--corpus", str(empty),
                              "--json"])
    assert res.exit_code == 2 and res.output.startswith("Error: --corpus:")
    assert "no sentences to score" in res.output
    res = runner.invoke(app, ["evaluate", "--model", str(tiny_corpus), "--corpus",
                              str(tiny_corpus)])
    assert res.exit_code == 1 and "--model" in res.output and "is a file" in res.output
