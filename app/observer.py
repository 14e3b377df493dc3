"""Per-request bookkeeping as one pure ASGI middleware: request id, metrics, optional access log.

Pure ASGI rather than Starlette's BaseHTTPMiddleware: that one runs the app in a separate task
and buffers through memory streams, ~100 µs per request; this adds a few µs.
"""

from __future__ import annotations

import logging
from secrets import token_hex
from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import request_id
from app.metrics import Metrics
from app.routes.models import route_template
from app.traffic import PAGE_ROUTES, from_explorer

log = logging.getLogger("catembed.access")
HEADER = b"x-request-id"
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _client_request_id(scope) or token_hex(8)
        # each request runs in its own task with its own context copy: no reset needed, and the
        # 500 handler (outside this middleware) still logs with the id
        request_id.set(rid)
        echo = (HEADER, rid.encode())
        status = 500  # what the client gets if the app raises before answering
        started = perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echo]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = perf_counter() - started
            # the route template, not the raw path: /embeddings/{feature}/{value:path}, never one series per value
            params = scope.get("path_params", {})
            route = getattr(scope.get("route"), "path", None)
            route = route_template(route, params) if route else _untemplated(scope, status)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            # a model name only once the route found it: names clients make up are not series
            name = params.get("name", "") if status < 400 or status == 503 else ""
            if from_explorer(scope) or route in PAGE_ROUTES:  # the explorer's own traffic is not served traffic
                self.metrics.observe_explorer(method, route, status)
            else:
                self.metrics.observe(method, route, status, seconds, name)
            if self.access_log:
                log.info(
                    "%s %s %d",
                    method,
                    scope["path"],
                    status,
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                        **({"model": name} if name else {}),
                    },
                )


def _client_request_id(scope: Scope) -> str | None:
    """The caller's X-Request-ID when it is a sane token (it is echoed into logs and headers)."""
    for name, value in scope["headers"]:
        if name == HEADER:
            text = value.decode("latin-1")
            if 0 < len(text) <= 128 and text.isascii() and text.isprintable():
                return text
            return None
    return None


def _untemplated(scope: Scope, status: int) -> str:
    """FastAPI names only its API routes in the scope; the others here (/docs, /openapi.json)
    have fixed paths. Anything unanswered is one series, whatever paths clients make up."""
    return scope["path"] if status < 400 else "unmatched"
