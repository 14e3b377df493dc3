"""Real uvicorn processes on free loopback ports: start, wait for /ready, measure, stop.

Each benchmark talks to a separate process over TCP, exactly like a client would, so the numbers
include the HTTP stack (httptools + uvloop) and not just the Python functions behind it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of one process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def tree_rss_mb(pid: int) -> float:
    """RSS of a process plus its direct children (uvicorn --workers N forks N workers)."""
    total = rss_mb(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        with contextlib.suppress(FileNotFoundError, RuntimeError):
            total += rss_mb(int(child))
    return total


@dataclass
class Server:
    """A running server; ``cold_start_s`` is spawn → first 200 on the ready path."""

    process: subprocess.Popen[bytes]
    port: int
    cold_start_s: float
    log: Path
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def _get_status(port: int, path: str) -> int:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
        return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    except OSError:
        return 0


def start(command: list[str], env: dict[str, str], *, ready_path: str, log: Path, port: int, timeout: float = 120.0) -> Server:
    """Spawn ``command`` (which must listen on ``port``) and poll ``ready_path`` until it answers 200."""
    with open(log, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[:4]} exited with {process.returncode}: {log.read_text()[-1500:]}")
        if _get_status(port, ready_path) == 200:
            return Server(process, port, time.perf_counter() - started, log)
        time.sleep(0.005)  # poll often: this is the cold-start measurement
    process.kill()
    raise RuntimeError(f"{command[:4]} was not ready within {timeout:.0f} s: {log.read_text()[-1500:]}")


def catembed(model_dir: Path, log: Path, *, workers: int = 1, floor: bool = True) -> Server:
    """``catembed serve`` on the bundle folder, with the floor endpoint switched on."""
    port = free_port()
    command = [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning"]
    env = {"CATEMBED_MODEL_DIR": str(model_dir), "CATEMBED_FLOOR_ENDPOINT": "true" if floor else "false"}
    return start(command, env, ready_path="/ready", log=log, port=port)


def naive(bundle: Path, log: Path) -> Server:
    """The original write-up's path: Keras ``model.predict`` per request (bench/naive_app.py)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.naive_app:create_app", "--factory", "--port", str(port)]
    command += ["--log-level", "warning"]
    return start(command, {"BENCH_BUNDLE": str(bundle)}, ready_path="/ready", log=log, port=port, timeout=300)


def bare(log: Path) -> Server:
    """bench/bare_app.py: FastAPI with only the floor endpoint, none of catembed's middleware."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.bare_app:create_app", "--factory", "--port", str(port)]
    command += ["--log-level", "warning"]
    return start(command, {}, ready_path="/ready", log=log, port=port)
