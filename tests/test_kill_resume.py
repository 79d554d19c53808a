"""``pkharvest search`` and ``pkharvest refresh`` killed with SIGKILL at several moments, then
re-run, end with the same store content as an uninterrupted run.

Real processes: the CLI runs in a subprocess (``pkharvest.cli:main``, the console script's entry
point) and reaches the loopback E-utilities stand-in, served by this test process, over
127.0.0.1. Kills are timed from what the stand-in sees (the store file appearing, the ESearch, the
k-th EFetch) plus a seeded random delay, so that they land before any write, while the schema is
created, between batches, inside a batch transaction and after the last write. After every kill
the store must open (read-only, as ``pkharvest query`` does), hold only whole articles (each one
identical to the uninterrupted run's), and the lock file left behind must not block the next run.
The uninterrupted reference run and the final re-run to completion use the same command
in-process (CliRunner), which saves two interpreter start-ups.

``--fetch-batch 2`` gives several batches (store transactions) out of a few articles.
``PKHARVEST_KILL_SEED`` picks other delays (for a soak run).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from kill_runs import FETCH_BATCH, SEED, Trigger, cli_args, kill_at
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.errors import StoreError
from pkharvest.store import Store
from pkharvest.testing.eutils_server import EutilsServer, FakeArticle, make_article

pytestmark = pytest.mark.slow

SENTENCES = [
    "{drug} clearance was 4.2 L/h and the volume of distribution was 52 L.",
    "The elimination half-life was 6.1 ± 1.3 h in adults.",
    "Cmax ranged from 20 to 35 mg/L after a 1 g dose.",
]


def _articles(drug: str, n: int, start: int, date: str | dt.date) -> list[FakeArticle]:
    return [
        make_article(
            start + i,
            title=f"{drug} pharmacokinetics in cohort {i}",
            sentences=[SENTENCES[i % len(SENTENCES)].format(drug=drug)],
            date=date,
            chemicals=[drug],
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def model_dir(untrained_model_factory) -> Path:
    """An untrained (fresh heads) model folder: deterministic predictions, fast to build. Its
    entities are noise; seed 10 is one whose noise includes parameters with values in
    SENTENCES, so that the stores compared below hold measurements (asserted)."""
    return untrained_model_factory(10)


# ------------------------------------------------------------------------------- helpers


def _per_article(db: Path) -> dict[str, Any]:
    """Store content per PMID (article, sentences with mentions, measurements), minus run ids
    and timestamps, plus the table counts."""
    with Store(db, read_only=True) as store:
        out: dict[str, Any] = {}
        for pmid in sorted(store.processed_pmids()):
            view = store.article_view(pmid)
            assert view is not None
            sentences = [
                (
                    s.index,
                    s.section,
                    s.start,
                    s.end,
                    s.text,
                    None if s.pk_score is None else round(s.pk_score, 6),
                    s.kept,
                    s.mentions,
                )
                for s in view.sentences
            ]
            measurements = [dataclasses.asdict(m) for m in store.measurements(pmid)]
            out[pmid] = (view.article, view.model_version, sentences, measurements)
        counts = store.counts()
    return {
        "articles": out,
        "counts": {k: counts[k] for k in counts if k not in ("runs", "searches")},
    }


def _efetch_seen(server: EutilsServer, k: int) -> Trigger:
    return lambda: server.count("efetch") >= k


def _esearch_seen(server: EutilsServer, k: int = 1) -> Trigger:
    return lambda: server.count("esearch") >= k


def _diff(pmid: str, got: Any, reference: dict[str, Any]) -> str:
    """Where one article's content differs from the reference (for assertion messages)."""
    want = reference["articles"][pmid]
    lines = [f"PMID {pmid} differs from the uninterrupted run:"]
    for name, g, w in zip(
        ("article", "model", "sentences", "measurements"), got, want, strict=True
    ):
        if g == w:
            continue
        if isinstance(g, list) and isinstance(w, list) and len(g) == len(w):
            for a, b in zip(g, w, strict=True):
                if a != b:
                    keys = a.keys() if isinstance(a, dict) else range(len(a))
                    lines += [f"  {name}: {k}: {a[k]!r} != {b[k]!r}" for k in keys if a[k] != b[k]]
        else:
            lines.append(f"  {name}: {g!r} != {w!r}")
    return "\n".join(lines)


def _check_after_kill(db: Path, reference: dict[str, Any]) -> set[str]:
    """The killed run left a store that opens, with whole articles only (each as in the
    uninterrupted run), and a lock that does not block a writer. Returns the stored PMIDs."""
    if not db.exists():
        return set()
    try:
        partial = _per_article(db)  # opens read-only, as `pkharvest query/show` do
    except StoreError as exc:
        # killed before the schema was committed: readers get a clear one-line error ...
        assert "empty DuckDB file" in str(exc) and "\n" not in str(exc), exc
        # ... and a writer (the re-run) takes the empty file over
        with Store(db, lock_timeout=0.0) as store:
            assert store.counts()["articles"] == 0
        return set()
    for pmid, content in partial["articles"].items():
        assert content == reference["articles"][pmid], _diff(pmid, content, reference)
    # a lock file left by the dead process does not block a writer
    with Store(db, lock_timeout=0.0):
        pass
    return set(partial["articles"])


# --------------------------------------------------------------------------------- tests


