"""A bare FastAPI app with only the floor endpoint: no catembed middleware, routers or model.

Measured beside catembed's own ``/_floor`` so the cost of the service's middleware (request id,
Prometheus metrics, error handling) is a number, not a guess.
"""

from __future__ import annotations

from fastapi import FastAPI, Request

from app.responses import FastJSONResponse


def create_app() -> FastAPI:
    app = FastAPI(default_response_class=FastJSONResponse)

    @app.post("/_floor")
    async def floor(request: Request) -> FastJSONResponse:
        import orjson

        payload = orjson.loads(await request.body())
        return FastJSONResponse({"ok": True, "keys": len(payload)})

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app
