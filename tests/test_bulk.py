"""`pkharvest bulk` over baseline-format files built at test time from the shared sentences.

A bulk run must store what `search` stores for the same articles (served by the loopback
E-utilities stand-in): the same parsing, tagging, linking and normalisation. Deletions and newer
record versions, a re-run, and a truncated file are checked on real DuckDB files. A model with
freshly initialised heads is enough (its predictions are arbitrary but deterministic).
"""

from __future__ import annotations

import dataclasses
import gzip
from collections import defaultdict
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from pkharvest.bulk import baseline_files, run_bulk
from pkharvest.cli import app
from pkharvest.corpus.reader import read_corpus
from pkharvest.errors import FetchError
from pkharvest.fetch import EutilsClient, RateLimiter, RetryPolicy
from pkharvest.model.config import ModelConfig
from pkharvest.model.tagger import PKTagger
from pkharvest.pipeline import Extractor, run_search
from pkharvest.store import Store
from pkharvest.testing.eutils_server import PUBMED_DOCTYPE, EutilsServer, FakeArticle, make_article

runner = CliRunner()
QUERY = "pharmacokinetic report"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(10)
    tagger = PKTagger.create(ModelConfig(labels=("PK", "VALUE", "UNITS", "RANGE", "COMPARE")))
    out = tmp_path_factory.mktemp("model") / "m"
    tagger.save(out)
    return out


@pytest.fixture(scope="module")
def extractor(model_dir: Path) -> Extractor:
    return Extractor(PKTagger.load(model_dir, precision="int8"), threshold=0.0)


@pytest.fixture(scope="module")
def articles(corpus_path: Path) -> list[FakeArticle]:
    by_pmid: dict[str, list[str]] = defaultdict(list)
    for ex in read_corpus(corpus_path)[:40]:
        by_pmid[str(ex.pmid)].append(ex.text)
    return [make_article(p, title="Pharmacokinetic report.", sentences=t,
                         chemicals=["Midazolam"]) for p, t in sorted(by_pmid.items())]


def _baseline(path: Path, arts: list[FakeArticle], deleted: tuple[str, ...] = ()) -> Path:
    body = "\n".join(a.to_xml() for a in arts)
    if deleted:
        body += "\n<DeleteCitation>" + "".join(
            f'<PMID Version="1">{p}</PMID>' for p in deleted) + "</DeleteCitation>"
    xml = (f'<?xml version="1.0" ?>\n{PUBMED_DOCTYPE}\n<PubmedArticleSet>\n{body}\n'
           "</PubmedArticleSet>\n").encode()
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(xml))
    else:
        path.write_bytes(xml)
    return path


def _content(db: Path) -> dict:
    with Store(db, read_only=True) as store:
        meas = sorted((tuple(v for k, v in dataclasses.asdict(m).items() if k != "run_id")
                       for m in store.measurements()), key=repr)
        pmids = sorted(store.processed_pmids())
        arts = [store.get_article(p) for p in pmids]
        sentences = [(p, s.index, s.text, s.kept, s.pk_score, len(s.mentions))
                     for p in pmids for s in store.article_view(p).sentences]
        counts = store.counts()
    counts.pop("runs", None)
    counts.pop("searches", None)
    return {"measurements": meas, "articles": arts, "sentences": sentences, "counts": counts}


def _search_store(arts: list[FakeArticle], db: Path, extractor: Extractor) -> dict:
    with EutilsServer(arts) as server, Store(db) as store:
        client = EutilsClient(base_url=server.url,
                              retry=RetryPolicy(max_attempts=3, initial_wait=0.01),
                              rate_limiter=RateLimiter(1000.0))
        run_search(QUERY, store, client, extractor, max_results=1000)
    return _content(db)


