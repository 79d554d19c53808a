"""Download the published PK corpora from Zenodo (records API), checksums verified.

``GET {base}/api/records/{id}`` returns the record as JSON; its ``files`` (a list, or InvenioRDM's
``{"entries": ...}``) give each file's ``key`` (or ``filename``), ``size``, ``checksum``
(``"md5:…"``) and a download link (``links.content``, else ``links.self``, else
``links.download``; relative links are resolved against the base URL). Each file is streamed to
a temporary file beside its destination, its size and MD5 are checked, and only then is it
renamed into place: a failed or corrupt download leaves no partial file. Files already present
with the right MD5 are not downloaded again (``force=True`` re-downloads). Archives
(``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``) are unpacked into the same folder (a
single top-level folder inside the archive is dropped) and the unpacked files are returned in
place of the archive. 5xx/429 answers, timeouts and dropped connections are retried with
exponential back-off (tenacity); other HTTP errors and checksum mismatches are not.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urljoin

import requests
from filelock import FileLock
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from pkharvest.errors import FetchError, UsageError
from pkharvest.paths import cache_dir
from pkharvest.progress import ProgressEvent, ProgressSink, report

logger = logging.getLogger(__name__)

ENV_ZENODO_URL = "PKHARVEST_ZENODO_URL"
DEFAULT_ZENODO_URL = "https://zenodo.org"
# Published corpora: PRED (BioNLP 2024, train/dev/test with relations) and PKNER (Sci Rep 2024).
RECORDS: dict[str, str] = {"pred": "11187303", "pkner": "4646970"}
CORPORA_SUBDIR = "corpora"
LOCK_NAME = ".fetch.lock"
CHUNK_SIZE = 1 << 16
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_ATTEMPTS = 5
USER_AGENT = "pkharvest-corpus-fetch"
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a Zenodo record."""

    key: str
    url: str
    size: int | None
    md5: str | None


class _Transient(Exception):
    """A failure worth retrying (5xx, 429, timeout, dropped connection)."""


def zenodo_base_url(base_url: str | None = None) -> str:
    """The Zenodo base URL: the argument, ``PKHARVEST_ZENODO_URL`` or https://zenodo.org."""
    url = base_url or os.environ.get(ENV_ZENODO_URL) or DEFAULT_ZENODO_URL
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{url!r} is not an http(s) URL", field="zenodo_url")
    return url.rstrip("/")


def default_dest(name: str) -> Path:
    """Where ``fetch_corpus(name)`` puts files: ``<cache>/corpora/<name>/``."""
    return cache_dir() / CORPORA_SUBDIR / name


def is_archive(key: str) -> bool:
    return key.lower().endswith(_ARCHIVE_SUFFIXES)


def _retrying(attempts: int, retry_wait: float) -> Retrying:
    return Retrying(
        retry=retry_if_exception_type(_Transient),
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential(multiplier=retry_wait, max=max(retry_wait * 16, 0.0)),
        before_sleep=lambda rs: logger.warning(
            "retrying after %s (attempt %d)", rs.outcome.exception() if rs.outcome else "?",
            rs.attempt_number),
        reraise=False,
    )


