"""`pkharvest bulk` over baseline-format files built at test time from the shared sentences.

A bulk run must store what `search` stores for the same articles (served by the loopback
E-utilities stand-in): the same parsing, tagging, linking and normalisation. Deletions and newer
record versions, a re-run, and a truncated file are checked on real DuckDB files. A model with
freshly initialised heads is enough (its predictions are arbitrary but deterministic).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pkharvest.bulk import baseline_files, run_bulk
from pkharvest.cli import app
from pkharvest.corpus.reader import read_corpus
from pkharvest.errors import FetchError
from pkharvest.fetch import EutilsClient, RateLimiter, RetryPolicy
from pkharvest.model.tagger import PKTagger
from pkharvest.pipeline import Extractor, run_search
from pkharvest.progress import ProgressEvent
from pkharvest.store import Store
from pkharvest.testing.eutils_server import PUBMED_DOCTYPE, EutilsServer, FakeArticle, make_article

runner = CliRunner()
QUERY = "pharmacokinetic report"


@pytest.fixture(scope="module")
def model_dir(untrained_model_factory) -> Path:  # type: ignore[no-untyped-def]
    return untrained_model_factory(10)


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
    events: list[ProgressEvent] = []
    with Store(db) as store:
        summary = run_bulk([tmp_path / "in"], store, extractor, chunk=7,
                           progress=events.append)
    assert [f.name for f in summary.files] == [f.name for f in files]
    assert summary.files[1].deleted == 1
    bulk = _content(db)
    assert bulk["counts"]["articles"] == len(final) and bulk["measurements"]
    assert bulk["counts"].pop("bulk_files") == 2
    searched = _search_store(final, tmp_path / "search.duckdb", extractor)
    assert searched["counts"].pop("bulk_files") == 0
    assert bulk == searched
    # progress: the files overall, and each file's articles up to its end
    names = [f.name for f in files]
    overall = [e for e in events if e.task == "files"]
    assert overall[0].total == 2 and sum(e.advance for e in overall) == 2 and overall[-1].done
    for name, fs in zip(names, summary.files, strict=True):
        mine = [e for e in events if e.task == name]
        assert mine[-1].done and sum(e.advance for e in mine) >= fs.articles > 0


def test_manifest_records_files_and_a_rerun_skips_them(
        tmp_path: Path, articles: list[FakeArticle], extractor: Extractor) -> None:
    files, _ = _files(tmp_path / "in", articles)
    db = tmp_path / "bulk.duckdb"
    with Store(db) as store:
        first = run_bulk(files, store, extractor, chunk=3)
    before = _content(db)
    with Store(db, read_only=True) as store:
        manifest = store.bulk_files()
    assert [m.name for m in manifest] == [f.name for f in files]
    for entry, path, fs in zip(manifest, files, first.files, strict=True):
        assert entry.size == path.stat().st_size
        assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry.model_version == extractor.model_version
        assert entry.counts == fs.counts() and entry.counts["articles"] == fs.articles > 0
    assert first.files[1].deleted == 1
    # a re-run skips both files (same name, checksum and model version) and changes nothing
    with Store(db) as store:
        again = run_bulk(files, store, extractor)
    assert [f.skipped for f in again.files] == [True, True]
    assert again.counts()["articles"] == 0 and _content(db) == before
    # a file changed on disk is applied again: its new content replaces the old
    changed = [dataclasses.replace(a, title="Pharmacokinetic report, revised.")
               for a in articles[:2]]
    _baseline(files[1], changed)
    with Store(db) as store:
        third = run_bulk(files, store, extractor)
        titles = {a.pmid: store.get_article(a.pmid).title for a in changed}
        entry = store.bulk_files()[1]
    assert [f.skipped for f in third.files] == [True, False]
    assert set(titles.values()) == {"Pharmacokinetic report, revised."}
    assert entry.sha256 == hashlib.sha256(files[1].read_bytes()).hexdigest()
    assert entry.counts["articles"] == 2


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
    assert res.output.startswith("Error: PATH: ")  # the library field, shown as the argument
    assert not (tmp_path / "s.duckdb").exists()
    _baseline(tmp_path / "pubmed26n0001.xml", [make_article("1", sentences=["CL was 4 L/h."])])
    for extra, option in ((["--engine", "spark"], "--engine"),
                          (["--address", "auto"], "--address"),
                          (["--model", str(tmp_path / "nomodel")], "--model")):
        res = runner.invoke(app, ["bulk", str(tmp_path), "--db", str(tmp_path / "s.duckdb"),
                                  *extra])
        assert res.exit_code == 2 and res.output.startswith(f"Error: {option}:"), res.output
        assert not (tmp_path / "s.duckdb").exists()
    help_text = runner.invoke(app, ["bulk", "--help"], env={"COLUMNS": "200"}).output
    assert all(o in help_text for o in ("--engine", "--workers", "--address", "--chunk"))


@pytest.mark.slow
def test_killed_run_then_rerun_equals_an_uninterrupted_run(
        tmp_path: Path, articles: list[FakeArticle], model_dir: Path,
        extractor: Extractor) -> None:
    """kill -9 of a real `pkharvest bulk` process while it tags the second of three files:
    the first file stays applied with its manifest entry, the second left no row, and a re-run
    resumes with it and ends with the store of an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "in"
    files, _ = _files(folder, articles)
    files.append(_baseline(folder / "pubmed26n0003.xml.gz", articles[:3]))
    reference = tmp_path / "ref.duckdb"
    with Store(reference) as store:
        run_bulk(files, store, extractor)
    db = tmp_path / "killed.duckdb"
    driver = "import sys; from pkharvest.cli import main; sys.argv[0] = 'pkharvest'; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", driver, "bulk", str(folder), "--db", str(db), "--model",
         str(model_dir), "--threshold", "0", "--precision", "int8", "--chunk", "1"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.stderr is not None
    deadline = time.monotonic() + 300
    seen = []
    for line in proc.stderr:  # the first article of the second file is tagged: kill
        seen.append(line)
        if line.startswith("pubmed26n0002.xml:") or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert any(line.startswith("pubmed26n0002.xml:") for line in seen), seen
    with Store(db, read_only=True) as store:
        assert [f.name for f in store.bulk_files()] == ["pubmed26n0001.xml.gz"]
    with Store(db) as store:  # the lock left behind does not block the re-run
        resumed = run_bulk(files, store, extractor)
    assert [f.skipped for f in resumed.files] == [True, False, False]
    assert _content(db) == _content(reference)
