"""Typed dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app import lookup
from app.lookup import served_model
from app.serving import ServedModel
from features.errors import InvalidInput, PayloadTooLarge

MAX_INTEGER = 2**63 - 1  # versions, offsets and lengths: what a signed 64-bit integer holds


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
    return served_model(request, name, parse_version(version) if version is not None else None)


def parse_count(text: str, field: str, limit: int = MAX_INTEGER) -> int:
    """A decimal count from a path or header, range-checked before ``int()`` sees it: ``"²"`` is a
    digit to ``str.isdigit`` but not to ``int``, and 5,000 digits would be a number no JSON can echo."""
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(limit)) and int(text) <= limit):
        raise InvalidInput(f"{field} {text[:40]!r} is not a whole number from 0 to {limit}", field=field, value=text[:40])
    return int(text)


def parse_version(text: str) -> int:
    version = parse_count(text, "version")
    if version < 1:
        raise InvalidInput("version 0 is not a version number; versions start at 1", field="version", value=0)
    return version


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 past CATEMBED_MAX_BODY_BYTES before it is all read."""
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if parse_count(declared, "Content-Length") > limit:
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