def test_search_killed_at_several_moments_resumes_to_the_same_store(
    tmp_path: Path, model_dir: Path
) -> None:
    rng = random.Random(SEED)
    arts = _articles("Vancomycin", 10, 1000, "2021/03/04")
    ref_db, db = tmp_path / "ref.duckdb", tmp_path / "killed.duckdb"
    with EutilsServer(arts) as server:
        # the uninterrupted run (in-process; batch size does not change what is stored)
        result = CliRunner().invoke(
            app, cli_args("search", ref_db, model_dir, server, "vancomycin")
        )
        assert result.exit_code == 0, result.output
        reference = _per_article(ref_db)
        assert len(reference["articles"]) == len(arts)
        assert reference["counts"]["measurements"] > 0

        args = cli_args("search", db, model_dir, server, "vancomycin")
        # (what, trigger kind, k-th request of this run or "last", seeded delay in s)
        moments: list[tuple[str, str, int | str, float]] = [
            ("while the store is created", "file", 0, rng.uniform(0.0, 0.15)),
            ("after ESearch, before any article", "esearch", 1, rng.uniform(0.0, 0.4)),
            ("after the first batch", "efetch", 2, rng.uniform(0.0, 1.5)),
            ("in or after the last batch", "efetch", "last", rng.uniform(0.3, 3.0)),
        ]
        stored: list[int] = []
        done: set[str] = set()
        for i, (what, kind, k, delay) in enumerate(moments):
            remaining = len(arts) - len(done)
            batches = -(-remaining // FETCH_BATCH)
            nth = batches if k == "last" else int(k)
            if kind == "efetch" and nth > batches:
                continue  # earlier kills already stored more than this moment needs
            trigger: Trigger = {
                "file": db.exists,
                "esearch": _esearch_seen(server, nth),
                "efetch": _efetch_seen(server, nth),
            }[kind]
            server.clear_requests()
            log = tmp_path / f"kill{i}.log"
            rc = kill_at(args, log, trigger, delay)
            assert rc in (None, 0), (what, log.read_text(errors="replace"))
            now = _check_after_kill(db, reference)
            # an EFetch of batch k is only sent once batch k-1 is committed
            must = len(done) + (nth - 1) * FETCH_BATCH if kind == "efetch" else len(done)
            assert len(now) >= min(must, len(arts)), (what, delay, sorted(now))
            done = now
            stored.append(len(now))
        # kills between batches really left a partial store behind
        assert any(0 < n < len(arts) for n in stored), stored

        # the re-run to completion (in-process: same command, no interpreter start-up)
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
    assert summary["counts"]["articles_skipped"] == stored[-1]
    assert summary["counts"]["articles_fetched"] == len(arts) - stored[-1]
    assert _per_article(db) == reference
    with Store(db, read_only=True) as store:
        runs = store.runs()
        assert runs[-1].status == "ok"
        assert [s.query for s in store.saved_searches()] == ["vancomycin"]


def test_refresh_killed_at_several_moments_resumes_to_the_same_store(
    tmp_path: Path, model_dir: Path
) -> None:
    rng = random.Random(SEED + 1)
    old = _articles("Vancomycin", 3, 1000, "2021/03/04") + _articles(
        "Midazolam", 2, 2000, "2021/05/06"
    )
    today = dt.datetime.now(dt.timezone.utc).date()
    new = _articles("Vancomycin", 5, 3000, today) + _articles("Midazolam", 4, 4000, today)
    base, ref_db, db = (tmp_path / f"{n}.duckdb" for n in ("base", "ref", "killed"))
    runner = CliRunner()
    with EutilsServer(old) as server:
        for query in ("vancomycin", "midazolam"):
            result = runner.invoke(app, cli_args("search", base, model_dir, server, query))
            assert result.exit_code == 0, result.output
        server.add(*new)
        shutil.copyfile(base, ref_db)
        shutil.copyfile(base, db)

        result = runner.invoke(app, cli_args("refresh", ref_db, model_dir, server))
        assert result.exit_code == 0, result.output
        assert [s["counts"]["articles_fetched"] for s in json.loads(result.stdout)] == [5, 4]
        reference = _per_article(ref_db)
        assert len(reference["articles"]) == len(old) + len(new)

        args = cli_args("refresh", db, model_dir, server)
        moments: list[tuple[str, Trigger, float]] = [
            ("first esearch sent", _esearch_seen(server, 1), rng.uniform(0.0, 0.4)),
            ("2nd efetch of the first search", _efetch_seen(server, 2), rng.uniform(0.0, 1.5)),
            ("second saved search started", _esearch_seen(server, 2), rng.uniform(0.0, 2.0)),
        ]
        stored: list[int] = []
        for i, (what, trigger, delay) in enumerate(moments):
            server.clear_requests()
            rc = kill_at(args, tmp_path / f"kill{i}.log", trigger, delay)
            assert rc in (None, 0), (what, (tmp_path / f"kill{i}.log").read_text())
            stored.append(len(_check_after_kill(db, reference)))
        assert stored == sorted(stored) and stored[-1] >= len(old) + 5, stored

        result = runner.invoke(app, args)  # the re-run to completion
        assert result.exit_code == 0, result.output
        summaries = json.loads(result.stdout)
    assert len(summaries) == 2
    assert (
        sum(s["counts"]["articles_fetched"] for s in summaries) == len(old) + len(new) - stored[-1]
    )
    assert _per_article(db) == reference
    with Store(db, read_only=True) as store:
        assert [s.query for s in store.saved_searches()] == ["vancomycin", "midazolam"]
        assert all(s.last_run is not None for s in store.saved_searches())
