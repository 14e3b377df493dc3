"""GET /report: the served bundle's training report (``report.html``, written by ``catembed train``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from app.deps import ServedDep
from features.artifacts import REPORT
from features.errors import NotFound

router = APIRouter(tags=["model"])
# The page is self-contained; this policy makes the browser enforce it: no script, no request
# to any origin (images are data: URIs, the CSS is inline).
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}
# errors are JSON though the page is HTML: said explicitly, or OpenAPI would document them as text/html
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}},
    404: {"description": "no such model or version, or a bundle without a report", **_ERROR},
    422: {"description": "a malformed model name, version or label", **_ERROR},
    503: {"description": "the model is not loaded", **_ERROR},
}


@router.get("/report", response_class=HTMLResponse, responses=RESPONSES, summary="The served model's training report (HTML)")
def report(served: ServedDep) -> HTMLResponse:  # sync: FastAPI reads the file in its thread pool
    bundle = served.predictor.bundle
    # listed in the manifest means its sha256 was verified when the bundle was loaded
    if REPORT not in bundle.manifest.get("files", {}):
        raise NotFound(
            f"model {bundle.name!r} version {bundle.version} has no training report: "
            "it was trained by a catembed without reports; train it again to get one",
            field="report",
        )
    try:
        page = (bundle.path / REPORT).read_bytes()
    except OSError:
        raise NotFound(
            f"the training report of {bundle.name!r} version {bundle.version} is gone from its folder", field="report"
        ) from None
    return HTMLResponse(page, headers=HEADERS)
