"""Where a 10,000-row columnar batch spends its time, in-process, stage by stage.

The same Predictor pieces the routes run, in their order, each the best of ``repeats`` (CPU
time without HTTP, so less sensitive to other jobs than the medians over HTTP):

- ``decode``: the request body → columns (orjson for JSON; the binary tensor split for v2 binary;
  for the native column body, orjson plus the column checks' shape part are in ``validate``)
- ``validate``: ``RecordParser`` type, length and finiteness checks
- ``encode``: ``TabularEncoder.transform`` (vocabulary lookups, numeric scaling)
- ``infer``: the NumPy graph
- ``respond``: the warning triples or counts and rendering the answer (JSON, or binary tensors)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from app.predictor import Predictor
from app.responses import FastJSONResponse
from app.v2 import binary, codec
from features.artifacts import load_bundle


def _best_ms(function: Callable[[], Any], repeats: int) -> float:
    function()
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return round(best * 1e3, 2)


def _split(request: bytes) -> tuple[bytes, str | None]:
    head, _, body = request.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(binary.HEADER.encode()):
            return body, line.split(b":", 1)[1].strip().decode()
    return body, None


def stages(bundle: Path, requests: dict[str, bytes], repeats: int) -> dict[str, dict[str, float]]:
    """``requests``: prebuilt HTTP requests of bench.formats (``columns_body``, ``v2_json``, ``v2_binary``)."""
    predictor = Predictor(load_bundle(bundle.parent, int(bundle.name)))
    predictor.warm_up()  # as the server does (BLAS on one thread)
    return {key: _one_format(predictor, key, requests[key], repeats) for key in ("columns_body", "v2_json", "v2_binary")}


def _one_format(predictor: Predictor, key: str, http_request: bytes, repeats: int) -> dict[str, float]:
    parser, encoder, graph = predictor.parser, predictor.encoder, predictor.graph
    body, header_length = _split(http_request)
    if key == "columns_body":
        payload = orjson.loads(body)
        request = None

        def decode() -> Any:
            return parser.loads(body)

        def validate() -> Any:
            return parser.parse_column_body(payload["columns"])
    else:
        header, data = binary.split_body(body, header_length)
        request = codec.decode_request(header, data, predictor)

        def decode() -> Any:
            return codec.decode_request(header, data, predictor)

        def validate() -> Any:
            return parser.parse_columns(request.columns, request.text)

    parsed = validate()
    columns = {**parsed.columns, **parsed.numbers}
    batch = encoder.transform(columns)
    assert graph(batch.categorical, batch.numeric).shape[0] == parsed.n_rows
    result = predictor._columnar(parsed)

    def respond() -> Any:
        if request is None:
            return FastJSONResponse(result.native()).body
        return codec.encode_response(result, request)

    timed = {
        "decode_ms": _best_ms(decode, repeats),
        "validate_ms": _best_ms(validate, repeats),
        "encode_ms": _best_ms(lambda: encoder.transform(columns), repeats),
        "infer_ms": _best_ms(lambda: graph(batch.categorical, batch.numeric), repeats),
        "respond_ms": _best_ms(respond, repeats),
    }
    timed["sum_of_stages_ms"] = round(sum(timed.values()), 2)
    return timed
