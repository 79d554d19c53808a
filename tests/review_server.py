"""A review app served by uvicorn on a loopback port in a thread (for the API and browser
tests), and the review CLI as a separate process (for lock and kill tests)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import uvicorn

from pkharvest.review.app import ReviewConfig, create_app

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve(db: Path, **options: object) -> Iterator[str]:
    """The app over ``db`` on 127.0.0.1 (a free port); yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    config = ReviewConfig(db=db, **options)  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("review app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def review_process(db: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``pkharvest review --db DB --port 0`` as a child process; yields it and its URL."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from pkharvest.cli import main; main()", "review", "--db",
         str(db), "--port", "0", "--reviewer", "proc", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    try:
        url = None
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"Open (http://\S+)/queue", line)
            if m:
                url = m.group(1)
        if url is None:
            raise RuntimeError(f"review did not start: {proc.poll()} {proc.stdout.read()}")
        while time.monotonic() < deadline:
            try:
                requests.get(url + "/api/items?limit=1", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
