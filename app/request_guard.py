"""What a browser page on another site (or a DNS-rebinding name) must not get the service to do.

Checked before routing, for every request:

- ``Host`` must be one of ``CATEMBED_ALLOWED_HOSTS`` (default: localhost names). A DNS-rebinding
  page reaches a local service under its own name; refusing unknown names stops it reading answers
  or posting with the service's own origin. 400, the one error shape.
- A state-changing request (POST) that carries an ``Origin`` other than the service's own (and not
  one of ``CATEMBED_CORS_ORIGINS``) is a cross-site request: 403. Browsers send ``Origin`` on every
  cross-origin POST, even ``no-cors`` ones; programs (curl, tritonclient) send none.
- A POST body must be declared JSON (``application/json``, or ``application/octet-stream`` for v2
  binary tensors): a form or ``text/plain`` post, which a page may send without a preflight, is a
  415. A request without ``Content-Type`` is accepted (tritonclient sends none; a browser cannot
  send one cross-site without an ``Origin``).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

JSON_TYPES = ("application/json",)
BINARY_TYPES = ("application/octet-stream",)  # v2 binary tensor data (Inference-Header-Content-Length)


class RequestGuard:
    def __init__(self, app: ASGIApp, allowed_hosts: list[str], cors_origins: list[str]) -> None:
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.hosts = {h.lower() for h in allowed_hosts if not h.startswith("*")}
        self.suffixes = tuple(h[1:].lower() for h in allowed_hosts if h.startswith("*."))
        self.origins = {o.rstrip("/").lower() for o in cors_origins}
        self.any_origin = "*" in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k: v for k, v in scope["headers"] if k in (b"host", b"origin", b"content-type")}
        refusal = self._refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, body = refusal
        v2 = scope["path"].startswith("/v2")
        payload = {"error": body["message"]} if v2 else {"error": body}
        content = orjson.dumps(payload)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": content})

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[int, dict[str, Any]] | None:
        host = headers.get(b"host", b"").decode("latin-1")
        if host and not self._host_allowed(host):
            return 400, {
                "type": "host_not_allowed",
                "message": f"Host {host[:100]!r} is not served here; the operator lists it in CATEMBED_ALLOWED_HOSTS",
                "field": "Host",
                "expected": "one of CATEMBED_ALLOWED_HOSTS",
            }
        if scope["method"] != "POST":
            return None
        origin = headers.get(b"origin")
        if origin is not None and not self.any_origin:
            text = origin.decode("latin-1").rstrip("/").lower()
            if text.partition("://")[2] != host.lower() and text not in self.origins:
                return 403, {
                    "type": "cross_site",
                    "message": f"a POST from the page {text[:100]!r} is refused: only this service's own pages "
                    "and CATEMBED_CORS_ORIGINS may send one",
                    "field": "Origin",
                }
        declared = headers.get(b"content-type")
        if declared is not None:
            media = declared.decode("latin-1").partition(";")[0].strip().lower()
            allowed = JSON_TYPES + (BINARY_TYPES if scope["path"].startswith("/v2/") else ())
            if media not in allowed:
                return 415, {
                    "type": "unsupported_media_type",
                    "message": f"Content-Type {media[:80]!r} is not accepted; send {' or '.join(allowed)}",
                    "field": "Content-Type",
                    "expected": " or ".join(allowed),
                }
        return None

    def _host_allowed(self, host: str) -> bool:
        if self.any_host:
            return True
        name = host.lower()
        if name.startswith("["):  # [::1]:8000
            name = name[1 : name.find("]")] if "]" in name else name
        elif name.count(":") == 1:
            name = name.partition(":")[0]
        return name in self.hosts or (bool(self.suffixes) and name.endswith(self.suffixes))
