"""CATEMBED_API_KEY: unset = open; set = the model and admin routes need the bearer key."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import assert_error, settings_for

KEY = "s3cret-key-for-tests"
PROTECTED = ["/predict", "/encode", "/embed", "/admin/reload"]
OPEN = ["/health", "/ready", "/metrics", "/model", "/embeddings/color/red", "/openapi.json", "/docs"]


@pytest.fixture(scope="module")
def locked(binary_run):
    with TestClient(create_app(settings_for(binary_run, api_key=KEY))) as client:
        yield client


@pytest.mark.parametrize("path", PROTECTED)
def test_protected_routes_refuse_a_missing_or_wrong_key(locked, example, path):
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": f"Bearer {KEY}x"},
    ):
        response = locked.post(path, json=example, headers=headers)
        error = assert_error(response, 401)
        assert error["type"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
        assert KEY not in response.text


@pytest.mark.parametrize("path", PROTECTED)
def test_protected_routes_accept_the_key(locked, example, path):
    response = locked.post(path, json=example, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", OPEN)
def test_health_metrics_and_lookups_stay_open(locked, path):
    assert locked.get(path).status_code == 200


def test_openapi_documents_the_bearer_scheme_on_protected_routes_only(locked):
    schema = locked.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert schema["paths"]["/predict"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in schema["paths"]["/health"]["get"]


def test_without_a_key_everything_is_open(client, example):
    assert client.post("/predict", json=example).status_code == 200
    assert client.post("/admin/reload").status_code == 200


def test_a_blank_key_means_open(binary_run, example):
    with TestClient(create_app(settings_for(binary_run, api_key="  "))) as client:
        assert client.app.state.settings.api_key is None
        assert client.post("/predict", json=example).status_code == 200
