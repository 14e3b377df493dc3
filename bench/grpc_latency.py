"""The Open Inference Protocol over gRPC vs over HTTP (binary tensors), against one server.

One ``catembed serve --grpc-port`` answers both doors from the same Predictor. Two client kinds:

- ``wire``: prebuilt request bytes on one kept-alive connection (bench/client.py for HTTP, a raw
  gRPC channel for gRPC), so the numbers are the server plus the transport;
- ``tritonclient``: ``tritonclient.http`` and ``tritonclient.grpc`` as a user calls them, tensors
  built once, so the numbers add each client's own encoding and decoding.

A single record and a 10,000-record batch of the demo flights rows, every format interleaved
request by request so background load hits all alike; medians and bests.
``python -m bench.grpc_latency --bundle model_artifacts/flights/1`` writes bench/results/grpc.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from app.v2 import binary
from bench import batch, formats, server
from bench.client import KeepAliveClient

METHOD = "/inference.GRPCInferenceService/ModelInfer"


def grpc_request(name: str, manifest: dict[str, Any], records: list[dict[str, Any]]) -> bytes:
    """The rows as a serialized ModelInferRequest with raw contents: what tritonclient.grpc sends."""
    from app.v2.grpc_messages import ModelInferRequest

    request = ModelInferRequest(model_name=name, id="bench")
    for feature, datatype, values in _columns(manifest, records):
        request.inputs.add(name=feature, datatype=datatype, shape=[len(records)])
        request.raw_input_contents.append(binary.encode(datatype, values))
    return bytes(request.SerializeToString())


def _columns(manifest: dict[str, Any], records: list[dict[str, Any]]) -> list[tuple[str, str, list[Any]]]:
    columns = []
    for feature in manifest["features"]:
        values = [r[feature["name"]] for r in records]
        if feature["kind"] == "categorical":
            columns.append((feature["name"], "BYTES", ["" if v is None else str(v) for v in values]))
        else:
            columns.append((feature["name"], "FP64", [math.nan if v is None else float(v) for v in values]))
    return columns


def triton_calls(http_port: int, grpc_port: int, name: str, manifest: dict[str, Any], records: list[dict[str, Any]]):
    """One call each through tritonclient.http (binary tensors both ways) and tritonclient.grpc."""
    import tritonclient.grpc as triton_grpc
    import tritonclient.http as triton_http

    calls, closers = {}, []
    for kind, module, port in (("http", triton_http, http_port), ("grpc", triton_grpc, grpc_port)):
        client = module.InferenceServerClient(f"127.0.0.1:{port}")
        inputs = []
        for feature, datatype, values in _columns(manifest, records):
            tensor = module.InferInput(feature, [len(records)], datatype)
            tensor.set_data_from_numpy(np.array(values, dtype=object if datatype == "BYTES" else np.float64))
            inputs.append(tensor)
        calls[f"tritonclient_{kind}"] = lambda c=client, i=inputs: c.infer(name, i).as_numpy("label")
        closers.append(client.close)
    return calls, closers


def measure(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, dict[str, float]]:
    for call in calls.values():  # warm every path
        call()
        call()
    times: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(repeats):
        for key, call in calls.items():
            started = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - started)
    return {
        key: {"median_ms": round(statistics.median(t) * 1e3, 3), "best_ms": round(min(t) * 1e3, 3)} for key, t in times.items()
    }


def run(bundle: Path, sizes: dict[str, tuple[int, int]]) -> dict[str, Any]:
    manifest = json.loads((bundle / "manifest.json").read_text())
    name = bundle.parent.name
    http_port, grpc_port = server.free_port(), server.free_port()
    command = [sys.executable, "-m", "cli.main", "serve", "--port", str(http_port), "--log-level", "warning"]
    env = {"CATEMBED_MODEL_DIR": str(bundle.parent), "CATEMBED_GRPC_PORT": str(grpc_port)}
    log = Path(tempfile.gettempdir()) / "catembed-bench-grpc.log"
    one = server.start(command, env, ready_path="/ready", log=log, port=http_port)
    http = KeepAliveClient(http_port)
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}", options=[("grpc.max_receive_message_length", 64 << 20)])
    infer = channel.unary_unary(METHOD)  # bytes in, bytes out: no client-side message work
    results: dict[str, Any] = {"load_average_before": Path("/proc/loadavg").read_text().split()[:3]}
    try:
        for label, (rows, repeats) in sizes.items():
            records = batch.demo_records(manifest["example"], rows)
            http_request = formats.v2_requests(name, manifest, records)["v2_binary"]
            grpc_bytes = grpc_request(name, manifest, records)
            calls: dict[str, Callable[[], Any]] = {
                "wire_http_v2_binary": lambda r=http_request: http.send(r),
                "wire_grpc": lambda b=grpc_bytes: infer(b, timeout=60),
            }
            triton, closers = triton_calls(http_port, grpc_port, name, manifest, records)
            try:
                results[label] = {
                    "rows": rows,
                    "repeats": repeats,
                    "request_bytes": {"http_v2_binary": len(http_request), "grpc": len(grpc_bytes)},
                    "formats": measure({**calls, **triton}, repeats),
                }
            finally:
                for close in closers:
                    close()
    finally:
        http.close()
        channel.close()
        one.stop()
    results["load_average_after"] = Path("/proc/loadavg").read_text().split()[:3]
    for label in sizes:
        f = results[label]["formats"]
        results[label]["grpc_over_http_median"] = {
            "wire": round(f["wire_grpc"]["median_ms"] / f["wire_http_v2_binary"]["median_ms"], 3),
            "tritonclient": round(f["tritonclient_grpc"]["median_ms"] / f["tritonclient_http"]["median_ms"], 3),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.grpc_latency", description=__doc__)
    p.add_argument("--bundle", required=True, help="a bundle version folder, e.g. model_artifacts/flights/1")
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--single-repeats", type=int, default=500)
    p.add_argument("--batch-repeats", type=int, default=20)
    p.add_argument("--out", default=str(server.ROOT / "bench" / "results" / "grpc.json"))
    args = p.parse_args(argv)
    sizes = {"single_record": (1, args.single_repeats), f"batch_{args.batch}": (args.batch, args.batch_repeats)}
    results = run(Path(args.bundle).resolve(), sizes)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    json.dump(results, sys.stdout, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
