"""Optional API key for the routes that run the model or change the service.

Unset ``CATEMBED_API_KEY`` = open service. Set = ``/predict``, ``/encode``, ``/embed`` (also
under ``/models/{name}/...``), ``/admin/*`` and ``/v2/repository/*`` need ``Authorization: Bearer
<key>``; health, readiness, metrics, the model descriptions and list, the embedding lookups and
the docs stay open (see docs/operations.md and docs/repository.md).
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


API_KEY = [Depends(require_api_key)]
