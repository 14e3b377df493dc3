"""GET /health (the process is alive) and GET /ready (a model is loaded and warmed)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.responses import FastJSONResponse

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness")
async def health() -> FastJSONResponse:
    return FastJSONResponse({"status": "ok"})


@router.get("/ready", summary="Readiness: 200 once a model is loaded and warmed, else 503")
async def ready(request: Request) -> FastJSONResponse:
    served = getattr(request.app.state, "served", None)
    if served is None:
        return FastJSONResponse({"status": "loading"}, status_code=503)
    return FastJSONResponse({"status": "ready", "model": served.predictor.name, "version": served.predictor.version})
