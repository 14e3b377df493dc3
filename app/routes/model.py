"""GET /model: what is being served."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import ServedDep
from app.responses import FastJSONResponse

router = APIRouter(tags=["model"])


@router.get("/model", summary="Name, version, task, labels, features, metrics of the served model")
async def model(served: ServedDep) -> FastJSONResponse:
    return FastJSONResponse(served.describe())
