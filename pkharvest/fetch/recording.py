"""Record/replay of raw E-utilities responses, so that a search can be re-run offline and gives
the same articles (PRISMA-style reproducibility).

Errors name the command-line options ``--record`` and ``--replay`` (the folders' only source).

A recording folder holds one file per response, named by a stable hash of the endpoint and the
sorted request parameters (credentials ``api_key``/``email``/``tool`` excluded, so a recording made
with a key replays without one), plus ``index.json`` describing each request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pkharvest.errors import FetchError, UsageError

logger = logging.getLogger(__name__)

INDEX_FILE = "index.json"
#: The fields (HarvestOptions, EutilsClient arguments) a recording's errors name.
RECORD_FIELD = "record"
REPLAY_FIELD = "replay"
RESPONSE_SUFFIX = ".xml"
EXCLUDED_PARAMS = frozenset({"api_key", "email", "tool"})


def canonical_params(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters that identify a request: credentials removed, keys sorted."""
    return {k: str(params[k]) for k in sorted(params) if k not in EXCLUDED_PARAMS}


def request_key(endpoint: str, params: Mapping[str, str]) -> str:
    """A stable hash of ``endpoint`` + sorted parameters (credentials excluded)."""
    payload = json.dumps(
        {"endpoint": endpoint, "params": canonical_params(params)},
        sort_keys=True,
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("ascii")).hexdigest()[:24]


def _describe(endpoint: str, params: Mapping[str, str]) -> str:
    shown = {
        k: (v if len(v) <= 80 else v[:77] + "...") for k, v in canonical_params(params).items()
    }
    return f"{endpoint} {json.dumps(shown, ensure_ascii=False)}"


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class RecordedRequest:
    key: str
    endpoint: str
    params: dict[str, str]
    file: str
    recorded_at: str


class Recorder:
    """Writes every successful raw response into ``directory`` (thread-safe)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise UsageError(f"{self.directory} is a file, not a folder", field=RECORD_FIELD)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"cannot create the recording folder {self.directory}: {exc.strerror or exc}",
                field=RECORD_FIELD,
            ) from None
        self._lock = threading.Lock()
        index_path = self.directory / INDEX_FILE
        self._index: dict[str, dict[str, object]] = {}
        if index_path.exists():
            self._index = _load_index(self.directory, RECORD_FIELD)

    def save(self, endpoint: str, params: Mapping[str, str], body: bytes) -> Path:
        key = request_key(endpoint, params)
        path = self.directory / f"{key}{RESPONSE_SUFFIX}"
        with self._lock:
            try:
                _atomic_write(path, body)
                self._index[key] = {
                    "endpoint": endpoint,
                    "params": canonical_params(params),
                    "file": path.name,
                    "bytes": len(body),
                    "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                }
                text = json.dumps(self._index, indent=1, sort_keys=True, ensure_ascii=False)
                _atomic_write(self.directory / INDEX_FILE, text.encode("utf-8"))
            except OSError as exc:
                raise FetchError(
                    f"cannot write the recording in {self.directory}: {exc.strerror or exc}",
                    field=RECORD_FIELD,
                ) from None
        logger.debug("recorded %s -> %s", endpoint, path.name)
        return path


def _load_index(directory: Path, name: str) -> dict[str, dict[str, object]]:
    path = directory / INDEX_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FetchError(f"cannot read recording index {path}: {exc}", field=name) from None
    if not isinstance(data, dict):
        raise FetchError(
            f"{path} is not a recording index (expected a JSON object)", field=name
        )
    return data


class Replayer:
    """Serves responses from a folder written by :class:`Recorder`; never touches the network."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        if not (self.directory / INDEX_FILE).is_file():
            raise FetchError(
                f"{self.directory} is not a recording (no {INDEX_FILE}); "
                "record one first with --record",
                field=REPLAY_FIELD,
            )
        self._index = _load_index(self.directory, REPLAY_FIELD)

    def __len__(self) -> int:
        return len(self._index)

    def requests(self) -> list[RecordedRequest]:
        return [
            RecordedRequest(
                key=k,
                endpoint=str(v.get("endpoint")),
                params=dict(v.get("params", {})),  # type: ignore[arg-type]
                file=str(v.get("file")),
                recorded_at=str(v.get("recorded_at")),
            )
            for k, v in sorted(self._index.items())
        ]

    def load(self, endpoint: str, params: Mapping[str, str]) -> bytes:
        key = request_key(endpoint, params)
        path = self.directory / f"{key}{RESPONSE_SUFFIX}"
        if key not in self._index or not path.is_file():
            raise FetchError(
                f"request not in recording {self.directory}: "
                f"{_describe(endpoint, params)} (key {key})",
                field=REPLAY_FIELD,
            )
        try:
            return path.read_bytes()
        except OSError as exc:
            raise FetchError(
                f"cannot read {path}: {exc.strerror or exc}", field=REPLAY_FIELD
            ) from None
