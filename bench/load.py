"""Bounded load against a real uvicorn on 127.0.0.1: every request counted, every answer checked.

    nice -n 10 .venv/bin/python -m bench.load --model-dir model_artifacts/flights \\
        --requests 50000 --connections 32 --out bench/results/load.json

Two runs, each against the same server: ``predict`` (one record per POST /predict) and
``mixed`` (single records, batches of 100 and embedding lookups, interleaved). Each run first
sends a warm-up of the same traffic, then reads the server's RSS from /proc, sends the
measured requests, and reads the RSS again: growth beyond a few percent would be a leak.
An error is anything but the expected status with a well-formed body, or a dropped connection.

The client is asyncio over raw keep-alive sockets (prebuilt request bytes, read exactly
Content-Length), so on a shared 2-core machine its own cost is part of the latency it reports.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Request:
    kind: str
    raw: bytes
    expect: bytes  # the start of every good body


@dataclass
class Tally:
    latencies_ns: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    bad: int = 0  # answered, but not with the expected status and body
    errors: list[str] = field(default_factory=list)  # the first few, for the report
    kinds: Counter[str] = field(default_factory=Counter)


def _post(path: str, body: bytes, expect: bytes, kind: str) -> Request:
    head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return Request(kind, head.encode() + body, expect)


def _get(path: str, expect: bytes, kind: str) -> Request:
    return Request(kind, f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode(), expect)


def traffic(manifest: dict[str, Any], vocabularies: dict[str, list[str]], mix: str) -> list[Request]:
    """A repeating cycle of requests. predict: single records; mixed: 6 single, 1 batch of 100, 3 lookups.
    Records vary over 100 combinations of known values and numbers, so the same bytes are not replayed."""
    records = _records(manifest, vocabularies, 100)
    singles = [_post("/predict", json.dumps(r).encode(), b'{"model"', "single") for r in records]
    if mix == "predict":
        return singles
    batch = _post("/predict", json.dumps({"records": records}).encode(), b'{"model"', "batch100")
    lookups = [
        _get(f"/embeddings/{quote(name, safe='')}/{quote(value, safe='')}", b'{"feature"', "embedding")
        for name, values in vocabularies.items()
        for value in values[:5]
    ]
    rotating, single = itertools.cycle(lookups), itertools.cycle(singles)
    return [
        request
        for _ in range(len(singles))
        for request in [next(single) for _ in range(6)] + [batch] + [next(rotating) for _ in range(3)]
    ]


def _records(manifest: dict[str, Any], vocabularies: dict[str, list[str]], n: int) -> list[dict[str, Any]]:
    example, kinds = manifest["example"], {f["name"]: f["kind"] for f in manifest["features"]}
    records = []
    for i in range(n):
        record = dict(example)
        for name, value in example.items():
            if kinds.get(name) == "categorical" and vocabularies.get(name):
                record[name] = vocabularies[name][(i * 7 + len(name)) % len(vocabularies[name])]
            elif kinds.get(name) == "numeric" and isinstance(value, int | float) and not isinstance(value, bool):
                record[name] = value * (0.5 + i / n)
        records.append(record)
    return records


async def _connection(port: int, requests: list[Request], queue: itertools.count, total: int, tally: Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while (i := next(queue)) < total:
            request = requests[i % len(requests)]
            started = time.perf_counter_ns()
            try:
                writer.write(request.raw)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line[15:]) for line in head.split(b"\r\n") if line[:15].lower() == b"content-length:")
                body = await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, StopIteration) as exc:
                tally.errors.append(f"{request.kind}: {type(exc).__name__}: {exc}")
                return
            tally.latencies_ns.append(time.perf_counter_ns() - started)
            status = int(head[9:12])
            tally.statuses[status] += 1
            tally.kinds[request.kind] += 1
            if status != 200 or not body.startswith(request.expect):
                tally.bad += 1
                tally.errors.append(f"{request.kind}: HTTP {status}: {body[:200]!r}")
    finally:
        writer.close()


async def _drive(port: int, requests: list[Request], total: int, connections: int) -> Tally:
    tally, queue = Tally(), itertools.count()
    await asyncio.gather(*(_connection(port, requests, queue, total, tally) for _ in range(connections)))
    return tally


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _percentile(sorted_values: list[int], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] / 1e6


def run(port: int, pid: int, requests: list[Request], total: int, connections: int, warmup: int) -> dict[str, Any]:
    asyncio.run(_drive(port, requests, warmup, connections))
    before = rss_kib(pid)
    started = time.perf_counter()
    tally = asyncio.run(_drive(port, requests, total, connections))
    seconds = time.perf_counter() - started
    after = rss_kib(pid)
    latencies = sorted(tally.latencies_ns)
    answered = sum(tally.statuses.values())
    return {
        "requests": total,
        "answered": answered,
        "connections": connections,
        "errors": tally.bad + (total - answered),  # wrong answers plus requests never answered
        "error_samples": tally.errors[:5],
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "by_kind": dict(tally.kinds),
        "seconds": round(seconds, 2),
        "requests_per_second": round(answered / seconds, 1),
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.50), 2),
            "p90": round(_percentile(latencies, 0.90), 2),
            "p99": round(_percentile(latencies, 0.99), 2),
            "max": round(latencies[-1] / 1e6, 2),
        }
        if latencies
        else {},
        "warmup_requests": warmup,
        "rss_kib_before": before,
        "rss_kib_after": after,
        "rss_growth_percent": round(100 * (after - before) / before, 2),
    }


class Server:
    """``catembed serve`` in its own process on a free loopback port; its log goes to a file."""

    def __init__(self, model_dir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.log = tempfile.NamedTemporaryFile(prefix="catembed-load-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, "CATEMBED_MODEL_DIR": str(model_dir), "CATEMBED_LOG_LEVEL": "warning"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become ready: " + Path(self.log.name).read_text()[-2000:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        Path(self.log.name).unlink(missing_ok=True)


def measure(model_dir: Path, total: int, connections: int, warmup: int, mixes: tuple[str, ...] = ("predict", "mixed")) -> dict:
    from features.artifacts import load_bundle

    bundle = load_bundle(model_dir)
    vocabularies = {name: list(bundle.encoder.categorical_[name].vocabulary_) for name in bundle.encoder.categorical}
    server = Server(model_dir)
    try:
        server.wait_ready()
        runs = {
            mix: run(server.port, server.process.pid, traffic(bundle.manifest, vocabularies, mix), total, connections, warmup)
            for mix in mixes
        }
    finally:
        server.stop()
    return {
        "model": f"{bundle.name}/{bundle.version}",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "server": "catembed serve (uvicorn, 1 worker) on 127.0.0.1",
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "model_artifacts" / "flights")
    parser.add_argument("--requests", type=int, default=50_000, help="measured requests per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=int, help="default: 10%% of --requests, at least 500")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 200_000 or not 1 <= args.connections <= 256:
        parser.error("bounded load only: 1-200,000 requests and 1-256 connections")
    warmup = args.warmup if args.warmup is not None else max(500, args.requests // 10)
    report = measure(args.model_dir, args.requests, args.connections, warmup)
    report["command"] = " ".join(["python -m bench.load", *(argv if argv is not None else sys.argv[1:])])
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0 if all(r["errors"] == 0 for r in report["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
