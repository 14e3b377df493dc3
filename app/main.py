"""``create_app(settings)``: the FastAPI application around a repository of served models."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import __version__, errors
from app.auth import API_KEY
from app.logs import configure_logging
from app.metrics import Metrics
from app.observer import RequestObserver
from app.openapi_links import add_links
from app.reload import Reloader
from app.repository import ModelRepository
from app.request_guard import RequestGuard
from app.responses import FastJSONResponse
from app.routes import admin, embeddings, explorer, health, metrics, model, models, predict, report, repository
from app.schemas import components
from app.settings import Settings, load_settings
from app.v2 import routes as v2
from features.errors import CatembedError

log = logging.getLogger("catembed")
UNSUPPORTED_MEDIA_TYPE = {
    "description": "a body that is not declared JSON (or v2 binary tensors)",
    "content": {"application/json": {"schema": {"type": "object", "required": ["error"]}}},
}
NOT_LOADED = {
    "description": "the model is not loaded (starting, unloaded, or failed to load)",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
RECORD_ROUTES = {"/predict": "PredictResponse", "/encode": "EncodeResponse", "/embed": "EmbedResponse"}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    grpc_server = None
    try:
        app.state.repository = ModelRepository(settings)
        await app.state.reloader.start()
        if settings.grpc_port is not None:  # the Open Inference Protocol over gRPC: app/v2/grpc_server.py
            from app.v2 import grpc_server as grpc_door

            grpc_server = await grpc_door.start(app)
    except CatembedError as exc:
        app.state.startup_error = f"catembed cannot start: {exc.message}"
        raise
    app.openapi_schema = None  # regenerate /docs for the default model's features
    poller = None
    if settings.reload_interval > 0 and not (app.state.repository.single and settings.model_version is not None):
        poller = asyncio.create_task(app.state.reloader.poll(settings.reload_interval))
    yield
    if grpc_server is not None:
        await grpc_server.stop(settings.graceful_timeout)  # new calls refused, those in flight finish
    if poller is not None:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
    app.state.repository = None


class OneLineStartupError:
    """Uvicorn prints the whole traceback of a failed start-up; for a bad bundle one line says it all."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_short(message: Message) -> None:
            reason = getattr(scope["app"].state, "startup_error", None)
            if message["type"] == "lifespan.startup.failed" and reason:
                message = {**message, "message": reason}
            await send(message)

        await self.app(scope, receive, send_short)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = FastAPI(
        title="catembed",
        version=__version__,
        summary="Entity embeddings for tabular data: predictions and learned category vectors.",
        lifespan=lifespan,
        default_response_class=FastJSONResponse,
    )
    app.state.settings = settings
    app.state.repository = None  # the models, by name and version: app/repository.py
    app.state.metrics = Metrics()
    app.state.reloader = Reloader(app)
    errors.install(app)
    # the key check is only wired in when a key is set: an open service pays nothing for it
    protected = API_KEY if settings.api_key is not None else []
    if settings.floor_endpoint:  # first, so route matching costs it no more than /predict (a fair floor)
        app.add_api_route("/_floor", _floor, methods=["POST"], include_in_schema=False)
    for module in (predict, admin, repository):
        app.include_router(module.router, dependencies=protected)
    # the report is open like /model (it shows nothing they do not): see docs/report.md
    for module in (embeddings, model, report, health, metrics, models, explorer):
        app.include_router(module.router)
    models.include_per_model(app, protected)
    app.include_router(v2.router)  # the Open Inference Protocol v2: health and metadata open, inference protected
    app.include_router(v2.infer_router, dependencies=protected)
    # Host, cross-site origin and Content-Type, before any route: docs/reliability.md, threat model
    app.add_middleware(RequestGuard, allowed_hosts=settings.allowed_hosts, cors_origins=settings.cors_origins)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"], allow_headers=["*"]
        )
    app.add_middleware(RequestObserver, metrics=app.state.metrics, access_log=settings.access_log)
    app.add_middleware(OneLineStartupError)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _floor(request: Request) -> FastJSONResponse:
    """The benchmark's yardstick: read and parse a body of the same size, answer a small JSON."""
    import orjson

    payload = orjson.loads(await request.body())
    return FastJSONResponse({"ok": True, "keys": len(payload)})


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The standard schema, plus request/response bodies generated from the served model."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    repository: ModelRepository | None = app.state.repository
    served = repository.default() if repository is not None else None
    add_links(schema)  # which answer names the model another call takes: app/openapi_links.py
    for operations in schema["paths"].values():
        for method, operation in operations.items():
            if method == "post":  # refused before routing (app/request_guard.py)
                operation["responses"].setdefault("415", UNSUPPORTED_MEDIA_TYPE)
            # any route that answers from a model: 503 while it is loading or unloaded
            operation["responses"].setdefault("503", NOT_LOADED)
    if repository is not None:
        _model_parameters(schema, repository)
    if repository is not None and served is not None:
        schema.setdefault("components", {}).setdefault("schemas", {}).update(components(served.models))
        example = served.manifest.get("example", {})
        body = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"anyOf": [{"$ref": "#/components/schemas/Record"}, {"$ref": "#/components/schemas/RecordBatch"}]},
                    "examples": {"one record": {"value": example}, "a batch": {"value": {"records": [example, example]}}},
                }
            },
        }
        # per-model routes get the default model's bodies only when it is the only model
        prefixes = ["", *(models.PREFIXES if len(repository.entries) == 1 else ())]
        for (path, response), prefix in itertools.product(RECORD_ROUTES.items(), prefixes):
            operation = schema["paths"][prefix + path]["post"]
            operation["requestBody"] = body
            operation["responses"]["200"]["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{response}"}}
            }
        versions = list(repository.entry(served.predictor.name).ready())
        v2.document(schema, served.predictor, versions, app.state.settings.max_string_length)
    app.openapi_schema = schema
    return schema


def _model_parameters(schema: dict[str, Any], repository: ModelRepository) -> None:
    """The /models/{name}/... parameters name the models, versions and labels there are: clients
    (and the fuzzer) learn them from the schema, regenerated whenever a load changes them."""
    entries = repository.entries.values()
    known = {
        "name": sorted(repository.entries),
        "version": sorted({v for e in entries for v in e.versions}),
        "label": sorted({label for e in entries for label in e.config.labels}),
    }
    for path, operations in schema["paths"].items():
        if not path.startswith("/models/{name}"):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                values = known.get(parameter["name"]) if parameter["in"] == "path" else None
                if values:
                    parameter["schema"]["enum"] = values
