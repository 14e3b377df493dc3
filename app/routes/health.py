"""GET /health (the process is alive) and GET /ready (the default model, or any model without a default, is loaded and warmed)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.lookup import model_names, repository, server_ready
from app.responses import FastJSONResponse

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness")
async def health() -> FastJSONResponse:
    return FastJSONResponse({"status": "ok"})


@router.get("/ready", summary="Readiness: 200 once a model is loaded and warmed, else 503")
async def ready(request: Request) -> FastJSONResponse:
    if not server_ready(request):
        return FastJSONResponse({"status": "loading"}, status_code=503)
    served = repository(request).default()
    if served is None:  # a repository without a default model: ready when any model is
        return FastJSONResponse({"status": "ready", "models": model_names(request)})
    return FastJSONResponse({"status": "ready", "model": served.predictor.name, "version": served.predictor.version})
