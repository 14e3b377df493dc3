"""GET / and /explorer: the embedding explorer page, and its two assets, served from package files.

Nothing comes from another origin: the page, its ES modules and its stylesheet ship inside the
``app`` package (package-data) and are read once at import. A strict Content-Security-Policy says
so to the browser too: a stray CDN link would be refused, not silently loaded.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from starlette.responses import Response

from features.errors import NotFound

router = APIRouter(include_in_schema=False)
ASSETS = {
    "index.html": "text/html",
    "explorer.js": "text/javascript",  # start-up, feature picker, value card
    "whatif.js": "text/javascript",  # what-if form, sweep, feature importance
    "map.js": "text/javascript",  # the canvas scatter, flat or 3-D: points, neighbours, the unknown vector
    "steering.js": "text/javascript",  # pan, zoom, turn, hover (the tooltip), pick
    "labels.js": "text/javascript",  # label placement: no overlaps, never past the edge
    "colours.js": "text/javascript",  # colour by count, effect, movement or metadata; the colour bar
    "metadata.js": "text/javascript",  # a dropped metadata CSV, kept in the browser
    "compare.js": "text/javascript",  # two versions aligned by Procrustes: the values that moved
    "common.js": "text/javascript",  # page state, DOM helpers, same-origin requests with the API key
    "explorer.css": "text/css",
}
_FILES = {name: (files("app") / "explorer" / name).read_bytes() for name in ASSETS}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",  # revalidate: a new release must not meet an old script
}


def _asset(name: str) -> Response:
    return Response(_FILES[name], media_type=f"{ASSETS[name]}; charset=utf-8", headers=HEADERS)


@router.get("/")
async def root() -> Response:
    return _asset("index.html")


@router.get("/explorer")
async def explorer() -> Response:
    return _asset("index.html")


@router.get("/explorer/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"no explorer asset {name[:100]!r}", field="name", value=name[:100], expected=", ".join(ASSETS))
    return _asset(name)
