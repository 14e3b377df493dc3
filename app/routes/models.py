"""The native API per model: ``/models/{name}/...``, ``/models/{name}/versions/{v}/...`` and
``/models/{name}/labels/{label}/...`` run today's record, embedding and model routes (the same
handlers: ``deps.get_served`` reads the model from the path), and ``GET /models`` lists them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.params import Depends as DependsParam

from app.lookup import repository
from app.responses import FastJSONResponse
from app.routes import embeddings, model, predict, report
from app.schemas import ErrorBody
from features.schema import NAME_PATTERN

router = APIRouter(prefix="/models", tags=["repository"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (404, 422, 503)}


ModelName = Annotated[str, Path(pattern=NAME_PATTERN.pattern, description="the model's folder name in the repository")]


def _name(name: ModelName) -> None:
    """Declares the path parameter (for validation and the OpenAPI schema); get_served reads it."""


def _version(version: Annotated[int, Path(ge=1, le=2**63 - 1, description="a version the model's policy serves")]) -> None:
    pass


def _label(
    label: Annotated[
        str, Path(pattern=NAME_PATTERN.pattern, description="a version label from the model's model.json, e.g. stable")
    ],
) -> None:
    pass


PREFIXES: dict[str, list[DependsParam]] = {
    "/models/{name}": [Depends(_name)],
    "/models/{name}/versions/{version}": [Depends(_name), Depends(_version)],
    "/models/{name}/labels/{label}": [Depends(_name), Depends(_label)],
}


def route_template(path: str, params: dict[str, str]) -> str:
    """The full template of a per-model route. FastAPI puts the included route itself into the
    scope, whose path lacks the prefix it was included under: /predict for /models/{name}/predict."""
    if "name" not in params or path.startswith(("/models", "/v2")):
        return path
    if "version" in params:
        return "/models/{name}/versions/{version}" + path
    return ("/models/{name}/labels/{label}" if "label" in params else "/models/{name}") + path


def include_per_model(app: FastAPI, protected: list[DependsParam]) -> None:
    """Today's routers again under each prefix: the same handlers, the model taken from the path."""
    for prefix, params in PREFIXES.items():
        app.include_router(predict.router, prefix=prefix, dependencies=[*params, *protected], responses=ERRORS)
        for module in (embeddings, model, report):
            app.include_router(module.router, prefix=prefix, dependencies=params, responses=ERRORS)


@router.get("", summary="Every model in the repository: its versions, their states, its version policy and labels")
async def models(request: Request) -> FastJSONResponse:
    found = repository(request)
    return FastJSONResponse({"default": found.default_name, "models": [entry.describe() for entry in found.entries.values()]})


@router.get("/{name}", responses=ERRORS, summary="One model's versions, their states, its version policy and labels")
async def one_model(request: Request, name: ModelName) -> FastJSONResponse:
    return FastJSONResponse(repository(request).entry(name).describe())
