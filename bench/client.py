"""The lowest-overhead HTTP/1.1 keep-alive client we could write: one socket, prebuilt request
bytes, read exactly Content-Length. Its own cost (~15 µs) is paid equally by every endpoint."""

from __future__ import annotations

import socket
import time


class KeepAliveClient:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    @staticmethod
    def request(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {"Content-Type": "application/json"}).items())
        head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one prebuilt request and read its response: (status, body)."""
        self.sock.sendall(request)
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += self._recv()
        head = buffer[:end]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        total = end + 4 + length
        while len(buffer) < total:
            buffer += self._recv()
        self.buffer = buffer[total:]
        return int(head[9:12]), buffer[end + 4 : total]

    def timed(self, request: bytes, n: int) -> list[int]:
        """n sequential requests; per-request wall time in ns. Any non-200 stops the run."""
        times = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            status, body = self.send(request)
            times.append(time.perf_counter_ns() - t0)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        return times

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk
