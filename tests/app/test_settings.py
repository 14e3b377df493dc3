"""Settings come from CATEMBED_* variables; a bad one stops the service before it starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.app.conftest import settings_for
from tests.app.live import ROOT, free_port


def start(command: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CATEMBED_")}
    return subprocess.run(command, cwd=ROOT, env={**environment, **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("CATEMBED_MAX_RECORDS", "0", "greater than or equal to 1"),
        ("CATEMBED_LOG_FORMAT", "xml", "'json' or 'text'"),
        ("CATEMBED_RELOAD_INTERVAL", "soon", "valid number"),
    ],
)
def test_catembed_serve_refuses_an_invalid_setting_in_one_line(binary_run, name, value, says):
    result = start(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(free_port())],
        CATEMBED_MODEL_DIR=str(binary_run.path.parent),
        **{name: value},
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"catembed cannot start: {name}={value!r} is invalid") and says in line, line


def test_plain_uvicorn_factory_refuses_too(binary_run):
    result = start(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(free_port())],
        CATEMBED_MODEL_DIR=str(binary_run.path.parent),
        CATEMBED_WORKERS="0",
    )
    assert result.returncode != 0
    assert "catembed cannot start: CATEMBED_WORKERS='0' is invalid" in result.stderr
    assert "Traceback" not in result.stderr


def test_environment_values_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("CATEMBED_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("CATEMBED_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("CATEMBED_API_KEY", "k")
    monkeypatch.setenv("CATEMBED_RELOAD_INTERVAL", "2.5")
    settings = Settings()
    assert settings.model_dir == tmp_path and settings.reload_interval == 2.5
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "k"
    assert "k" not in repr(settings.api_key)


def test_cors_origins_are_allowed_when_set(binary_run):
    with TestClient(create_app(settings_for(binary_run, cors_origins=["https://app.example"]))) as client:
        allowed = client.get("/health", headers={"Origin": "https://app.example"})
        other = client.get("/health", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers
