"""uvicorn's HTTP protocol with the limits it lacks: how long and how big a request may be in arriving.

uvicorn (0.54, httptools) drops an idle keep-alive connection, but a client that has sent one
byte of a request is waited for forever, and a request head is buffered however long it grows:
300 connections with half a header were never dropped, 20 unfinished 8 MB headers took the
server's RSS from 150 to 315 MB, 50 bodies stalled mid-way were still held after 30 s. This
protocol adds three limits (``CATEMBED_HEADER_TIMEOUT``, ``CATEMBED_BODY_TIMEOUT``,
``CATEMBED_MAX_HEADER_BYTES``) around the same parser:

- a connection has ``header_timeout`` seconds from its opening, or from a request's first byte,
  to deliver the whole request head; else 408 and closed;
- a request head over ``max_header_bytes`` is answered 431 and the connection closed, before it
  is buffered further;
- a request body must be complete ``body_timeout`` seconds after its head; else the connection is
  closed (the application sees a disconnect).

Concurrent connections and the keep-alive timeout are uvicorn's own ``limit_concurrency`` and
``timeout_keep_alive`` (cli/serve.py). Measured in tests/app/test_slow_clients.py.
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.settings import Settings, load_settings

LINGER_SECONDS, LINGER_BYTES = 2.0, 1 << 20  # a refused client's remaining request: read and dropped up to these


@cache
def limits() -> Settings:
    """The CATEMBED_* settings of this worker process (cli/serve.py validated them before start)."""
    return load_settings()


def _response(status: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = limits()
        self.header_timeout, self.body_timeout = settings.header_timeout, settings.body_timeout
        self.max_header_bytes = settings.max_header_bytes
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = True  # between requests, or inside a request line and headers
        self._head_bytes = 0
        self._draining = False  # answered and closing: what the client still sends is read and dropped
        self._drained = 0
        self._tail = b""  # the head's last 3 bytes, for an end of head split between two reads

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout)  # a connection that never sends a request is dropped too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._draining:
            self._drained += len(data)
            if self._drained > LINGER_BYTES:  # not a request finishing: stop reading it
                self.transport.close()
            return
        if self._in_head:  # counted before the parser sees it: the parser's own refusal closes without lingering
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))  # a body read along is not head
            self._tail = seen[-3:]
            if self._head_bytes > self.max_header_bytes:
                self._refuse(b"431 Request Header Fields Too Large")
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes, self._tail = False, 0, b""
        self._arm(self.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()  # the request is in; answering it takes as long as it takes
        self._in_head = True

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_head and (self.cycle is None or self.cycle.response_complete):
            self._refuse(b"408 Request Timeout")
        else:  # mid-body: the application is reading it and gets a disconnect
            self.transport.close()

    def _refuse(self, status: bytes) -> None:
        """Answer and close, lingering: closing a socket with unread input resets the connection,
        and a client still sending its request would lose the answer. So the write side is shut
        first, the rest of the request is read and dropped, and the socket closes when the client
        closes, after LINGER_SECONDS or past LINGER_BYTES (as Apache's and nginx's lingering close)."""
        self._disarm()
        self._draining = True
        self.transport.write(_response(status))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
