"""Structured logs: JSON lines carrying the request id, which is echoed as X-Request-ID."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import settings_for


def lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def access_lines(stderr: str) -> list[dict]:
    return [line for line in lines(stderr) if line["logger"] == "catembed.access"]


def test_json_access_log_carries_the_callers_request_id(binary_run, example, capsys):
    with TestClient(create_app(settings_for(binary_run, access_log=True))) as client:
        capsys.readouterr()
        response = client.post("/predict", json=example, headers={"X-Request-ID": "trace-42"})
        assert response.status_code == 200 and response.headers["x-request-id"] == "trace-42"
    (line,) = access_lines(capsys.readouterr().err)
    assert line["request_id"] == "trace-42" and line["level"] == "info"
    assert (line["method"], line["path"], line["status"]) == ("POST", "/predict", 200)
    assert 0 < line["duration_ms"] < 10_000
    assert line["ts"].endswith("Z")


def test_a_request_id_is_made_when_the_client_sends_none_or_a_bad_one(binary_run, capsys):
    with TestClient(create_app(settings_for(binary_run, access_log=True))) as client:
        capsys.readouterr()
        first = client.get("/health").headers["x-request-id"]
        second = client.get("/health").headers["x-request-id"]
        bad = client.get("/health", headers={"X-Request-ID": "x" * 500}).headers["x-request-id"]
        error = client.post("/predict", content=b"{")
    assert len(first) == 16 and int(first, 16) >= 0 and first != second
    assert len(bad) == 16 and bad != "x" * 500
    assert error.status_code == 422 and len(error.headers["x-request-id"]) == 16
    logged = access_lines(capsys.readouterr().err)
    assert [line["request_id"] for line in logged] == [first, second, bad, error.headers["x-request-id"]]
    assert logged[-1]["status"] == 422


def test_access_log_is_off_by_default_and_startup_is_logged_as_json(binary_run, capsys):
    with TestClient(create_app(settings_for(binary_run))) as client:
        client.get("/health")
    stderr = capsys.readouterr().err
    assert access_lines(stderr) == []
    startup = [line for line in lines(stderr) if line["message"].startswith("serving binary version 1")]
    assert startup and startup[0]["logger"] == "catembed" and startup[0]["level"] == "info"


def test_text_format_for_people(binary_run, capsys):
    with TestClient(create_app(settings_for(binary_run, access_log=True, log_format="text"))) as client:
        capsys.readouterr()
        client.get("/health", headers={"X-Request-ID": "abc"})
    stderr = capsys.readouterr().err
    assert lines(stderr) == []
    assert "GET /health 200" in stderr and "request_id=abc" in stderr and "duration_ms=" in stderr
