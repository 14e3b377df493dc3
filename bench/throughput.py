"""Throughput: requests/s and latency percentiles at 16 and 64 concurrent keep-alive connections.

wrk (Debian's package) drives the load with a Lua script for the POST body; it runs one thread so
that on this 2-core machine one core is left for a one-worker server. Without wrk, an asyncio
client with raw keep-alive sockets does the same job (and reports that it was used: it is slower
than wrk, so the server looks slower with it).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.client import KeepAliveClient
from bench.latency import percentiles

_UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6}


def _lua(path: str, body: bytes) -> str:
    text = body.decode().replace("\\", "\\\\").replace('"', '\\"')
    return f'wrk.method = "POST"\nwrk.path = "{path}"\nwrk.body = "{text}"\nwrk.headers["Content-Type"] = "application/json"\n'


def _micros(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return round(float(value) * _UNITS[unit], 1)


def with_wrk(port: int, path: str, body: bytes, connections: int, seconds: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(path, body))
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{int(seconds)}s",
        "--latency",
        "-s",
        script.name,
        f"http://127.0.0.1:{port}{path}",
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    Path(script.name).unlink()
    latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "client": "wrk -t1",
        "connections": connections,
        "seconds": seconds,
        "requests_per_s": round(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))),  # type: ignore[union-attr]
        "p50_us": _micros(latency["50"]),
        "p99_us": _micros(latency["99"]),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


async def _connection(port: int, request: bytes, stop: float, times: list[int]) -> int:
    loop = asyncio.get_running_loop()
    client = KeepAliveClient(port)
    client.sock.setblocking(False)
    failures = 0
    try:
        while time.perf_counter() < stop:
            t0 = time.perf_counter_ns()
            await loop.sock_sendall(client.sock, request)
            head = b""
            while b"\r\n\r\n" not in head:
                head += await loop.sock_recv(client.sock, 1 << 16)
            end = head.index(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head[:end]).group(1))  # type: ignore[union-attr]
            while len(head) < end + 4 + length:
                head += await loop.sock_recv(client.sock, 1 << 16)
            times.append(time.perf_counter_ns() - t0)
            failures += head[9:12] != b"200"
    finally:
        client.close()
    return failures


def with_asyncio(port: int, path: str, body: bytes, connections: int, seconds: float) -> dict[str, Any]:
    request = KeepAliveClient.request(path, body)
    times: list[int] = []

    async def main() -> int:
        stop = time.perf_counter() + seconds
        return sum(await asyncio.gather(*(_connection(port, request, stop, times) for _ in range(connections))))

    started = time.perf_counter()
    failures = asyncio.run(main())
    elapsed = time.perf_counter() - started
    stats = percentiles(times)
    return {
        "client": "asyncio",
        "connections": connections,
        "seconds": seconds,
        "requests_per_s": round(len(times) / elapsed),
        "p50_us": stats["p50_us"],
        "p99_us": stats["p99_us"],
        "non_2xx": failures,
    }


def run(port: int, path: str, body: bytes, *, connections: int, seconds: float) -> dict[str, Any]:
    measure = with_wrk if shutil.which("wrk") else with_asyncio
    return measure(port, path, body, connections, seconds)
