"""The naive serving path of the original write-up, for comparison only: Keras ``model.predict``
per request on the same bundle, after the same TabularEncoder.

Run by bench/perf.py as ``uvicorn bench.naive_app:create_app --factory`` with BENCH_BUNDLE set to
a bundle version folder. Not part of the product: it imports TensorFlow, which the service never does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

from app.records import RecordParser
from features.artifacts import load_bundle


def create_app() -> FastAPI:

    folder = Path(os.environ["BENCH_BUNDLE"])
    bundle = load_bundle(folder.parent, int(folder.name))
    from training.model.saved import load_keras_model

    model = load_keras_model(folder / "model.keras")
    encoder = bundle.encoder
    parser = RecordParser(encoder.categorical, encoder.numeric, 10_000, 1_000)
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        parsed = parser.parse(await request.body())
        batch = encoder.transform(parsed.columns)
        output = model.predict(batch.model_inputs(), verbose=0)  # the write-up's per-request call
        body: dict[str, Any] = {"predictions": output.tolist()}
        return Response(orjson.dumps(body), media_type="application/json")

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app
