"""The parallel bulk engines store exactly what the in-process engine stores: a local pool of
two spawned processes, and a real local Ray (``ray.init(num_cpus=2)``) with two tagger actors.
Both start interpreters that import torch and load the model, hence slow."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_bulk import _content, _files, articles, extractor, model_dir  # noqa: F401

from pkharvest.bulk import ModelSpec, run_bulk
from pkharvest.pipeline import Extractor
from pkharvest.progress import ProgressEvent
from pkharvest.store import Store
from pkharvest.testing.eutils_server import FakeArticle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, articles: list[FakeArticle],  # noqa: F811
              extractor: Extractor) -> tuple[list[Path], dict]:  # noqa: F811
    tmp = tmp_path_factory.mktemp("ref")
    files, _ = _files(tmp / "in", articles)
    with Store(tmp / "ref.duckdb") as store:
        run_bulk(files, store, extractor)
    return files, _content(tmp / "ref.duckdb")


def _spec(model_dir: Path) -> ModelSpec:  # noqa: F811
    return ModelSpec(model_dir, precision="int8", threshold=0.0, threads=1)


def test_local_process_pool_equals_in_process(
        tmp_path: Path, reference: tuple[list[Path], dict], model_dir: Path) -> None:  # noqa: F811
    files, expected = reference
    db = tmp_path / "pool.duckdb"
    with Store(db) as store:
        summary = run_bulk(files, store, _spec(model_dir), workers=2, chunk=3)
    assert summary.workers == 2 and [f.skipped for f in summary.files] == [False, False]
    assert _content(db) == expected


def test_ray_engine_equals_local_engine(
        tmp_path: Path, reference: tuple[list[Path], dict], model_dir: Path) -> None:  # noqa: F811
    ray = pytest.importorskip("ray")
    files, expected = reference
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        db = tmp_path / "ray.duckdb"
        events: list[ProgressEvent] = []
        with Store(db) as store:
            summary = run_bulk(files, store, _spec(model_dir), engine="ray", workers=2,
                               chunk=3, progress=events.append)
        assert summary.engine == "ray" and summary.model_version.endswith("-int8")
        assert _content(db) == expected
        assert [e.advance for e in events if e.task == "files"] == [0, 1, 1]
        # a re-run on Ray skips what the manifest holds
        with Store(db) as store:
            again = run_bulk(files, store, _spec(model_dir), engine="ray", workers=2)
        assert [f.skipped for f in again.files] == [True, True]
        assert _content(db) == expected
    finally:
        ray.shutdown()
