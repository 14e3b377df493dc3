"""Single-record latency: p50/p99 of POST /predict beside the floor endpoint and the naive path.

One sequential keep-alive connection per target, requests interleaved in rounds so that a burst
of background load hits all three alike. The floor endpoint reads and orjson-parses a body of the
same size and answers a small JSON: what any FastAPI endpoint costs on this machine.
"""

from __future__ import annotations

import statistics
from typing import Any

import orjson

from bench.client import KeepAliveClient


def percentiles(times_ns: list[int]) -> dict[str, float]:
    ordered = sorted(times_ns)
    n = len(ordered)
    return {
        "n": n,
        "p50_us": round(ordered[n // 2] / 1e3, 1),
        "p90_us": round(ordered[min(n - 1, int(n * 0.90))] / 1e3, 1),
        "p99_us": round(ordered[min(n - 1, int(n * 0.99))] / 1e3, 1),
        "mean_us": round(statistics.fmean(ordered) / 1e3, 1),
    }


def run(
    port: int,
    record: dict[str, Any],
    *,
    requests: int,
    naive_port: int | None,
    naive_requests: int,
    bare_port: int | None = None,
) -> dict[str, Any]:
    body = orjson.dumps(record)
    serving = KeepAliveClient(port)
    bare = KeepAliveClient(bare_port) if bare_port else None
    predict, floor = serving.request("/predict", body), serving.request("/_floor", body)
    try:
        serving.timed(predict, 200)  # warm every path (first-call costs, CPU caches)
        serving.timed(floor, 200)
        if bare:
            bare.timed(floor, 200)
        rounds, per_round = 10, max(1, requests // 10)
        times: dict[str, list[int]] = {"predict": [], "floor": [], "bare_floor": []}
        for _ in range(rounds):
            times["predict"] += serving.timed(predict, per_round)
            times["floor"] += serving.timed(floor, per_round)
            if bare:
                times["bare_floor"] += bare.timed(floor, per_round)
    finally:
        serving.close()
        if bare:
            bare.close()
    result: dict[str, Any] = {
        "body_bytes": len(body),
        "predict": percentiles(times["predict"]),
        "floor": percentiles(times["floor"]),
    }
    if bare:
        result["bare_floor"] = percentiles(times["bare_floor"])
        result["floor_over_bare_p50"] = round(result["floor"]["p50_us"] / result["bare_floor"]["p50_us"], 3)
    result["predict_over_floor_p50"] = round(result["predict"]["p50_us"] / result["floor"]["p50_us"], 3)
    result["predict_over_floor_p99"] = round(result["predict"]["p99_us"] / result["floor"]["p99_us"], 3)
    if naive_port is not None:
        naive = KeepAliveClient(naive_port)
        try:
            request = naive.request("/predict", body)
            naive.timed(request, 5)
            result["naive"] = percentiles(naive.timed(request, naive_requests))
        finally:
            naive.close()
        result["naive_over_predict_p50"] = round(result["naive"]["p50_us"] / result["predict"]["p50_us"], 1)
    return result
