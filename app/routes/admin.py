"""POST /admin/reload: switch to the newest model version now instead of at the next poll."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.auth import ADMIN
from app.responses import FastJSONResponse
from app.schemas import ErrorBody

router = APIRouter(prefix="/admin", tags=["admin"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 409)}


@router.post(
    "/reload",
    dependencies=ADMIN,
    responses=ERRORS,
    summary="Load the newest model version, if there is a newer one",
    description="200 with `status` `reloaded` or `unchanged`; 409 when the new version is corrupt or incompatible "
    "(the old version keeps serving, and the refused one is tried again only once its files change).",
)
async def reload(request: Request) -> FastJSONResponse:
    return FastJSONResponse(await request.app.state.reloader.check())
