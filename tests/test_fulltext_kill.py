"""``pkharvest search --full-text`` killed with SIGKILL while it fetches and stores full text,
then re-run, ends with the same store content as an uninterrupted run (the pattern of
``test_kill_resume.py``: a real subprocess, kills timed from the PMC EFetches the loopback
stand-in sees plus a seeded delay)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fulltext_corpus import QUERY, content, corpus
from kill_runs import FETCH_BATCH, SEED, cli_args, kill_at
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.errors import StoreError
from pkharvest.store import Store
from pkharvest.testing.eutils_server import EutilsServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(untrained_model_factory) -> Path:  # type: ignore[no-untyped-def]
    return untrained_model_factory(10)


def _pmc_seen(server: EutilsServer, k: int):  # type: ignore[no-untyped-def]
    return lambda: sum(1 for r in server.requests if r.params.get("db") == "pmc") >= k


def _stored(db: Path, reference: dict) -> set[str]:  # type: ignore[type-arg]
    """Whole articles only, each as in the uninterrupted run."""
    if not db.exists():
        return set()
    try:
        partial = content(db)
    except StoreError as exc:  # killed while the schema was created
        assert "\n" not in str(exc)
        return set()
    for pmid, got in partial["articles"].items():
        assert got == reference["articles"][pmid], pmid
    with Store(db, lock_timeout=0.0):
        pass
    return set(partial["articles"])


def test_full_text_search_killed_then_rerun_gives_the_uninterrupted_content(
    tmp_path: Path, model_dir: Path
) -> None:
    rng = random.Random(SEED + 7)
    arts = corpus()
    ref_db, db = tmp_path / "ref.duckdb", tmp_path / "killed.duckdb"
    runner = CliRunner()
    with EutilsServer(arts) as server:
        ref_args = cli_args("search", ref_db, model_dir, server, QUERY, "--full-text")
        result = runner.invoke(app, ref_args)
        assert result.exit_code == 0, result.output
        reference = content(ref_db)
        assert len(reference["articles"]) == len(arts)

        args = cli_args("search", db, model_dir, server, QUERY, "--full-text")
        stored: list[int] = []
        for i, k in enumerate((1, 2, 3)):
            server.clear_requests()
            log = tmp_path / f"kill{i}.log"
            rc = kill_at(args, log, _pmc_seen(server, k), rng.uniform(0.0, 0.6))
            assert rc in (None, 0), log.read_text(errors="replace")
            stored.append(len(_stored(db, reference)))
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    assert content(db) == reference
    assert any(0 < n < len(arts) for n in stored) or stored[-1] == len(arts), stored
    assert FETCH_BATCH == 2
