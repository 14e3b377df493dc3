from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def settings_for(run, **overrides) -> Settings:
    return Settings(model_dir=run.path.parent, model_version=int(run.path.name), **overrides)


def records(frame) -> list[dict]:
    """Raw rows as a JSON client sends them: NaN → null, numpy scalars → Python."""
    rows = frame.to_dict("records")
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else (v.item() if hasattr(v, "item") else v)) for k, v in row.items()}
        for row in rows
    ]


@pytest.fixture(scope="session")
def client(binary_run):
    with TestClient(create_app(settings_for(binary_run))) as c:
        yield c


@pytest.fixture(scope="session")
def example(binary_run) -> dict:
    return dict(binary_run.manifest["example"])


def assert_error(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"type", "message"} <= set(error) and error["message"]
    assert "Traceback" not in response.text
    if field is not None:
        assert error.get("field") == field, error
    return error
