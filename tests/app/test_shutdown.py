"""SIGTERM: the server stops accepting, finishes the request in flight, and exits 0."""

from __future__ import annotations

import json
import signal
import threading
import time

import httpx
import pytest

from tests.app.live import LiveServer


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish(binary_run):
    body = json.dumps({"records": [binary_run.manifest["example"]] * 2000}).encode()
    half = len(body) // 2
    sent_first_half = threading.Event()
    terminated = threading.Event()
    result: dict = {}

    def slow_body():
        # the request is provably in flight when SIGTERM arrives: half the body is on the wire
        yield body[:half]
        sent_first_half.set()
        terminated.wait(10)
        time.sleep(0.3)
        yield body[half:]

    def client(url: str) -> None:
        try:
            result["response"] = httpx.post(f"{url}/predict", content=slow_body(), timeout=30)
        except httpx.HTTPError as exc:
            result["error"] = exc

    server = LiveServer(binary_run.path.parent).wait_ready()
    try:
        thread = threading.Thread(target=client, args=(server.url,))
        thread.start()
        assert sent_first_half.wait(10)
        time.sleep(0.2)
        server.process.send_signal(signal.SIGTERM)
        terminated.set()
        time.sleep(0.5)
        # stopped accepting while the first request drains
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.url}/health", timeout=2)
        thread.join(30)
        exit_code = server.process.wait(30)
    finally:
        stderr = server.stop()
    assert "error" not in result, result.get("error")
    response = result["response"]
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 2000
    assert exit_code == 0, stderr[-2000:]
    assert "Shutting down" in stderr and "Traceback" not in stderr