def _get(session: requests.Session, url: str, timeout: float, *, stream: bool
         ) -> requests.Response:
    """GET ``url``; 5xx/429/timeouts raise :class:`_Transient`, other HTTP errors FetchError."""
    try:
        resp = session.get(url, timeout=timeout, stream=stream)
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise _Transient(f"{url}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code >= 500 or resp.status_code == 429:
        resp.close()
        raise _Transient(f"{url}: HTTP {resp.status_code}")
    if resp.status_code == 404:
        resp.close()
        raise FetchError(f"{url}: not found (HTTP 404)")
    if resp.status_code >= 400:
        resp.close()
        raise FetchError(f"{url}: HTTP {resp.status_code} {resp.reason}")
    return resp


def _with_retries(fn: Any, attempts: int, retry_wait: float, what: str) -> Any:
    try:
        return _retrying(attempts, retry_wait)(fn)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise FetchError(f"{what} failed after {attempts} attempts: {last}") from None


def _file_entries(record: dict[str, Any]) -> list[dict[str, Any]]:
    files = record.get("files")
    if isinstance(files, dict):  # InvenioRDM: {"enabled": true, "entries": {key: {...}}}
        files = files.get("entries", [])
        if isinstance(files, dict):
            files = [{"key": k, **v} for k, v in files.items() if isinstance(v, dict)]
    if not isinstance(files, list):
        return []
    return [f for f in files if isinstance(f, dict)]


def parse_record(record: Any, record_url: str, base_url: str, record_id: str
                 ) -> list[RemoteFile]:
    """The files of a records-API JSON answer. Raises FetchError when it lists none."""
    if not isinstance(record, dict):
        raise FetchError(f"{record_url}: expected a JSON object")
    out: list[RemoteFile] = []
    for f in _file_entries(record):
        key = f.get("key") or f.get("filename")
        if not isinstance(key, str) or not key:
            raise FetchError(f"{record_url}: a file entry has no key/filename")
        links = f.get("links") if isinstance(f.get("links"), dict) else {}
        link = links.get("content") or links.get("self") or links.get("download")
        if not link:
            link = f"{base_url}/api/records/{record_id}/files/{quote(key)}/content"
        checksum = f.get("checksum")
        md5 = None
        if isinstance(checksum, str) and checksum:
            algo, _, digest = checksum.partition(":")
            if not digest:  # legacy records give the bare MD5
                algo, digest = "md5", algo
            if algo.lower() == "md5":
                md5 = digest.lower()
        size = f.get("size") if isinstance(f.get("size"), int) else None
        out.append(RemoteFile(key=key, url=urljoin(base_url + "/", link), size=size, md5=md5))
    if not out:
        raise FetchError(f"{record_url}: the record lists no files")
    return out


def record_files(record_id: str, base_url: str | None = None, *,
                 session: requests.Session | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 attempts: int = DEFAULT_ATTEMPTS, retry_wait: float = 1.0) -> list[RemoteFile]:
    """List the files of Zenodo record ``record_id``."""
    base = zenodo_base_url(base_url)
    url = f"{base}/api/records/{record_id}"
    sess = session or _session()

    def get() -> Any:
        resp = _get(sess, url, timeout, stream=False)
        try:
            return resp.json()
        except ValueError:
            raise FetchError(f"{url}: the answer is not JSON") from None

    record = _with_retries(get, attempts, retry_wait, f"GET {url}")
    return parse_record(record, url, base, record_id)


def _session() -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    return s


def md5sum(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_SIZE), b""):
            h.update(chunk)
    return h.hexdigest()


def _safe_name(key: str) -> str:
    name = PurePosixPath(key).name
    if not name or name != key or name.startswith(".") or "\\" in key:
        raise FetchError(f"refusing to write file with unsafe name {key!r}")
    return name


