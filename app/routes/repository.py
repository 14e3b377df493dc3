"""Triton's model repository API: ``POST /v2/repository/index`` and ``.../models/{name}/load|unload``.

Behind the API key when one is set: loading and unloading change what the server serves.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.auth import ADMIN
from app.lookup import repository
from app.responses import FastJSONResponse
from app.routes.models import ModelName
from app.v2.routes import V2Route

# V2Route: errors in the protocol's {"error": "<message>"}, which tritonclient prints (issue 28)
router = APIRouter(prefix="/v2/repository", tags=["repository"], route_class=V2Route)
V2_ERROR = {"content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}}
ERRORS: dict[int | str, dict[str, Any]] = {code: V2_ERROR for code in (400, 401, 403, 404, 409, 503)}


@router.post(
    "/index",
    responses=ERRORS,
    summary="Every model version and its state: [{name, version, state, reason}]",
    description="The body is ignored (Triton's `ready` filter is optional): an empty body, `{}` or none at all.",
)
async def index(request: Request) -> FastJSONResponse:
    return FastJSONResponse(repository(request).index())


@router.post(
    "/models/{name}/load",
    dependencies=ADMIN,
    responses=ERRORS,
    summary="Load (or reload) a model: read its model.json, load the versions it selects, swap them in at once",
    description="409 when no selected version loads; whatever was serving keeps serving.",
)
async def load(request: Request, name: ModelName) -> FastJSONResponse:
    return FastJSONResponse(await request.app.state.reloader.load(name))


@router.post("/models/{name}/unload", dependencies=ADMIN, responses=ERRORS, summary="Stop serving a model (it shows UNLOADED)")
async def unload(request: Request, name: ModelName) -> FastJSONResponse:
    return FastJSONResponse(await request.app.state.reloader.unload(name))
