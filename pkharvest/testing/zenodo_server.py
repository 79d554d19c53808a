"""A loopback stand-in for Zenodo's records API (real HTTP on 127.0.0.1, in a thread).

``GET /api/records/<id>`` answers the record JSON (``files`` with key, size, ``md5:`` checksum
and ``links.self``/``links.content``); ``GET /api/records/<id>/files/<key>/content`` answers the
bytes. Faults: ``fail_once`` (paths that answer 500 the first time), ``wrong_checksum`` (keys
whose advertised MD5 is wrong), ``truncate`` (keys served one byte short), ``always_fail``
(paths that always answer 503). ``hits`` counts requests per path.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote


@dataclass
class ZenodoStandIn:
    records: dict[str, dict[str, bytes]] = field(default_factory=dict)
    fail_once: set[str] = field(default_factory=set)
    always_fail: set[str] = field(default_factory=set)
    wrong_checksum: set[str] = field(default_factory=set)
    truncate: set[str] = field(default_factory=set)
    legacy_links: bool = False  # only links.self (older records), else links.content too
    hits: Counter[str] = field(default_factory=Counter)
    base_url: str = ""

    def add_record(self, record_id: str, files: dict[str, bytes]) -> None:
        self.records[record_id] = dict(files)

    def record_json(self, record_id: str) -> dict:
        entries = []
        for key, data in self.records[record_id].items():
            md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            if key in self.wrong_checksum:
                md5 = "0" * 32
            url = f"{self.base_url}/api/records/{record_id}/files/{quote(key)}/content"
            links = {"self": url} if self.legacy_links else {"self": url, "content": url}
            entries.append({"id": f"f-{key}", "key": key, "size": len(data),
                            "checksum": f"md5:{md5}", "links": links})
        return {"id": int(record_id), "metadata": {"title": f"record {record_id}"},
                "files": entries}


def _handler(state: ZenodoStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            return

        def _send(self, code: int, body: bytes, ctype: str = "application/json",
                  length: int | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            state.hits[path] += 1
            if path in state.always_fail:
                self._send(503, b'{"message": "unavailable"}')
                return
            if path in state.fail_once and state.hits[path] == 1:
                self._send(500, b'{"message": "internal error"}')
                return
            parts = [unquote(p) for p in path.strip("/").split("/")]
            if len(parts) == 3 and parts[:2] == ["api", "records"]:
                if parts[2] not in state.records:
                    self._send(404, b'{"message": "not found"}')
                    return
                self._send(200, json.dumps(state.record_json(parts[2])).encode())
                return
            if (len(parts) == 6 and parts[:2] == ["api", "records"] and parts[3] == "files"
                    and parts[5] == "content"):
                files = state.records.get(parts[2], {})
                if parts[4] not in files:
                    self._send(404, b'{"message": "no such file"}')
                    return
                data = files[parts[4]]
                if parts[4] in state.truncate:
                    data = data[:-1]
                self._send(200, data, "application/octet-stream")
                return
            self._send(404, b'{"message": "no route"}')

    return Handler


@contextmanager
def serve_zenodo(state: ZenodoStandIn | None = None) -> Iterator[ZenodoStandIn]:
    """Run the stand-in on an ephemeral 127.0.0.1 port for the ``with`` block."""
    state = state or ZenodoStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
