"""The Open Inference Protocol v2 REST routes: health, metadata, readiness and inference.

They find models only through app.lookup and predict only through the Predictor's columnar
method. Errors leave in the protocol's shape, ``{"error": "<message>"}``: validation errors
(the native 422) are 400, unknown models and versions 404, a model not loaded 503, an
over-limit body 413, a missing API key 401.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app import __version__
from app.deps import read_body
from app.lookup import ModelNotFound, model_versions, served_model, server_ready
from app.responses import FastJSONResponse
from app.serving import ServedModel
from app.v2 import binary, codec
from features.errors import CatembedError, NotFound
from features.schema import NAME_PATTERN

EXTENSIONS = ["binary_tensor_data", "model_configuration", "model_repository"]
THREADPOOL_BYTES = 64 * 1024  # as /predict: big batches go to a worker thread


def v2_error(status: int, message: str, headers: dict[str, str] | None = None) -> FastJSONResponse:
    return FastJSONResponse({"error": message}, status_code=status, headers=headers)


class V2Route(APIRoute):
    """Answers every error of these routes in the protocol's own error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except CatembedError as exc:
                return v2_error(400 if exc.status_code == 422 else exc.status_code, exc.message)
            except RequestValidationError as exc:
                first = exc.errors()[0]
                return v2_error(400, f"{'.'.join(map(str, first.get('loc', ())))}: {first.get('msg')}")
            except HTTPException as exc:
                return v2_error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

        return guarded


router = APIRouter(prefix="/v2", tags=["open inference protocol v2"], route_class=V2Route)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}}
    for code in (400, 404, 503)
}


def _model(request: Request, name: str, version: str | None) -> ServedModel:
    if version is None:
        return served_model(request, name)
    if not (version.isascii() and version.isdigit() and len(version) <= 18):
        raise ModelNotFound(f"model {name!r} has no version {version!r}; versions are integers", field="version", value=version)
    return served_model(request, name, int(version))


@router.get("/health/live", summary="Liveness (v2)")
async def live() -> FastJSONResponse:
    return FastJSONResponse({"live": True})


@router.get("/health/ready", summary="Readiness (v2): 200 when every model is loaded, else 503")
async def ready(request: Request) -> FastJSONResponse:
    is_ready = server_ready(request)
    return FastJSONResponse({"ready": is_ready}, status_code=200 if is_ready else 503)


@router.get("", summary="Server metadata (v2)")
@router.get("/", include_in_schema=False)  # the published OIP spec writes GET /v2/
async def server_metadata() -> FastJSONResponse:
    return FastJSONResponse({"name": "catembed", "version": __version__, "extensions": EXTENSIONS})


async def _metadata(request: Request, name: str, version: str | None = None) -> FastJSONResponse:
    predictor = _model(request, name, version).predictor
    return FastJSONResponse(codec.model_metadata(predictor, model_versions(request, predictor.name)))


async def _ready(request: Request, name: str, version: str | None = None) -> FastJSONResponse:
    predictor = _model(request, name, version).predictor
    return FastJSONResponse({"name": predictor.name, "version": str(predictor.version), "ready": True})


async def _infer(request: Request, name: str, version: str | None = None) -> Response:
    predictor = _model(request, name, version).predictor
    body = await read_body(request)
    header_length = request.headers.get(binary.HEADER)

    def answer() -> tuple[bytes, int | None]:
        header, data = binary.split_body(body, header_length)
        infer_request = codec.decode_request(header, data, predictor)
        return codec.encode_response(predictor.predict_columns(infer_request.columns, infer_request.text), infer_request)

    content, json_length = await run_in_threadpool(answer) if len(body) > THREADPOOL_BYTES else answer()
    if json_length is None:
        return Response(content, media_type="application/json")
    return Response(content, media_type="application/octet-stream", headers={"Inference-Header-Content-Length": str(json_length)})


# the path parameters, declared so /docs and the fuzzer know them (a name as `catembed train` allows)
Name = Annotated[str, Path(pattern=NAME_PATTERN.pattern, description="the model's name")]
Version = Annotated[str, Path(pattern=r"^[0-9]{1,18}$", description="a version number")]


@router.get("/models/{name}", summary="Model metadata (v2)", responses=ERRORS)
async def metadata(request: Request, name: Name) -> FastJSONResponse:
    return await _metadata(request, name)


