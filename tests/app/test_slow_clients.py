"""Cheap denial of service against a real ``catembed serve`` on loopback: unfinished request heads,
huge heads, bodies stalled mid-way and hundreds of partial connections are dropped in bounded time
while other requests keep being answered, and the server's RSS stays flat (issue 28 §3)."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.app.live import LiveServer

HEADER_TIMEOUT, BODY_TIMEOUT = 1.0, 1.5
LIMITS = {
    "CATEMBED_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
    "CATEMBED_BODY_TIMEOUT": str(BODY_TIMEOUT),
    "CATEMBED_MAX_HEADER_BYTES": "16384",
}


@pytest.fixture(scope="module")
def server(binary_run):
    live = LiveServer(binary_run.path.parent, **LIMITS).wait_ready()
    yield live
    live.stop()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _connect(port: int, first: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(first)
    sock.setblocking(False)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed its side (an answer such as 408 may come first)."""
    try:
        while chunk := sock.recv(65536):
            del chunk
        return True
    except BlockingIOError:
        return False
    except OSError:  # reset by the server
        return True


def _wait_all_closed(socks: list[socket.socket], seconds: float) -> float:
    started, pending = time.monotonic(), list(socks)
    while pending and time.monotonic() - started < seconds:
        select.select(pending, [], [], 0.2)
        pending = [s for s in pending if not _closed_by_server(s)]
    assert not pending, f"{len(pending)} of {len(socks)} connections still open after {seconds} s"
    return time.monotonic() - started


def _answered(server, example: dict) -> float:
    started = time.monotonic()
    response = httpx.post(f"{server.url}/predict", json=example, timeout=5)
    assert response.status_code == 200, response.text
    return time.monotonic() - started


def test_partial_heads_and_stalled_bodies_are_dropped_while_others_are_served(server, example):
    port, pid = server.port, server.process.pid
    for _ in range(20):  # warm: the first requests allocate what every later one reuses
        _answered(server, example)
    rss_before = _rss_mb(pid)
    head = b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nX-Slow: "
    socks = [_connect(port, head) for _ in range(300)]  # heads never finished
    body = b'{"color": "red"'
    stalled = [
        _connect(
            port,
            b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + body,
        )
        for _ in range(50)
    ]
    idle = [_connect(port, b"") for _ in range(20)]  # connected, nothing sent
    # meanwhile other clients are answered, promptly
    latencies = [_answered(server, example) for _ in range(10)]
    assert max(latencies) < 2.0, latencies
    took = _wait_all_closed(socks + stalled + idle, HEADER_TIMEOUT + BODY_TIMEOUT + 6)
    assert took < HEADER_TIMEOUT + BODY_TIMEOUT + 6
    assert _answered(server, example) < 2.0
    assert _rss_mb(pid) - rss_before < 30, (rss_before, _rss_mb(pid))
    for sock in socks + stalled + idle:
        sock.close()


def test_a_body_that_arrives_with_its_head_is_not_counted_as_head(server, example):
    """The head limit counts the head only: a 200 kB request written in one piece is answered."""
    import json

    body = json.dumps({"records": [example] * 1500}).encode()
    assert len(body) > 10 * 16384
    head = f"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


def test_an_unfinished_head_gets_408_and_a_huge_head_431_before_it_is_buffered(server, example):
    slow = _connect(server.port, b"GET /model HTTP/1.1\r\nHost: localhost\r\n")
    _wait_all_closed([slow], HEADER_TIMEOUT + 4)

    pid = server.process.pid
    rss_before = _rss_mb(pid)
    accepted, answers = [], []
    for _ in range(20):  # each tries to send an 8 MB header
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sent = 0
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /model HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
            chunk = b"a" * 65536
            while sent < 8 * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
        with contextlib.suppress(OSError):
            answers.append(sock.recv(200))
        accepted.append(sent)
        sock.close()
    assert max(accepted) < 8 * 1024 * 1024, accepted  # cut off, not read to the end
    assert any(a.startswith(b"HTTP/1.1 431") for a in answers), answers[:3]
    assert _rss_mb(pid) - rss_before < 30
    assert _answered(server, example) < 2.0
