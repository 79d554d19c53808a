"""The experiment run store on a real DuckDB file: storing, resuming, refusing."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import duckdb
import pytest
from conftest import make_record

from pkharvest.errors import StoreError, UsageError
from pkharvest.experiment.grid import HEADS, RunSpec, build_grid
from pkharvest.experiment.runstore import RUNS_FILE, RunStore


def test_store_round_trip(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    assert (tmp_path / RUNS_FILE).exists()
    spec = RunSpec(view="pk", fraction=0.5, weighting="uncertainty", seed=3)
    store.add(make_record(spec, 0.7))
    runs = store.runs()
    assert list(runs["run_key"]) == [spec.key]
    row = runs.iloc[0]
    assert row["configuration"] == "uncertainty" and row["heads"] == "+".join(HEADS)
    assert row["train_hash"] == "t3-0.5" and row["epochs_run"] == 3 and row["best_epoch"] == 2
    scores = store.scores("ner.strict.micro.f1")
    assert scores["value"].tolist() == [pytest.approx(0.7)]
    assert store.scores("ner.strict.micro.f1", split="dev")["value"].tolist() == [
        pytest.approx(0.73)
    ]
    sims = store.similarities()
    assert len(sims) == 6 and set(sims["n_batches"]) == {2}
    # a second handle on the same file sees the same runs
    assert RunStore(tmp_path / RUNS_FILE, create=False).done() == {spec.key: "t3-0.5"}


def test_resume_skips_done_runs_and_never_duplicates(tmp_path: Path) -> None:
    grid = build_grid(["pk"], [1.0, 0.5], ["none", "fixed"], [0, 1])
    store = RunStore(tmp_path)
    for spec in grid[:3]:  # "interrupted" after three runs
        store.add(make_record(spec, 0.5))
    store = RunStore(tmp_path)  # reopened, as a new process would
    todo = [s for s in grid if s.key not in store.done()]
    assert todo == grid[3:]
    with pytest.raises(StoreError, match="already stored"):
        store.add(make_record(grid[0], 0.9))
    assert len(store.runs()) == 3
    assert len(store.scores()) == 3 * 4  # the failed insert left no partial rows


def test_a_run_that_fails_half_way_leaves_nothing(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    spec = RunSpec(view="pk", fraction=1.0, weighting="none", seed=0)
    record = make_record(spec, 0.5)
    # runs and scores insert fine, then a similarity row breaks NOT NULL: all rolls back
    record.similarities = {("ner", "bcls"): 0.5, (None, "mcls"): 0.1}  # type: ignore[dict-item]
    with pytest.raises(StoreError, match="failed"):
        store.add(record)
    assert store.runs().empty and store.scores().empty and store.similarities().empty
    store.add(make_record(spec, 0.5))  # the run can then be stored again
    assert list(store.done()) == [spec.key]


def test_nan_scores_are_kept_as_missing_values(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    record = make_record(RunSpec(view="full", fraction=1.0, weighting="none", seed=0), 0.5)
    record.test_scores["mcls.f1"] = float("nan")
    record.test_scores["odd"] = "not a number"  # type: ignore[assignment]
    store.add(record)
    values = store.scores().set_index("metric")["value"]
    assert math.isnan(values["mcls.f1"]) and math.isnan(values["odd"])


def test_settings_are_recorded_and_a_change_is_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.check_settings({"corpus_sha256": "abc", "train": {"epochs": 2}})
    store.check_settings({"corpus_sha256": "abc", "train": {"epochs": 2}})  # same: fine
    with pytest.raises(UsageError, match=r"train: stored .*'epochs': 2.*'epochs': 5"):
        store.check_settings({"corpus_sha256": "abc", "train": {"epochs": 5}})
    assert store.settings() == {"corpus_sha256": "abc", "train": {"epochs": 2}}


def test_foreign_or_missing_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no experiment run store"):
        RunStore(tmp_path / "nowhere", create=False)
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE articles (pmid TEXT)")
    con.close()
    with pytest.raises(StoreError, match="not an experiment run store"):
        RunStore(other)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(StoreError, match="cannot create the experiment folder"):
        RunStore(a_file)
    junk = tmp_path / "junk" / RUNS_FILE
    junk.parent.mkdir()
    junk.write_bytes(b"this is not duckdb" * 100)
    with pytest.raises(StoreError):
        RunStore(junk.parent)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        ("sqlite", "a SQLite database"),
        ("empty", "an empty file"),
        ("junk", "corrupt or another format"),
    ],
)
def test_a_foreign_runs_file_is_refused_in_one_line(tmp_path: Path, make: str, kind: str) -> None:
    """A runs.duckdb that is a SQLite database (a real one), an empty file or junk is refused
    from its header with one line naming the file, and never makes DuckDB fetch an extension."""
    folder = tmp_path / "exlite"
    folder.mkdir()
    runs = folder / RUNS_FILE
    if make == "sqlite":
        con = sqlite3.connect(runs)
        con.execute("CREATE TABLE t (x INTEGER)")
        con.commit()
        con.close()
    else:
        runs.write_bytes(b"" if make == "empty" else b"not a database\n" * 10)
    before = runs.read_bytes()
    for create in (True, False):
        with pytest.raises(StoreError) as err:
            RunStore(folder, create=create)
        msg = str(err.value)
        assert msg == f"{runs}: not a DuckDB store file ({kind})"
        assert "\n" not in msg and "extension" not in msg
    assert runs.read_bytes() == before  # left as it was
    assert sorted(p.name for p in folder.iterdir()) == [RUNS_FILE]  # no WAL or other file


def test_a_folder_named_runs_duckdb_is_refused(tmp_path: Path) -> None:
    (tmp_path / RUNS_FILE).mkdir()
    with pytest.raises(StoreError, match="is a directory, not a store file"):
        RunStore(tmp_path)
