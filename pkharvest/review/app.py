"""The review web app (Starlette, server-rendered Jinja2 templates, htmx served from package
data: it works offline).

Store access: every request opens the store and closes it before answering, so the app never
keeps the store from a ``refresh``. Reads open it read-only; a decision opens it for writing
through the store's lock (waiting at most ``lock_wait`` seconds) and is committed before the
answer, so a killed server loses no decision it has answered. A busy store gives 503 with a
message (JSON on the API).

Security: bound to loopback by default. On another host a token is required (``?token=`` once,
kept in a cookie, or ``Authorization: Bearer``). Forms carry a CSRF token; the JSON API takes
only ``application/json`` bodies (which a cross-site form cannot send), and a POST whose
``Origin`` is another host is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pkharvest.corpus.records import ENTITY_LABELS
from pkharvest.errors import PkHarvestError, StoreLockedError, UsageError
from pkharvest.review.fields import (
    CORRECTABLE,
    PARAMETERS,
    POPULATIONS,
    REJECT_REASONS,
    STATISTICS,
    ReviewInputError,
    check_decision,
    check_reviewer,
    check_spans,
)
from pkharvest.store.review import (
    QUEUE_STATUSES,
    QueueFilter,
    ReviewItem,
    ReviewNotFoundError,
    ReviewStaleError,
)

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
TOKEN_COOKIE = "pkharvest_review_token"
REVIEWER_COOKIE = "pkharvest_reviewer"
PAGE_SIZE = 50
MAX_API_LIMIT = 1000
FILTERS = ("drug", "parameter", "population", "source", "q", "status")


@dataclass(frozen=True)
class ReviewConfig:
    db: Path
    token: str | None = None  # required from clients when set (non-loopback host)
    reviewer: str = ""  # default reviewer name shown in forms
    lock_wait: float = 10.0  # seconds a decision waits for the store's lock


def _status_code(exc: PkHarvestError) -> int:
    if isinstance(exc, ReviewNotFoundError):
        return 404
    if isinstance(exc, ReviewStaleError):
        return 409
    if isinstance(exc, StoreLockedError):
        return 503
    if isinstance(exc, UsageError):
        return 400
    return 500


def segments(text: str, spans: list[tuple[int, int, str]]) -> list[dict[str, Any]]:
    """``text`` cut into pieces, each with its entity label (or None) and start offset."""
    out: list[dict[str, Any]] = []
    pos = 0
    for start, end, label in sorted(spans):
        if start < pos or end > len(text):
            continue  # overlapping or outside: shown as plain text
        if start > pos:
            out.append({"text": text[pos:start], "label": None, "start": pos})
        out.append({"text": text[start:end], "label": label, "start": start})
        pos = end
    if pos < len(text):
        out.append({"text": text[pos:], "label": None, "start": pos})
    return out


def item_spans(item: ReviewItem) -> list[tuple[int, int, str]]:
    if item.spans is not None:
        return [(s.start, s.end, s.label) for s in item.spans]
    return [(e.start, e.end, e.label) for e in item.mentions]


def item_json(item: ReviewItem) -> dict[str, Any]:
    m = item.measurement
    return {
        "id": item.id,
        "pmid": m.pmid,
        "parameter": m.parameter,
        "parameter_text": m.parameter_text,
        "value": m.value,
        "value_text": m.value_text,
        "deviation": m.deviation,
        "unit": m.unit_text,
        "unit_canonical": m.unit,
        "value_canonical": m.value_canonical,
        "drug": m.drug,
        "flags": list(m.flags),
        "n": getattr(m, "n", None),
        "statistic": getattr(m, "statistic", None),
        "population": getattr(m, "population", None),
        "evidence": item.sentence if item.sentence is not None else item.evidence,
        "status": item.status,
        "decision": item.decision,
        "reason": item.reason,
        "fields": item.fields,
        "reviewer": item.reviewer,
        "version": item.version,
        "confidence": item.confidence,
        "spans": [{"start": s, "end": e, "label": lab} for s, e, lab in item_spans(item)],
    }


def create_app(config: ReviewConfig) -> Starlette:
    """The review app over the store ``config.db`` (which must exist at the current schema)."""
    from pkharvest.store import Store

    env = Environment(loader=PackageLoader("pkharvest.review", "templates"),
                      autoescape=select_autoescape(["html"]))
    env.filters["urlid"] = lambda s: quote(str(s), safe="")
    csrf_key = secrets.token_bytes(32)
    store_guard = threading.Lock()  # one store connection at a time in this process

    @contextmanager
    def open_store(write: bool = False) -> Iterator[Any]:
        with store_guard:
            if write:
                store = Store(config.db, lock_timeout=config.lock_wait)
            else:  # a store another process writes is StoreLockedError (Store says so)
                store = Store(config.db, read_only=True, lock=False)
            try:
                yield store
            finally:
                store.close()

    def csrf_token(request: Request) -> str:
        # A per-server secret bound to the client's token cookie (empty on loopback): pages of
        # other sites cannot read it, so they cannot post a form here (synchroniser token).
        seed = request.cookies.get(TOKEN_COOKIE, "")
        return hmac.new(csrf_key, seed.encode(), hashlib.sha256).hexdigest()

    def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.update(
            request=request,
            csrf=csrf_token(request),
            reviewer=request.cookies.get(REVIEWER_COOKIE) or config.reviewer,
            labels=ENTITY_LABELS,
        )
        return HTMLResponse(env.get_template(name).render(**ctx), status_code=status)

    def filters_of(request: Request) -> tuple[QueueFilter, dict[str, str]]:
        qp = request.query_params
        given = {k: qp.get(k, "").strip() for k in FILTERS if qp.get(k, "").strip()}
        status = given.get("status", "todo")
        if status not in QUEUE_STATUSES:
            raise UsageError(f"must be one of {', '.join(QUEUE_STATUSES)}", field="status")
        return QueueFilter(drug=given.get("drug", ""), parameter=given.get("parameter", ""),
                           population=given.get("population", ""),
                           source=given.get("source", ""), search=given.get("q", ""),
                           status=status), given

    def error_page(request: Request, exc: PkHarvestError) -> Response:
        return render(request, "error.html", status=_status_code(exc), message=str(exc))

    # -- pages --------------------------------------------------------------------------------

    async def index(request: Request) -> Response:
        return RedirectResponse("/queue", status_code=303)

    async def queue(request: Request) -> Response:
        try:
            f, given = filters_of(request)
            try:
                page = max(1, int(request.query_params.get("page", "1")))
            except ValueError:
                raise UsageError("not a page number", field="page") from None
            with open_store() as store:
                items = store.review_queue(f, limit=PAGE_SIZE + 1,
                                           offset=(page - 1) * PAGE_SIZE)
                counts = store.review_counts()
        except PkHarvestError as exc:
            return error_page(request, exc)
        more = len(items) > PAGE_SIZE
        template = "queue_rows.html" if request.headers.get("HX-Request") and \
            request.headers.get("HX-Target") == "queue-rows" else "queue.html"
        return render(request, template, items=items[:PAGE_SIZE], counts=counts, page=page,
                      more=more, given=given, qs=urlencode(given), statuses=QUEUE_STATUSES,
                      parameters=PARAMETERS, populations=POPULATIONS,
                      segments=segments, item_spans=item_spans)

    async def item_page(request: Request) -> Response:
        mid = request.path_params["mid"]
        try:
            f, given = filters_of(request)
            with open_store() as store:
                item = store.review_item(mid)
                ids = store.review_queue_ids(f)
        except PkHarvestError as exc:
            return error_page(request, exc)
        nxt = _next_id(ids, mid)
        return render(request, "item.html", item=item, m=item.measurement,
                      sentence_segments=segments(item.sentence, item_spans(item))
                      if item.sentence is not None else None,
                      spans_json=json.dumps([{"start": s, "end": e, "label": lab}
                                             for s, e, lab in item_spans(item)]),
                      next_id=nxt, given=given, qs=urlencode(given), position=(
                          ids.index(mid) + 1 if mid in ids else None), total=len(ids),
                      parameters=PARAMETERS, statistics=STATISTICS, populations=POPULATIONS,
                      reasons=REJECT_REASONS, notice=request.query_params.get("notice", ""))

    async def check_form(request: Request) -> tuple[dict[str, str], Response | None]:
        form = await request.form()
        data = {k: str(v) for k, v in form.items()}
        if not hmac.compare_digest(data.get("csrf", ""), csrf_token(request)):
            exc = UsageError("the form's CSRF token is missing or wrong; reload the page",
                             field="csrf")
            return data, render(request, "error.html", status=403, message=str(exc))
        return data, None

    def after_decision(request: Request, mid: str, data: dict[str, str], reviewer: str,
                       before: list[str], after: list[str], notice: str) -> Response:
        qs = data.get("qs", "")
        nxt = _following(before, after, mid)
        target = f"/items/{quote(nxt, safe='')}" if nxt else "/queue"
        params = [p for p in (qs, urlencode({"notice": notice})) if p]
        response = RedirectResponse(f"{target}?{'&'.join(params)}", status_code=303)
        response.set_cookie(REVIEWER_COOKIE, reviewer, httponly=True, samesite="strict")
        return response

    async def decide_form(request: Request) -> Response:
        mid = request.path_params["mid"]
        data, refused = await check_form(request)
        if refused is not None:
            return refused
        decision = data.get("decision", "")
        reviewer = (data.get("reviewer") or "").strip() or \
            request.cookies.get(REVIEWER_COOKIE) or config.reviewer
        payload: dict[str, Any] = {"decision": decision, "reviewer": reviewer,
                                   "reason": data.get("reason") or None}
        if decision == "correct":
            payload["fields"] = {k: data[k] for k in CORRECTABLE if data.get(k, "").strip()}
        try:
            with open_store(write=True) as store:
                item = store.review_item(mid)
                checked = check_decision(payload, item.measurement)
                before = _queue_ids_from(store, data.get("qs", ""))
                store.record_decision(mid, checked, expect=data.get("version", ""))
                after = _queue_ids_from(store, data.get("qs", ""))
        except PkHarvestError as exc:
            return error_page(request, exc)
        return after_decision(request, mid, data, checked.reviewer, before, after,
                              f"{decision} saved for {mid}")

    async def spans_form(request: Request) -> Response:
        mid = request.path_params["mid"]
        data, refused = await check_form(request)
        if refused is not None:
            return refused
        try:
            reviewer = check_reviewer((data.get("reviewer") or "").strip() or request.cookies.get(
                REVIEWER_COOKIE) or config.reviewer)
            try:
                raw = json.loads(data.get("spans", ""))
            except json.JSONDecodeError:
                raise ReviewInputError("not a JSON list of spans", field="spans") from None
            with open_store(write=True) as store:
                item = store.review_item(mid)
                if item.sentence is None:
                    raise ReviewInputError("a table value has no sentence", field="spans")
                spans = check_spans(raw, item.sentence)
                store.record_spans(mid, spans, reviewer, expect=data.get("version", ""))
        except PkHarvestError as exc:
            return error_page(request, exc)
        qs = data.get("qs", "")
        notice = urlencode({"notice": f"spans saved for {mid}"})
        response = RedirectResponse(f"/items/{quote(mid, safe='')}?{qs + '&' if qs else ''}"
                                    f"{notice}", status_code=303)
        response.set_cookie(REVIEWER_COOKIE, reviewer, httponly=True, samesite="strict")
        return response

    # -- JSON API -----------------------------------------------------------------------------

    def api_error(exc: PkHarvestError) -> JSONResponse:
        return JSONResponse({"error": str(exc), "field": exc.field},
                            status_code=_status_code(exc))

    async def api_items(request: Request) -> Response:
        try:
            f, _ = filters_of(request)
            raw = request.query_params.get("limit", "50")
            try:
                limit = int(raw)
            except ValueError:
                raise UsageError(f"not a whole number: {raw!r}", field="limit") from None
            if not 1 <= limit <= MAX_API_LIMIT:
                raise UsageError(f"must be from 1 to {MAX_API_LIMIT}", field="limit")
            with open_store() as store:
                items = store.review_queue(f, limit=limit)
        except PkHarvestError as exc:
            return api_error(exc)
        return JSONResponse({"items": [item_json(i) for i in items]})

    async def api_item(request: Request) -> Response:
        try:
            with open_store() as store:
                item = store.review_item(request.path_params["mid"])
        except PkHarvestError as exc:
            return api_error(exc)
        return JSONResponse(item_json(item))

    async def api_decide(request: Request) -> Response:
        mid = request.path_params["mid"]
        try:
            if request.headers.get("content-type", "").split(";")[0].strip() != \
                    "application/json":
                raise UsageError("send the decision as application/json", field="body")
            try:
                payload = json.loads(await request.body())
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ReviewInputError("not valid JSON", field="body") from None
            if not isinstance(payload, dict):
                raise ReviewInputError("expected a JSON object", field="body")
            version = payload.get("version")
            if version is not None and not isinstance(version, str):
                raise ReviewInputError("not a version string", field="version")
            with open_store(write=True) as store:
                item = store.review_item(mid)
                checked = check_decision(payload, item.measurement)
                decision_id = store.record_decision(mid, checked, expect=version)
                item = store.review_item(mid)
        except PkHarvestError as exc:
            return api_error(exc)
        return JSONResponse({"decision_id": decision_id, "item": item_json(item),
                             "decision": asdict(checked)})

    # -- guards -------------------------------------------------------------------------------

    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                    ) -> Response:
        set_cookie = False
        if config.token is not None:
            given = request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE, "")
            auth = request.headers.get("authorization", "")
            if auth.lower().startswith("bearer "):
                given = auth[7:].strip()
            if not hmac.compare_digest(given, config.token):
                return _refuse(request, 401, "token", "a token is required: open the URL "
                               "printed by `pkharvest review` (it ends in ?token=...)")
            set_cookie = request.cookies.get(TOKEN_COOKIE) != config.token
        if request.method == "POST":
            origin = request.headers.get("origin")
            if origin and urlsplit(origin).netloc != request.headers.get("host"):
                return _refuse(request, 403, "origin",
                               f"cross-site request refused (Origin {origin})")
        response = await call_next(request)
        if set_cookie:
            response.set_cookie(TOKEN_COOKIE, config.token or "", httponly=True,
                                samesite="strict")
        return response

    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware

    routes = [
        Route("/", index),
        Route("/queue", queue),
        Route("/items/{mid:path}/decide", decide_form, methods=["POST"]),
        Route("/items/{mid:path}/spans", spans_form, methods=["POST"]),
        Route("/items/{mid:path}", item_page),
        Route("/api/items", api_items),
        Route("/api/items/{mid:path}", api_item, methods=["GET"]),
        Route("/api/items/{mid:path}", api_decide, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard)])


def _refuse(request: Request, status: int, field: str, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": f"{field}: {message}", "field": field},
                            status_code=status)
    return HTMLResponse(f"<!doctype html><title>refused</title><p>{message}</p>",
                        status_code=status)


def _following(before: list[str], after: list[str], current: str) -> str | None:
    """After a decision on ``current``: the next item of the queue as it was that is still in
    the queue (``current`` itself when it stays, e.g. in the "all" view, and nothing follows)."""
    remaining = set(after)
    if current in before:
        i = before.index(current)
        for mid in before[i + 1:] + before[:i]:
            if mid in remaining:
                return mid
    return after[0] if after else None


def _next_id(ids: list[str], current: str) -> str | None:
    """The queue item after ``current`` (the first one when it is not in the queue)."""
    if current in ids:
        i = ids.index(current)
        rest = ids[i + 1:] + ids[:i]
        return rest[0] if rest else None
    return ids[0] if ids else None


def _queue_ids_from(store: Any, qs: str) -> list[str]:
    from urllib.parse import parse_qs

    params = {k: v[0] for k, v in parse_qs(qs).items() if k in FILTERS}
    status = params.get("status", "todo")
    f = QueueFilter(drug=params.get("drug", ""), parameter=params.get("parameter", ""),
                    population=params.get("population", ""), source=params.get("source", ""),
                    search=params.get("q", ""),
                    status=status if status in QUEUE_STATUSES else "todo")
    return list(store.review_queue_ids(f))
