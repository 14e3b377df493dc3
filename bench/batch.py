"""One request of 10,000 records: end-to-end over HTTP, and split into its stages in-process.

The stages are the real Predictor pieces in the order /predict runs them: parse (orjson), validate
(RecordParser: shape and types, column by column), encode (TabularEncoder), infer (the NumPy
graph), respond (warnings, one dict per row, orjson rendering). Each is the best of ``repeats``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from app.predictor import Predictor
from app.responses import FastJSONResponse
from bench.client import KeepAliveClient
from features.artifacts import load_bundle


def demo_records(example: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """n real rows of the demo flights sample as a JSON client sends them (NaN → null); for a
    bundle with other features, n copies of its manifest example."""
    import pandas as pd
    import pyarrow.parquet as pq

    from training.data.tables import DEMO_DATA

    features = list(example)
    if not set(features) <= set(pq.read_schema(DEMO_DATA).names):
        return [dict(example) for _ in range(n)]
    frame = pd.read_parquet(DEMO_DATA, columns=features)
    frame = pd.concat([frame] * math.ceil(n / len(frame)), ignore_index=True).head(n)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: v.item() if hasattr(v, "item") else v for k, v in row.items()} for row in rows]


def _best_ms(function: Callable[[], Any], repeats: int) -> float:
    function()
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return round(best * 1e3, 2)


def stages(bundle: Path, body: bytes, repeats: int) -> dict[str, float]:
    predictor = Predictor(load_bundle(bundle.parent, int(bundle.name)))
    predictor.warm_up()  # as the server does (BLAS threads too)
    parser, encoder, graph = predictor.parser, predictor.encoder, predictor.graph
    payload = parser.loads(body)
    parsed = parser.parse_payload(payload)
    columns = {**parsed.columns, **parsed.numbers}
    batch = encoder.transform(columns)
    output = graph(batch.categorical, batch.numeric)

    def respond() -> bytes:
        results = predictor._results(output, predictor._warnings(parsed, batch))
        content = {"model": predictor.name, "version": predictor.version, "predictions": results}
        return bytes(FastJSONResponse(content).body)

    timed = {
        "parse_ms": _best_ms(lambda: parser.loads(body), repeats),
        "validate_ms": _best_ms(lambda: parser.parse_payload(payload), repeats),
        "encode_ms": _best_ms(lambda: encoder.transform(columns), repeats),
        "infer_ms": _best_ms(lambda: graph(batch.categorical, batch.numeric), repeats),
        "respond_ms": _best_ms(respond, repeats),
    }
    timed["sum_of_stages_ms"] = round(sum(timed.values()), 2)
    timed["predict_call_ms"] = _best_ms(lambda: predictor.predict(body), repeats)
    return timed


def run(port: int, bundle: Path, records: list[dict[str, Any]], *, repeats: int) -> dict[str, Any]:
    body = orjson.dumps({"records": records})
    client = KeepAliveClient(port)
    try:
        request = client.request("/predict", body)
        status, answer = client.send(request)
        if status != 200 or len(orjson.loads(answer)["predictions"]) != len(records):
            raise RuntimeError(f"batch request failed: HTTP {status} {answer[:300]!r}")
        times = client.timed(request, repeats)
    finally:
        client.close()
    http_ms = statistics.median(times) / 1e6
    return {
        "records": len(records),
        "body_bytes": len(body),
        "response_bytes": len(answer),
        "http_median_ms": round(http_ms, 2),
        "http_best_ms": round(min(times) / 1e6, 2),
        "rows_per_s": round(len(records) / (http_ms / 1e3)),
        "in_process": stages(bundle, body, repeats),
    }