def _files(folder: Path, articles: list[FakeArticle]) -> tuple[list[Path], list[FakeArticle]]:
    """Two files: the second replaces one article with a newer version and deletes another;
    returns the files and the articles that should end up stored."""
    first, second = articles[: len(articles) // 2 + 1], articles[len(articles) // 2 + 1 :]
    replaced = dataclasses.replace(first[0], title="Pharmacokinetic report, corrected.",
                                   sentences=(*first[0].sentences[:1], "CL was 4.2 L/h."))
    gone = first[1].pmid
    folder.mkdir(exist_ok=True)
    files = [_baseline(folder / "pubmed26n0001.xml.gz", first),
             _baseline(folder / "pubmed26n0002.xml", [*second, replaced], deleted=(gone,))]
    final = [replaced, *[a for a in articles if a.pmid not in (gone, replaced.pmid)]]
    return files, final


def test_bulk_equals_search_with_deletions_and_newer_versions(
        tmp_path: Path, articles: list[FakeArticle], extractor: Extractor) -> None:
    files, final = _files(tmp_path / "in", articles)
    assert baseline_files([tmp_path / "in"]) == files
    db = tmp_path / "bulk.duckdb"
    with Store(db) as store:
        summary = run_bulk([tmp_path / "in"], store, extractor)
    assert [f.name for f in summary.files] == [f.name for f in files]
    assert summary.files[1].deleted == 1
    bulk = _content(db)
    assert bulk["counts"]["articles"] == len(final) and bulk["measurements"]
    assert bulk == _search_store(final, tmp_path / "search.duckdb", extractor)
    # a re-run adds nothing and changes nothing
    with Store(db) as store:
        run_bulk(files, store, extractor)
    assert _content(db) == bulk


def test_truncated_file_leaves_the_store_as_before_it(
        tmp_path: Path, articles: list[FakeArticle], model_dir: Path) -> None:
    files, _ = _files(tmp_path / "in", articles)
    good = tmp_path / "good.duckdb"
    res = runner.invoke(app, ["bulk", str(files[0]), "--db", str(good), "--model",
                              str(model_dir), "--threshold", "0", "--json"])
    assert res.exit_code == 0, res.output
    whole = gzip.compress(files[1].read_bytes())
    bad = tmp_path / "in" / "pubmed26n0002.xml.gz"
    files[1].unlink()
    bad.write_bytes(whole[: len(whole) // 2])
    db = tmp_path / "bulk.duckdb"
    res = runner.invoke(app, ["bulk", str(tmp_path / "in"), "--db", str(db), "--model",
                              str(model_dir), "--threshold", "0"])
    assert res.exit_code == 1
    assert "pubmed26n0002.xml.gz" in res.output and "truncated" in res.output
    assert _content(db) == _content(good)
    with pytest.raises(FetchError), Store(db) as store:
        run_bulk([bad], store, Extractor(PKTagger.load(model_dir, precision="int8")))


def test_bulk_cli_usage_errors(tmp_path: Path) -> None:
    res = runner.invoke(app, ["bulk", str(tmp_path / "missing.xml.gz"), "--db",
                              str(tmp_path / "s.duckdb")])
    assert res.exit_code == 2 and "missing.xml.gz" in res.output
    assert not (tmp_path / "s.duckdb").exists()
    assert runner.invoke(app, ["bulk", "--help"]).exit_code == 0


@pytest.mark.slow
def test_killed_run_then_rerun_equals_an_uninterrupted_run(
        tmp_path: Path, articles: list[FakeArticle], model_dir: Path,
        extractor: Extractor) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    files, _ = _files(tmp_path / "in", articles)
    reference = tmp_path / "ref.duckdb"
    with Store(reference) as store:
        run_bulk(files, store, extractor)
    db = tmp_path / "killed.duckdb"
    driver = "import sys; from pkharvest.cli import main; sys.argv[0] = 'pkharvest'; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", driver, "bulk", str(tmp_path / "in"), "--db", str(db),
         "--model", str(model_dir), "--threshold", "0", "--precision", "int8"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.stderr is not None
    deadline = time.monotonic() + 300
    for line in proc.stderr:  # kill once the first file is done and the second has begun
        if line.startswith("[1/2]") or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(db) as store:  # the lock left behind does not block the re-run
        run_bulk(files, store, extractor)
    assert _content(db) == _content(reference)
