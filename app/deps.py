"""Typed dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app import lookup
from app.lookup import served_model
from app.serving import ServedModel
from features.errors import InvalidInput, PayloadTooLarge


def get_served(request: Request) -> ServedModel:
    """The model version a route answers with: the default model on today's routes, or the one
    named (and pinned, or labelled) in the path under /models/{name}/."""
    params = request.path_params
    name = params.get("name")
    if name is None:
        return served_model(request)
    if "label" in params:
        return lookup.repository(request).served(name, label=params["label"])
    version = params.get("version")
    if version is not None and not version.isdigit():  # the path's own check reports it; never a 500 here
        raise InvalidInput(f"version {version!r} is not a version number", field="version", value=version)
    return served_model(request, name, int(version) if version is not None else None)


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 past CATEMBED_MAX_BODY_BYTES before it is all read."""
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidInput("Content-Length is not a number", field="Content-Length", value=declared)
        if int(declared) > limit:
            raise PayloadTooLarge(
                f"request body of {int(declared):,} bytes is over the limit of {limit:,}",
                field="body",
                value=int(declared),
                expected=f"at most {limit:,} bytes",
            )
        return await request.body()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"request body is over the limit of {limit:,} bytes", field="body", expected=f"at most {limit:,} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


ServedDep = Annotated[ServedModel, Depends(get_served)]
BodyDep = Annotated[bytes, Depends(read_body)]