def _download(sess: requests.Session, rf: RemoteFile, target: Path, timeout: float,
              progress: ProgressSink | None) -> None:
    """One attempt: stream ``rf`` into a temporary file beside ``target``, check, rename.
    Reports the bytes written as task ``rf.key``."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    started = False
    try:
        resp = _get(sess, rf.url, timeout, stream=True)
        with resp, tmp.open("wb") as out:
            total = rf.size or int(resp.headers.get("Content-Length") or 0) or None
            report(progress, ProgressEvent(rf.key, total=total))
            started = True
            h = hashlib.md5(usedforsecurity=False)
            written = 0
            try:
                for chunk in resp.iter_content(CHUNK_SIZE):
                    out.write(chunk)
                    h.update(chunk)
                    written += len(chunk)
                    report(progress, ProgressEvent(rf.key, advance=len(chunk), total=total))
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                raise _Transient(f"{rf.url}: download interrupted: {exc}") from exc
        if rf.size is not None and written != rf.size:
            raise _Transient(f"{rf.url}: got {written} bytes, the record says {rf.size}")
        digest = h.hexdigest()
        if rf.md5 is not None and digest != rf.md5:
            raise FetchError(f"{rf.key}: MD5 checksum mismatch (got {digest}, the record says "
                             f"{rf.md5}); nothing was kept")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
        if started:
            report(progress, ProgressEvent(rf.key, done=True))


def _members(root: Path) -> Iterator[Path]:
    yield from (p for p in sorted(root.rglob("*")) if p.is_file())


def _unpack(archive: Path, dest: Path) -> list[Path]:
    """Unpack ``archive`` into ``dest`` (dropping a single top-level folder); returns the files."""
    with tempfile.TemporaryDirectory(dir=dest, prefix=".unpack-") as tmp_dir:
        tmp = Path(tmp_dir)
        try:
            if archive.name.lower().endswith(".zip"):
                with zipfile.ZipFile(archive) as zf:
                    for info in zf.infolist():
                        parts = PurePosixPath(info.filename).parts
                        if info.filename.startswith("/") or ".." in parts:
                            raise FetchError(f"{archive.name}: unsafe member path "
                                             f"{info.filename!r}")
                    zf.extractall(tmp)
            else:
                with tarfile.open(archive) as tf:
                    tf.extractall(tmp, filter="data")
        except (zipfile.BadZipFile, tarfile.TarError) as exc:
            raise FetchError(f"{archive.name}: cannot unpack: {exc}") from None
        top = [p for p in tmp.iterdir() if not p.name.startswith("__MACOSX")]
        root = top[0] if len(top) == 1 and top[0].is_dir() else tmp
        out: list[Path] = []
        for src in _members(root):
            rel = src.relative_to(root)
            if any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, target)
            out.append(target)
    return out


def fetch_corpus(
    name: str,
    dest: str | Path | None = None,
    base_url: str | None = None,
    *,
    force: bool = False,
    progress: ProgressSink | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    attempts: int = DEFAULT_ATTEMPTS,
    retry_wait: float = 1.0,
) -> list[Path]:
    """Download corpus ``name`` (``pred`` or ``pkner``) into ``dest`` (default
    ``<cache>/corpora/<name>/``) and return the data files (archives unpacked), in the order the
    record lists them. ``progress`` hears of each download
    (:class:`~pkharvest.progress.ProgressEvent`, task: the file's key, units: bytes)."""
    if name not in RECORDS:
        raise UsageError(f"unknown corpus {name!r} (expected one of {', '.join(RECORDS)})",
                         field="name")
    record_id = RECORDS[name]
    base = zenodo_base_url(base_url)
    folder = Path(dest) if dest is not None else default_dest(name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"{folder}: cannot create the folder: {exc.strerror or exc}") from None
    sess = _session()
    files = record_files(record_id, base, session=sess, timeout=timeout, attempts=attempts,
                         retry_wait=retry_wait)
    logger.info("Zenodo record %s (%s) lists %d files", record_id, name, len(files))
    out: list[Path] = []
    with FileLock(str(folder / LOCK_NAME)):
        for rf in files:
            target = folder / _safe_name(rf.key)
            fresh = force or not target.exists() or (
                rf.md5 is not None and md5sum(target) != rf.md5)
            if fresh:
                _with_retries(lambda rf=rf, target=target: _download(sess, rf, target, timeout,
                                                                       progress),
                              attempts, retry_wait, f"download of {rf.key}")
                logger.info("downloaded %s (%s bytes)", target, rf.size)
            else:
                logger.info("%s is up to date", target)
            if is_archive(rf.key):
                out.extend(_unpack(target, folder))
            else:
                out.append(target)
    return out
