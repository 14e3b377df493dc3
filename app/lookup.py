"""Which model a request means: the one seam between the routes and whatever holds the models.

Today one model is served (``app.state.served``); the model repository replaces these four
functions with the same signatures, so the v2 routes need not change. Routes find models only
through here.
"""

from __future__ import annotations

from fastapi import Request

from app.serving import ServedModel
from features.errors import CatembedError


class ModelNotFound(CatembedError):
    """No model of that name, or not that version of it."""

    status_code = 404
    error_type = "model_not_found"


class ModelNotReady(CatembedError):
    """The model exists but is not loaded (yet)."""

    status_code = 503
    error_type = "model_not_ready"


def _current(request: Request) -> ServedModel | None:
    served = getattr(request.app.state, "served", None)
    return served if isinstance(served, ServedModel) else None


def served_model(request: Request, name: str | None = None, version: int | None = None) -> ServedModel:
    """The model called ``name`` (None: the default model) at ``version`` (None: the served one)."""
    served = _current(request)
    if served is None:
        raise ModelNotReady(
            "no model is loaded yet" if name is None else f"model {name!r} is not loaded yet", field="model", value=name
        )
    predictor = served.predictor
    if name is not None and name != predictor.name:
        raise ModelNotFound(f"no model named {name!r}; this server has {predictor.name!r}", field="model", value=name)
    if version is not None and version != predictor.version:
        raise ModelNotFound(
            f"model {predictor.name!r} has no version {version} loaded; loaded: {predictor.version}",
            field="version",
            value=version,
        )
    return served


def model_names(request: Request) -> list[str]:
    served = _current(request)
    return [] if served is None else [served.predictor.name]


def model_versions(request: Request, name: str) -> list[int]:
    """The versions of ``name`` that are loaded and can answer ([] for an unknown name)."""
    served = _current(request)
    return [served.predictor.version] if served is not None and served.predictor.name == name else []


def server_ready(request: Request) -> bool:
    return _current(request) is not None
