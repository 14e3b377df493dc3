"""Optional API key for the routes that run the model or change the service.

Unset ``CATEMBED_API_KEY`` = open service. Set = ``/predict``, ``/encode``, ``/embed`` (also
under ``/models/{name}/...``), ``/admin/*`` and ``/v2/repository/*`` need ``Authorization: Bearer
<key>``; health, readiness, metrics, the model descriptions and list, the embedding lookups and
the docs stay open (see docs/operations.md and docs/repository.md). Reload, load and
unload are refused outright when no key is set, unless ``CATEMBED_ALLOW_ADMIN_WITHOUT_KEY=true``.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

# auto_error=False: we answer missing credentials ourselves, in the one error shape
bearer = HTTPBearer(auto_error=False, description="the value of CATEMBED_API_KEY")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require_api_key(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    key = request.app.state.settings.api_key
    if key is None:
        return
    if credentials is None:
        raise HTTPException(401, "this endpoint needs an API key: send 'Authorization: Bearer <key>'", headers=CHALLENGE)
    # constant-time: the time taken must not tell how many leading characters were right
    if not hmac.compare_digest(credentials.credentials.encode(), key.get_secret_value().encode()):
        raise HTTPException(401, "the API key is not valid", headers=CHALLENGE)


def require_admin_key(request: Request) -> None:
    """Reload, load and unload change what every client gets: with no API key set they are refused
    unless the operator says so (CATEMBED_ALLOW_ADMIN_WITHOUT_KEY=true). With a key, require_api_key
    has already checked it."""
    settings = request.app.state.settings
    if settings.api_key is None and not settings.allow_admin_without_key:
        raise HTTPException(
            403,
            f"{request.method} {request.url.path} changes what is served and no API key is set: set CATEMBED_API_KEY "
            "(and send it), or CATEMBED_ALLOW_ADMIN_WITHOUT_KEY=true on a trusted network",
        )


API_KEY = [Depends(require_api_key)]
ADMIN = [Depends(require_admin_key)]
