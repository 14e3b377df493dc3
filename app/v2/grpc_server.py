"""The Open Inference Protocol over gRPC, beside uvicorn in the same process (``CATEMBED_GRPC_PORT``).

A ``grpc.aio`` server runs on uvicorn's event loop: started and stopped by the app's lifespan,
answering from the same ``app.state`` (repository, reloader, metrics, settings) as the REST
routes. With ``--workers N`` every worker runs one on the same port (SO_REUSEPORT): the kernel
spreads connections over the workers, as uvicorn's shared socket spreads HTTP ones. Each call is
counted in ``catembed_http_requests`` like a REST request (method ``GRPC``, route the RPC path).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

import grpc
from fastapi import FastAPI

from app.v2.grpc_messages import SERVICE, methods
from app.v2.grpc_service import InferenceService
from features.errors import CatembedError

log = logging.getLogger("catembed")
# REST status (CatembedError.status_code) → gRPC status
STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    503: grpc.StatusCode.UNAVAILABLE,
}
PROTECTED = {"ModelInfer", "RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload"}
ADMIN = {"RepositoryModelLoad", "RepositoryModelUnload"}  # change what every client gets, as /admin/reload does


class Unauthenticated(CatembedError, status=401, kind="unauthorized"):
    """No or a wrong API key on a protected gRPC call."""


class Forbidden(CatembedError, status=403, kind="forbidden"):
    """Load or unload with no API key set and admin calls not allowed without one."""


class GrpcStartError(CatembedError, status=503, kind="grpc_start_error"):
    """The gRPC port cannot be had: start-up stops with one line."""


async def start(app: FastAPI) -> grpc.aio.Server:
    """Listen on ``CATEMBED_GRPC_HOST:CATEMBED_GRPC_PORT``; raises GrpcStartError when the port cannot be had."""
    settings = app.state.settings
    service = InferenceService(app)
    handlers = {
        name: _handler(app, name, getattr(service, name), request_type, response_type)
        for name, (request_type, response_type) in methods().items()
    }
    options = [
        ("grpc.max_receive_message_length", settings.max_body_bytes),  # the REST body limit, as RESOURCE_EXHAUSTED
        ("grpc.so_reuseport", int(settings.workers > 1)),  # one worker alone: a busy port is an error, not a share
    ]
    server = grpc.aio.server(options=options)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    address = f"{settings.grpc_host}:{settings.grpc_port}"
    try:
        server.add_insecure_port(address)
    except RuntimeError:
        raise GrpcStartError(
            f"cannot listen for gRPC on {address}: the port is in use or the address is not this host's",
            field="CATEMBED_GRPC_PORT",
            value=settings.grpc_port,
        ) from None
    await server.start()
    log.info("gRPC (Open Inference Protocol) listening on %s", address, extra={"grpc_address": address})
    return server


def _handler(
    app: FastAPI, name: str, method: Callable[[Any], Awaitable[Any]], request_type: Any, response_type: Any
) -> grpc.RpcMethodHandler:
    settings, metrics = app.state.settings, app.state.metrics
    route = f"/{SERVICE}/{name}"
    key = settings.api_key.get_secret_value().encode() if settings.api_key is not None and name in PROTECTED else None
    refused = name in ADMIN and settings.api_key is None and not settings.allow_admin_without_key

    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started, status = perf_counter(), 200
        try:
            if key is not None:
                _check_key(context, key)
            if refused:
                raise Forbidden(
                    f"{name} changes what is served and no API key is set: set CATEMBED_API_KEY (and send it), "
                    "or CATEMBED_ALLOW_ADMIN_WITHOUT_KEY=true on a trusted network"
                )
            return await method(request)
        except CatembedError as exc:
            status = exc.status_code
            await context.abort(STATUS.get(status, grpc.StatusCode.INVALID_ARGUMENT), exc.message)
        except Exception:
            status = 500
            log.exception("unhandled error in gRPC %s", name)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error; the server log has the details")
        finally:
            seconds = perf_counter() - started
            model = getattr(request, "model_name", "") or getattr(request, "name", "")
            model = model if status < 400 or status == 503 else ""  # names clients make up are not series
            metrics.observe("GRPC", route, status, seconds, model)
            if settings.access_log:
                extra = {"method": "GRPC", "path": route, "status": status, "duration_ms": round(seconds * 1000, 3)}
                log.info("GRPC %s %d", route, status, extra=extra)

    return grpc.unary_unary_rpc_method_handler(
        call, request_deserializer=request_type.FromString, response_serializer=response_type.SerializeToString
    )


def _check_key(context: grpc.aio.ServicerContext, key: bytes) -> None:
    """``authorization: Bearer <key>`` metadata, compared in constant time like the REST header."""
    sent = next((value for name, value in context.invocation_metadata() or () if name == "authorization"), None)
    if sent is None:
        raise Unauthenticated("this method needs an API key: send 'authorization: Bearer <key>' metadata")
    scheme, _, token = str(sent).partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key):
        raise Unauthenticated("the API key is not valid")
