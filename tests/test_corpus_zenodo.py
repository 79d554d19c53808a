"""Fetching the published corpora from a loopback stand-in of Zenodo's records API."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.corpus.reader import read_corpus
from pkharvest.corpus.zenodo import RECORDS, fetch_corpus, parse_record, record_files
from pkharvest.errors import FetchError, UsageError
from pkharvest.progress import ProgressEvent
from pkharvest.testing.zenodo_server import ZenodoStandIn, serve_zenodo

PRED = RECORDS["pred"]
PKNER = RECORDS["pkner"]


def _jsonl(n: int, tag: str) -> bytes:
    lines = []
    for i in range(n):
        text = f"In study {tag}{i} the clearance was {i + 1} L/h."
        start = text.index("clearance")
        lines.append(json.dumps({"text": text, "spans": [
            {"start": start, "end": start + 9, "label": "PK"}], "metadata": {"pmid": 100 + i},
            "answer": "accept"}))
    return ("\n".join(lines) + "\n").encode()


PRED_FILES = {"train.jsonl": _jsonl(12, "tr"), "dev.jsonl": _jsonl(4, "dv"),
              "test.jsonl": _jsonl(3, "te")}


@pytest.fixture
def zenodo() -> Iterator[ZenodoStandIn]:
    with serve_zenodo() as state:
        state.add_record(PRED, PRED_FILES)
        yield state


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("PKHARVEST_CACHE", str(cache))
    monkeypatch.delenv("PKHARVEST_ZENODO_URL", raising=False)
    return cache


def _content_path(key: str, record: str = PRED) -> str:
    return f"/api/records/{record}/files/{key}/content"


def test_fetch_pred_into_cache(zenodo: ZenodoStandIn, _cache: Path) -> None:
    paths = fetch_corpus("pred", base_url=zenodo.base_url, retry_wait=0)
    assert [p.name for p in paths] == list(PRED_FILES)
    assert all(p.parent == _cache / "corpora" / "pred" for p in paths)
    for p in paths:
        assert p.read_bytes() == PRED_FILES[p.name]
    assert len(read_corpus(paths[0])) == 12
    assert not list((_cache / "corpora" / "pred").glob(".*.part"))


def test_downloads_report_their_bytes_as_progress_events(zenodo: ZenodoStandIn,
                                                         tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    fetch_corpus("pred", dest=tmp_path, base_url=zenodo.base_url, retry_wait=0,
                 progress=events.append)
    for key, body in PRED_FILES.items():
        mine = [e for e in events if e.task == key]
        assert mine[0].advance == 0 and mine[0].total == len(body)
        assert sum(e.advance for e in mine) == len(body)
        assert mine[-1].done and [e for e in mine if e.done] == [mine[-1]]
    events.clear()
    fetch_corpus("pred", dest=tmp_path, base_url=zenodo.base_url, retry_wait=0,
                 progress=events.append)
    assert events == []  # up to date: nothing downloaded


def test_second_fetch_is_a_no_op_unless_forced(zenodo: ZenodoStandIn, tmp_path: Path) -> None:
    fetch_corpus("pred", dest=tmp_path / "d", base_url=zenodo.base_url, retry_wait=0)
    fetch_corpus("pred", dest=tmp_path / "d", base_url=zenodo.base_url, retry_wait=0)
    assert zenodo.hits[_content_path("dev.jsonl")] == 1
    (tmp_path / "d" / "dev.jsonl").write_bytes(b"corrupted\n")  # a damaged copy is replaced
    fetch_corpus("pred", dest=tmp_path / "d", base_url=zenodo.base_url, retry_wait=0)
    assert zenodo.hits[_content_path("dev.jsonl")] == 2
    assert (tmp_path / "d" / "dev.jsonl").read_bytes() == PRED_FILES["dev.jsonl"]
    fetch_corpus("pred", dest=tmp_path / "d", base_url=zenodo.base_url, retry_wait=0,
                 force=True)
    assert zenodo.hits[_content_path("dev.jsonl")] == 3


def test_retries_a_500_on_record_and_file(zenodo: ZenodoStandIn, tmp_path: Path) -> None:
    zenodo.fail_once.update({f"/api/records/{PRED}", _content_path("train.jsonl")})
    paths = fetch_corpus("pred", dest=tmp_path, base_url=zenodo.base_url, retry_wait=0)
    assert len(paths) == 3
    assert zenodo.hits[f"/api/records/{PRED}"] == 2
    assert zenodo.hits[_content_path("train.jsonl")] == 2
    assert (tmp_path / "train.jsonl").read_bytes() == PRED_FILES["train.jsonl"]


def test_gives_up_after_persistent_5xx(zenodo: ZenodoStandIn, tmp_path: Path) -> None:
    zenodo.always_fail.add(_content_path("dev.jsonl"))
    with pytest.raises(FetchError, match=r"download of dev.jsonl failed after 3 attempts.*503"):
        fetch_corpus("pred", dest=tmp_path, base_url=zenodo.base_url, retry_wait=0,
                     attempts=3)
    assert zenodo.hits[_content_path("dev.jsonl")] == 3
    assert not (tmp_path / "dev.jsonl").exists()
    assert not list(tmp_path.glob(".*.part"))


def test_checksum_mismatch_leaves_no_file(zenodo: ZenodoStandIn, tmp_path: Path) -> None:
    zenodo.wrong_checksum.add("dev.jsonl")
    with pytest.raises(FetchError, match=r"dev\.jsonl: MD5 checksum mismatch"):
        fetch_corpus("pred", dest=tmp_path, base_url=zenodo.base_url, retry_wait=0)
    assert not (tmp_path / "dev.jsonl").exists()
    assert not list(tmp_path.glob(".*.part"))
    assert zenodo.hits[_content_path("dev.jsonl")] == 1  # a checksum mismatch is not retried


def test_short_download_is_retried_then_fails(zenodo: ZenodoStandIn, tmp_path: Path) -> None:
    zenodo.truncate.add("test.jsonl")
    with pytest.raises(FetchError, match="bytes, the record says"):
        fetch_corpus("pred", dest=tmp_path, base_url=zenodo.base_url, retry_wait=0,
                     attempts=2)
    assert zenodo.hits[_content_path("test.jsonl")] == 2
    assert not (tmp_path / "test.jsonl").exists()


def test_missing_record_is_a_clear_error(tmp_path: Path) -> None:
    with serve_zenodo() as empty, pytest.raises(FetchError, match="not found"):
        fetch_corpus("pkner", dest=tmp_path, base_url=empty.base_url, retry_wait=0)


def test_unreachable_server(tmp_path: Path) -> None:
    with serve_zenodo() as gone:
        url = gone.base_url
    with pytest.raises(FetchError, match="failed after 2 attempts"):
        fetch_corpus("pred", dest=tmp_path, base_url=url, retry_wait=0, attempts=2, timeout=2)


def test_env_base_url_and_legacy_links(zenodo: ZenodoStandIn, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    zenodo.legacy_links = True
    monkeypatch.setenv("PKHARVEST_ZENODO_URL", zenodo.base_url)
    files = record_files(PRED)
    assert [f.key for f in files] == list(PRED_FILES)
    assert files[0].md5 == hashlib.md5(PRED_FILES["train.jsonl"],
                                       usedforsecurity=False).hexdigest()
    assert len(fetch_corpus("pred", dest=tmp_path, retry_wait=0)) == 3


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in files.items():
            zf.writestr(k, v)
    return buf.getvalue()


def _targz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for k, v in files.items():
            info = tarfile.TarInfo(k)
            info.size = len(v)
            tf.addfile(info, io.BytesIO(v))
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_archives_are_unpacked(kind: str, tmp_path: Path) -> None:
    inner = {"pk-corpus/train.jsonl": _jsonl(5, "a"), "pk-corpus/test.jsonl": _jsonl(2, "b")}
    data = _zip(inner) if kind == "zip" else _targz(inner)
    with serve_zenodo() as z:
        z.add_record(PKNER, {f"pkner.{kind}": data, "README.md": b"# readme\n"})
        paths = fetch_corpus("pkner", dest=tmp_path, base_url=z.base_url, retry_wait=0)
    assert sorted(p.name for p in paths) == ["README.md", "test.jsonl", "train.jsonl"]
    assert (tmp_path / "train.jsonl").read_bytes() == inner["pk-corpus/train.jsonl"]
    assert len(read_corpus(tmp_path / "test.jsonl")) == 2


def test_unsafe_archive_member_is_refused(tmp_path: Path) -> None:
    with serve_zenodo() as z:
        z.add_record(PKNER, {"evil.zip": _zip({"../escape.jsonl": b"x\n"})})
        with pytest.raises(FetchError, match="unsafe member path"):
            fetch_corpus("pkner", dest=tmp_path / "d", base_url=z.base_url, retry_wait=0)
    assert not (tmp_path / "escape.jsonl").exists()


def test_parse_record_variants() -> None:
    base = "https://zenodo.example"
    inveniordm = {"files": {"enabled": True, "entries": {
        "dev.jsonl": {"size": 3, "checksum": "md5:ABC", "links": {"content": "/x/dev"}}}}}
    [f] = parse_record(inveniordm, "u", base, "1")
    assert (f.key, f.size, f.md5, f.url) == ("dev.jsonl", 3, "abc", f"{base}/x/dev")
    legacy = {"files": [{"filename": "a.jsonl", "checksum": "0123"}]}
    [g] = parse_record(legacy, "u", base, "9")
    assert g.md5 == "0123" and g.url == f"{base}/api/records/9/files/a.jsonl/content"
    with pytest.raises(FetchError, match="lists no files"):
        parse_record({"files": []}, "u", base, "1")


def test_bad_name_and_url() -> None:
    with pytest.raises(UsageError):
        fetch_corpus("pk2020")
    with pytest.raises(UsageError) as info:
        fetch_corpus("pred", base_url="ftp://zenodo.org")
    assert info.value.field == "zenodo_url"


# --- CLI ---------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_fetch(zenodo: ZenodoStandIn, tmp_path: Path) -> None:
    res = runner.invoke(app, ["corpus", "fetch", "pred", "--dest", str(tmp_path / "out"),
                              "--zenodo-url", zenodo.base_url])
    assert res.exit_code == 0, res.output
    for key in PRED_FILES:
        assert (tmp_path / "out" / key).exists()
        assert key in res.output


def test_cli_fetch_checksum_error_is_one_line(zenodo: ZenodoStandIn, tmp_path: Path) -> None:
    zenodo.wrong_checksum.add("train.jsonl")
    res = runner.invoke(app, ["corpus", "fetch", "pred", "--dest", str(tmp_path),
                              "--zenodo-url", zenodo.base_url])
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "MD5 checksum mismatch" in lines[0]
    assert "Traceback" not in res.output


def test_cli_fetch_unknown_corpus() -> None:
    res = runner.invoke(app, ["corpus", "fetch", "pk2020"])
    assert res.exit_code == 2
    assert "unknown corpus 'pk2020'" in res.output


def test_cli_help() -> None:
    for args in (["corpus", "--help"], ["corpus", "fetch", "--help"],
                 ["corpus", "stats", "--help"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and "Usage" in res.output
    assert "--zenodo-url" in runner.invoke(app, ["corpus", "fetch", "--help"]).output
