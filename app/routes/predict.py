"""POST /predict, /encode and /embed: records in, predictions / model inputs / embedding features out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.deps import BodyDep, ServedDep, get_served, read_body
from app.responses import FastJSONResponse
from app.schemas import ErrorBody
from app.traffic import predictor_for
from features.errors import InvalidInput

router = APIRouter(tags=["records"])
# Small bodies are handled on the event loop (a threadpool hop costs ~300 µs); big batches go to
# a worker thread so /health and small requests are not held up behind them.
THREADPOOL_BYTES = 64 * 1024
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 413, 422)}


async def _run(function: Callable[[bytes], dict[str, Any]], body: bytes) -> FastJSONResponse:
    if len(body) > THREADPOOL_BYTES:
        return FastJSONResponse(await run_in_threadpool(function, body))
    return FastJSONResponse(function(body))


@router.post(
    "/predict",
    responses=ERRORS,
    summary="Predict one record or a batch",
    description='One record, or `{"records": [...]}`. Each prediction lists `warnings`: unseen or missing '
    "categories (the trained unknown vector was used), imputed or clipped numbers. `?orient=columns` answers "
    "one array per output and the warnings as `[row, field, type]` triples, and also takes a columnar body, "
    '`{"columns": {feature: [values...]}}` (docs/v2.md).',
)
async def predict(request: Request) -> FastJSONResponse:
    # the same two dependencies as the other routes, called directly: FastAPI's dependency
    # resolution is a measurable share of a ~250 µs request, and /predict is the hot path
    served = get_served(request)
    predictor = predictor_for(request, served.predictor)  # the explorer's own calls are not served traffic
    if request.scope["query_string"]:  # the single-record hot path never parses a query string
        orient = request.query_params.get("orient", "records")
        if orient == "columns":
            return await _run(predictor.predict_records_as_columns, await read_body(request))
        if orient != "records":
            raise InvalidInput(f"unknown orient {orient!r}", field="orient", value=orient, expected="'records' or 'columns'")
    return await _run(predictor.predict, await read_body(request))


@router.post(
    "/encode",
    responses=ERRORS,
    summary="The model's input arrays for records",
    description="Per-feature embedding-table indices and the scaled numeric inputs, exactly as the model receives them.",
)
async def encode(request: Request, served: ServedDep, body: BodyDep) -> FastJSONResponse:
    return await _run(predictor_for(request, served.predictor).encode, body)


@router.post(
    "/embed",
    responses=ERRORS,
    summary="Records as embedding features",
    description="Concatenated category vectors plus scaled numerics, with column names: features for another model.",
)
async def embed(request: Request, served: ServedDep, body: BodyDep) -> FastJSONResponse:
    return await _run(predictor_for(request, served.predictor).embed, body)
