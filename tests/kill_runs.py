"""Running the CLI in a real subprocess and killing it with SIGKILL once the loopback
E-utilities stand-in sees a given request (the kill-and-resume tests of search and full text).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pkharvest.testing.eutils_server import EutilsServer

SEED = int(os.environ.get("PKHARVEST_KILL_SEED", "20261125"))
FETCH_BATCH = 2
STARTUP_TIMEOUT = 120.0  # seconds a subprocess may take to reach a trigger on a busy machine

# The subprocess: the console script's entry point, exactly as `pkharvest ...` runs it.
DRIVER = "import sys; from pkharvest.cli import main; sys.argv[0] = 'pkharvest'; main()"


def cli_args(command: str, db: Path, model: Path, server: EutilsServer, *extra: str) -> list[str]:
    return [
        command,
        *extra,
        "--db",
        str(db),
        "--model",
        str(model),
        "--eutils-url",
        server.url,
        "--threshold",
        "0",
        "--fetch-batch",
        str(FETCH_BATCH),
        "--json",
    ]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PKHARVEST_EUTILS_URL", None)
    env.pop("NCBI_API_KEY", None)  # 3 requests/s: slow enough to land kills between requests
    return env


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    fh = log.open("wb")
    try:
        return subprocess.Popen(
            [sys.executable, "-c", DRIVER, *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=subprocess_env(),
            cwd=log.parent,
        )
    finally:
        fh.close()


Trigger = Callable[[], bool]


def kill_at(args: list[str], log: Path, trigger: Trigger, delay: float) -> int | None:
    """Run the CLI; once ``trigger()`` holds, wait ``delay`` seconds and SIGKILL it.
    Returns the exit code if it ended by itself first, else None."""
    proc = spawn(args, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while not trigger():
            if proc.poll() is not None:
                return proc.returncode
            if time.monotonic() > deadline:
                pytest.fail(f"trigger never fired; log:\n{log.read_text(errors='replace')}")
            time.sleep(0.005)
        time.sleep(delay)
        if proc.poll() is not None:
            return proc.returncode
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        return None
    finally:
        if proc.poll() is None:  # pragma: no cover - only when the test itself fails
            proc.kill()
            proc.wait(timeout=30)
