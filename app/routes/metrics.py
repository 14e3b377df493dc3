"""GET /metrics: Prometheus text format."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

router = APIRouter(tags=["operations"])
TEXT: dict[int | str, dict[str, Any]] = {
    200: {"description": "Prometheus text exposition format", "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}
}


@router.get(
    "/metrics",
    response_class=Response,
    responses=TEXT,
    summary="Prometheus metrics: requests, latency, predictions, drift, model info",
)
async def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