@router.get("/models/{name}/versions/{version}", summary="Model version metadata (v2)", responses=ERRORS)
async def version_metadata(request: Request, name: Name, version: Version) -> FastJSONResponse:
    return await _metadata(request, name, version)


@router.get("/models/{name}/ready", summary="Model readiness (v2)", responses=ERRORS)
async def model_ready(request: Request, name: Name) -> FastJSONResponse:
    return await _ready(request, name)


@router.get("/models/{name}/versions/{version}/ready", summary="Model version readiness (v2)", responses=ERRORS)
async def version_ready(request: Request, name: Name, version: Version) -> FastJSONResponse:
    return await _ready(request, name, version)


@router.get("/models/{name}/config", summary="Model configuration (Triton's extension)", responses=ERRORS)
async def config(request: Request, name: Name) -> FastJSONResponse:
    return _config(request, name)


@router.get("/models/{name}/versions/{version}/config", summary="Model version configuration", responses=ERRORS)
async def version_config(request: Request, name: Name, version: Version) -> FastJSONResponse:
    return _config(request, name, version)


def _config(request: Request, name: str, version: str | None = None) -> FastJSONResponse:
    predictor = _model(request, name, version).predictor
    versions = model_versions(request, predictor.name)
    return FastJSONResponse(codec.model_config(predictor, versions, request.app.state.settings.max_records))


@router.get("/models/{name}/stats", summary="Model statistics (Triton's extension): not kept; see /metrics", responses=ERRORS)
async def stats(request: Request, name: Name) -> FastJSONResponse:
    _model(request, name, None)  # an unknown model is its own 404
    raise NotFound(f"model {name!r}: per-model statistics are not kept here; GET /metrics has them (Prometheus)")


INFER = {
    "summary": "Inference (v2): one tensor per feature; JSON or binary tensor data",
    "responses": {**ERRORS, 413: ERRORS[400]},
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "required": ["inputs"], "properties": {"inputs": {"type": "array"}}}
                }
            },
        }
    },
}


# inference runs the model: main.py includes this router behind the API key when one is set
infer_router = APIRouter(prefix="/v2", tags=["open inference protocol v2"], route_class=V2Route)


@infer_router.post("/models/{name}/infer", **INFER)  # type: ignore[arg-type]
async def infer(request: Request, name: Name) -> Response:
    return await _infer(request, name)


@infer_router.post("/models/{name}/versions/{version}/infer", **INFER)  # type: ignore[arg-type]
async def version_infer(request: Request, name: Name, version: Version) -> Response:
    return await _infer(request, name, version)


def document(schema: dict[str, Any], predictor: Any, versions: list[int], max_string_length: int) -> None:
    """Name the served model, its versions and its input tensors in the OpenAPI schema, as /predict's
    body is generated from the served model: /docs then shows working requests, and the fuzzer
    reaches past the 404s. The body schema is one row (shape [1]): JSON Schema cannot say that
    tensors share a length, and a schema-valid body must be an accepted one."""
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/v2/models/"):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter["name"] in ("name", "version"):
                    values = [predictor.name] if parameter["name"] == "name" else [str(v) for v in versions]
                    parameter["schema"] = {**parameter["schema"], "enum": values}
            if path.endswith("/infer"):
                body = operation["requestBody"]["content"]["application/json"]
                body["schema"] = _one_row_request(predictor, max_string_length)


def _one_row_request(predictor: Any, max_string_length: int) -> dict[str, Any]:
    def tensor(name: str, datatype: str, element: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["name", "shape", "datatype", "data"],
            "additionalProperties": False,
            "properties": {
                "name": {"const": name},
                "shape": {"const": [1]},
                "datatype": {"const": datatype},
                "data": {"type": "array", "items": element, "minItems": 1, "maxItems": 1},
            },
        }

    text = {"type": "string", "maxLength": max_string_length}
    numeric = set(predictor.numeric)  # a "both" column is sent once, as a number
    tensors = [tensor(n, "BYTES", text) for n in predictor.categorical if n not in numeric]
    tensors += [tensor(n, "FP64", {"type": ["number", "null"], "minimum": -1e300, "maximum": 1e300}) for n in predictor.numeric]
    return {
        "type": "object",
        "required": ["inputs"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string"},
            "inputs": {"type": "array", "prefixItems": tensors, "items": False, "minItems": len(tensors)},
        },
    }
