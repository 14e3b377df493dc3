"""One JSON error shape for every error: ``{"error": {"type", "message", "field", "value", "expected"}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from app.responses import FastJSONResponse
from features.errors import CatembedError

log = logging.getLogger("catembed")
_HTTP_TYPES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None, request: Request | None = None
) -> FastJSONResponse:
    """The native shape; under /v2 the protocol's ``{"error": "<message>"}``, which v2 clients
    (tritonclient, KServe's SDK) print, also for routes that do not exist there."""
    if request is not None and request.url.path.startswith("/v2"):
        return FastJSONResponse({"error": body["message"]}, status_code=400 if status == 422 else status, headers=headers)
    return FastJSONResponse({"error": body}, status_code=status, headers=headers)


async def catembed_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, CatembedError)
    return error_response(exc.status_code, exc.to_dict(), request=request)


async def validation_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    location = ".".join(str(p) for p in first.get("loc", ()))
    body: dict[str, Any] = {"type": "invalid_input", "message": f"{location}: {first.get('msg')}", "field": location}
    if "input" in first and first["input"] is not None:
        body["value"] = CatembedError("", value=first["input"]).to_dict().get("value")
    return error_response(422, body, request=request)


async def http_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, HTTPException)
    kind = _HTTP_TYPES.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.status_code != 404 or exc.detail != "Not Found" else f"no route {request.url.path}"
    return error_response(exc.status_code, {"type": kind, "message": message}, getattr(exc, "headers", None), request)


async def client_gone(request: Request, exc: Exception) -> FastJSONResponse:
    # the client hung up, or was cut off for a stalled body (CATEMBED_BODY_TIMEOUT): nobody reads an
    # answer, and a traceback per dropped slow client would make the log the bottleneck
    log.info("client disconnected before its request body was read", extra={"path": request.url.path})
    return error_response(400, {"type": "client_disconnected", "message": "the client disconnected"})


async def unexpected_error(request: Request, exc: Exception) -> FastJSONResponse:
    # the traceback goes to the log, never to the client
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        500, {"type": "internal_error", "message": "internal error; the server log has the details"}, request=request
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(CatembedError, catembed_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(Exception, unexpected_error)
