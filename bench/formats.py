"""The same 10,000-record batch in every answer format, over HTTP against the same server.

- ``rows``: ``POST /predict`` (the default row format: a dict per record, warnings as dicts)
- ``columns``: ``POST /predict?orient=columns`` (the same body; one array per output, warnings
  as ``[row, field, type]``)
- ``columns_body``: the same answer for a columnar request, ``{"columns": {feature: [...]}}``
- ``v2_json``: ``POST /v2/models/{name}/infer``, one JSON tensor per feature, JSON outputs
- ``v2_binary``: the same with the binary tensor data extension both ways (tritonclient's default)

Also the single-record ``/predict`` beside the floor, in the same run, so a slower hot path
shows, and the in-process split of the columnar formats (bench/format_stages.py).
``python -m bench.formats --bundle <version folder>`` runs only this part.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from app.v2 import binary
from bench import batch, format_stages, latency, server
from bench.client import KeepAliveClient


def v2_requests(name: str, manifest: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, bytes]:
    """The batch as v2 JSON and as v2 binary requests (prebuilt request bytes)."""
    n = len(records)
    tensors, chunks = [], []
    for feature in manifest["features"]:
        column = [r[feature["name"]] for r in records]
        if feature["kind"] == "categorical":
            datatype, data = "BYTES", ["" if v is None else str(v) for v in column]
        else:
            datatype, data = "FP64", [float("nan") if v is None else float(v) for v in column]
        tensors.append((feature["name"], datatype, data))
    path = f"/v2/models/{name}/infer"
    as_json = {
        "id": "bench",
        "inputs": [
            {"name": k, "datatype": t, "shape": [n], "data": [None if v != v else v for v in d] if t == "FP64" else d}
            for k, t, d in tensors
        ],
    }
    inputs = []
    for k, t, d in tensors:
        raw = binary.encode(t, d)
        chunks.append(raw)
        inputs.append({"name": k, "datatype": t, "shape": [n], "parameters": {"binary_data_size": len(raw)}})
    header = orjson.dumps({"id": "bench", "inputs": inputs, "parameters": {"binary_data_output": True}})
    binary_headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(header))}
    return {
        "v2_json": KeepAliveClient.request(
            path, orjson.dumps(as_json), {"Accept": "application/json"}
        ),  # no Content-Type, as tritonclient
        "v2_binary": KeepAliveClient.request(path, b"".join([header, *chunks]), binary_headers),
    }


def columns_body(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The batch as the native columnar request: one list per feature, values as in the records."""
    return {"columns": {name: [r[name] for r in records] for name in records[0]}}


def requests_for(name: str, manifest: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, bytes]:
    """The batch as a prebuilt HTTP request in every format."""
    body = orjson.dumps({"records": records})
    return {
        "rows": KeepAliveClient.request("/predict", body),
        "columns": KeepAliveClient.request("/predict?orient=columns", body),
        "columns_body": KeepAliveClient.request("/predict?orient=columns", orjson.dumps(columns_body(records))),
        **v2_requests(name, manifest, records),
    }


def run(port: int, name: str, manifest: dict[str, Any], records: list[dict[str, Any]], *, repeats: int) -> dict[str, Any]:
    requests = requests_for(name, manifest, records)
    client = KeepAliveClient(port)
    results: dict[str, Any] = {}
    try:
        for _ in range(2):  # warm every path first
            for request in requests.values():
                client.send(request)
        times: dict[str, list[int]] = {key: [] for key in requests}
        for _ in range(repeats):  # interleaved: background load hits every format alike
            for key, request in requests.items():
                times[key] += client.timed(request, 1)
        for key, request in requests.items():
            _, answer = client.send(request)
            median_ms = statistics.median(times[key]) / 1e6
            results[key] = {
                "request_bytes": len(request),
                "response_bytes": len(answer),
                "http_median_ms": round(median_ms, 2),
                "http_best_ms": round(min(times[key]) / 1e6, 2),
                "rows_per_s": round(len(records) / (median_ms / 1e3)),
            }
    finally:
        client.close()
    return {"records": len(records), "repeats": repeats, "formats": results}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.formats", description=__doc__)
    p.add_argument("--bundle", required=True, help="a bundle version folder, e.g. model_artifacts/flights/1")
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--requests", type=int, default=2000, help="single-record /predict and /_floor requests each")
    p.add_argument("--out", default=str(server.ROOT / "bench" / "results" / "formats.json"))
    args = p.parse_args(argv)
    bundle = Path(args.bundle).resolve()
    manifest = json.loads((bundle / "manifest.json").read_text())
    one = server.catembed(bundle.parent, Path(tempfile.gettempdir()) / "catembed-bench-formats.log")
    try:
        single = latency.run(one.port, manifest["example"], requests=args.requests, naive_port=None, naive_requests=0)
        records = batch.demo_records(manifest["example"], args.batch)
        results = run(one.port, bundle.parent.name, manifest, records, repeats=args.repeats)
    finally:
        one.stop()
    results["single_record"] = {k: single[k] for k in ("predict", "floor", "predict_over_floor_p50")}
    requests = requests_for(bundle.parent.name, manifest, records)
    results["in_process"] = format_stages.stages(bundle, requests, repeats=args.repeats)
    results["load_average"] = Path("/proc/loadavg").read_text().split()[:3]
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    json.dump(results, sys.stdout, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
