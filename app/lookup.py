"""The four questions every route asks of the model repository, and nothing else.

Native and v2 routes alike call these: which model answers this request, which models and
versions there are, and whether the server is ready. ``ModelNotFound`` is a 404 and
``ModelNotReady`` a 503, in the one error shape (both are ``CatembedError``).
"""

from __future__ import annotations

from fastapi import Request

from app.repository import ModelNotFound, ModelNotReady, ModelRepository
from app.serving import ServedModel

__all__ = ["ModelNotFound", "ModelNotReady", "model_names", "model_versions", "served_model", "server_ready"]


def repository(request: Request) -> ModelRepository:
    found = getattr(request.app.state, "repository", None)
    if found is None:
        raise ModelNotReady("no model is loaded yet")
    assert isinstance(found, ModelRepository)
    return found


def served_model(request: Request, name: str | None = None, version: int | None = None) -> ServedModel:
    """The model version that answers: ``name`` None is the default model, ``version`` None its newest ready one."""
    return repository(request).served(name, version)


def model_names(request: Request) -> list[str]:
    return list(repository(request).entries)


def model_versions(request: Request, name: str) -> list[int]:
    """The versions of ``name`` that are loaded and ready, oldest first."""
    return list(repository(request).entry(name).ready())


def server_ready(request: Request) -> bool:
    found = getattr(request.app.state, "repository", None)
    return isinstance(found, ModelRepository) and found.ready()
