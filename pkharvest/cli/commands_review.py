"""``pkharvest review``: the review web app, and ``review export`` (corrections as corpus
lines). Exit codes: 0 ok; 1 store error; 2 usage error (bad option, missing extra, port in
use); 3 store locked by a run."""

from __future__ import annotations

import getpass
import ipaddress
import secrets
import socket
from pathlib import Path

import typer

from pkharvest.cli import app, console, err_console, handle_errors
from pkharvest.errors import UsageError

review_app = typer.Typer(
    help="Review extracted values in the browser; export the reviewed sentences as corpus "
    "lines.",
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(review_app, name="review")

EXTRA_HINT = "pip install 'pkharvest[review]' (Starlette, uvicorn, python-multipart)"
_DB_HELP = "The DuckDB store file."


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_extra() -> None:
    missing = []
    for module in ("starlette", "uvicorn", "multipart", "jinja2"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise UsageError(f"the review app needs {', '.join(missing)}: {EXTRA_HINT}",
                         option="review")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}",
                         option="--port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@review_app.callback()
@handle_errors
def review_cmd(
    ctx: typer.Context,
    db: Path | None = typer.Option(None, "--db", help=_DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to listen on; other than loopback needs the token "
                             "printed at start."),
    port: int = typer.Option(8765, "--port", help="Port to listen on (0: any free port)."),
    reviewer: str = typer.Option("", "--reviewer",
                                 help="Reviewer name filled into the forms \\[default: the "
                                 "login name]."),
    lock_wait: float = typer.Option(10.0, "--lock-wait",
                                    help="Seconds a decision waits for the store's lock."),
) -> None:
    """Start the review web app on the store: a queue of measurements ordered by need;
    accept, reject or correct each, fix entity spans; a JSON API under /api (see
    docs/review.md). Decisions go to the store's review table, never over the extracted rows.
    Stop it with Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    if db is None:
        raise UsageError("give the store file to review", option="--db")
    if not db.is_file():
        raise UsageError(f"{db}: no such store", option="--db")
    if not 0 <= port <= 65535:
        raise UsageError(f"{port} is not a port number", option="--port")
    _check_extra()
    import uvicorn

    from pkharvest.review.app import ReviewConfig, create_app
    from pkharvest.store import Store

    with Store(db) as store:  # brings the store to the current schema (review table)
        counts = store.review_counts()
    token = None if _is_loopback(host) else secrets.token_urlsafe(18)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound_port}/queue" + (f"?token={token}" if token else "")
    config = ReviewConfig(db=db, token=token, reviewer=reviewer or _login(), lock_wait=lock_wait)
    console.print(f"Reviewing {db}: {counts['todo'] + counts['changed']} to review, "
                  f"{counts['done']} reviewed")
    console.print(f"Open {url}", soft_wrap=True)
    if token:
        err_console.print(f"Listening on {host}, not loopback: clients need the token above.")
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning",
                                           access_log=False))
    server.run(sockets=[sock])


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


@review_app.command("export")
@handle_errors
def export_cmd(
    db: Path = typer.Option(..., "--db", help=_DB_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="JSONL file to write (overwritten)."),
) -> None:
    """Write every reviewed sentence as a corpus line (text, tokens, spans, relations; the
    format of the annotated corpus): rejected values removed, fixed spans used. Train on it
    with `pkharvest train --corpus SHARED --corpus OUT`."""
    from pkharvest.review.export import export_corrections
    from pkharvest.store import Store

    if not db.is_file():
        raise UsageError(f"{db}: no such store", option="--db")
    if out.is_dir():
        raise UsageError(f"{out} is a folder; give a file name", option="--out")
    if not out.parent.is_dir():
        raise UsageError(f"folder {out.parent} does not exist", option="--out")
    with Store(db, read_only=True, lock=False) as store:
        n = export_corrections(store, out)
    console.print(f"Wrote {n} reviewed sentence(s) to {out}")
