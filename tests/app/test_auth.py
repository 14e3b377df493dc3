"""CATEMBED_API_KEY: unset = open; set = the model and admin routes need the bearer key."""

from __future__ import annotations

import json

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


def test_without_a_key_everything_is_open_but_what_changes_the_server(client, binary_run, example):
    """A page on any site could POST /admin/reload or unload the model (then every answer was a
    503): with no key set they are refused unless CATEMBED_ALLOW_ADMIN_WITHOUT_KEY=true."""
    assert client.post("/predict", json=example).status_code == 200
    assert "CATEMBED_ALLOW_ADMIN_WITHOUT_KEY" in assert_error(client.post("/admin/reload"), 403)["message"]
    for action in ("unload", "load"):  # v2's error shape under /v2
        refused = client.post(f"/v2/repository/models/binary/{action}")
        assert refused.status_code == 403 and "CATEMBED_ALLOW_ADMIN_WITHOUT_KEY" in refused.json()["error"]
    assert client.post("/predict", json=example).status_code == 200  # still served
    with TestClient(create_app(settings_for(binary_run, allow_admin_without_key=True))) as opened:
        assert opened.post("/admin/reload").status_code == 200


def test_a_blank_key_means_open(binary_run, example):
    with TestClient(create_app(settings_for(binary_run, api_key="  "))) as client:
        assert client.app.state.settings.api_key is None
        assert client.post("/predict", json=example).status_code == 200


# ---- cross-site requests and DNS rebinding (issue 28 §3) ----


def test_the_default_hosts_are_local_names(monkeypatch):
    from app.settings import LOCAL_HOSTS, Settings

    monkeypatch.delenv("CATEMBED_ALLOWED_HOSTS", raising=False)
    assert Settings().allowed_hosts == list(LOCAL_HOSTS) == ["localhost", "127.0.0.1", "::1"]
    monkeypatch.setenv("CATEMBED_ALLOWED_HOSTS", "models.example.com, *.internal")
    assert Settings().allowed_hosts == ["models.example.com", "*.internal"]


@pytest.fixture(scope="module")
def local(binary_run):
    """The service with its default Host list and no key, as `make run` starts it."""
    settings = settings_for(binary_run, allowed_hosts=["localhost", "127.0.0.1", "::1", "*.internal"])
    with TestClient(create_app(settings), base_url="http://localhost:8000") as client:
        yield client


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("localhost:8000", 200),
        ("127.0.0.1:8000", 200),
        ("[::1]:8000", 200),
        ("api.internal", 200),
        ("evil.example", 400),  # a DNS-rebinding page's own name
        ("localhost.evil.example", 400),
        ("internal", 400),
    ],
)
def test_only_allowed_host_names_are_served(local, host, status):
    response = local.get("/model", headers={"Host": host})
    assert response.status_code == status, response.text
    if status == 400:
        assert "CATEMBED_ALLOWED_HOSTS" in assert_error(response, 400, "Host")["message"]


def test_a_cross_site_post_cannot_unload_the_model_even_when_admin_is_open(binary_run, example):
    """The attack of the issue: a text/plain POST from any page unloaded the model (no preflight
    for a 'simple' request), and the service then answered 503 to everybody."""
    settings = settings_for(binary_run, allow_admin_without_key=True, allowed_hosts=["localhost"])
    with TestClient(create_app(settings), base_url="http://localhost:8000") as client:
        page = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
        refused = client.post("/v2/repository/models/binary/unload", headers=page)
        assert refused.status_code == 403 and "evil.example" in refused.json()["error"]  # v2's shape on /v2
        assert_error(client.post("/admin/reload", headers={"Origin": "http://evil.example"}), 403, "Origin")
        assert client.post("/predict", json=example).status_code == 200
        # the service's own page (the explorer) posts with its own origin
        own = {"Origin": "http://localhost:8000"}
        assert client.post("/predict", json=example, headers=own).status_code == 200


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 415),
        ("application/octet-stream", 415),  # binary is v2's alone
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("Application/JSON", 200),
        (None, 200),  # programs such as tritonclient send none; a browser cannot, cross-site, without an Origin
    ],
)
def test_json_endpoints_need_a_json_content_type(local, example, content_type, status):
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = local.post("/predict", content=json.dumps(example), headers=headers)
    assert response.status_code == status, response.text
    if status == 415:
        assert_error(response, 415, "Content-Type")


def test_v2_takes_json_or_its_binary_type_and_answers_refusals_in_its_shape(local):
    refused = local.post("/v2/models/binary/infer", content=b"{}", headers={"Content-Type": "text/plain"})
    assert refused.status_code == 415 and set(refused.json()) == {"error"} and "Content-Type" in refused.json()["error"]
    binary = local.post("/v2/models/binary/infer", content=b"{}", headers={"Content-Type": "application/octet-stream"})
    assert binary.status_code == 400 and "inputs" in binary.json()["error"]  # past the guard, to the codec


def test_duplicate_keys_are_refused(local, example):
    body = json.dumps(example)[:-1] + ', "color": "blue"}'
    error = assert_error(local.post("/predict", content=body, headers={"Content-Type": "application/json"}), 422, "color")
    assert "duplicate key 'color'" in error["message"]
    batch = json.dumps({"records": [example] * 300})[:-3] + ', "x": 1, "x": 2}]}'
    assert_error(local.post("/predict", content=batch, headers={"Content-Type": "application/json"}), 422, "x")
    v2 = '{"inputs": [], "inputs": [{"name": "color", "datatype": "BYTES", "shape": [1], "data": ["red"]}]}'
    answer = local.post("/v2/models/binary/infer", content=v2, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "duplicate key 'inputs'" in answer.json()["error"]
