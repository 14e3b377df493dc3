"""The model repository against a real uvicorn: several real tiny models and a broken one.

Layout built per module from the session's trained bundles (copies, so versions differ only by
number; the version a response names proves which one answered)::

    repo/binary/{1,2,3}  model.json: specific [1, 2], labels stable -> 1, canary -> 2
    repo/multiclass/{1,2}  no model.json: the newest only
    repo/twin/{1,2,3}  a copy of binary under another name, model.json: latest 2
    repo/broken/1  graph.npz overwritten: fails its sha256
"""

from __future__ import annotations

import json
import shutil
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.app.conftest import assert_error
from tests.app.live import LiveServer
from tests.app.test_reload import metric

KEY = "repository-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def corrupt(version_dir) -> None:
    with open(version_dir / "graph.npz", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00garbage\x00")


@pytest.fixture(scope="module")
def repo(tmp_path_factory, binary_run, multiclass_run):
    root = tmp_path_factory.mktemp("repository")
    for version in (1, 2, 3):
        shutil.copytree(binary_run.path, root / "binary" / str(version))
        shutil.copytree(binary_run.path, root / "twin" / str(version))
    for version in (1, 2):
        shutil.copytree(multiclass_run.path, root / "multiclass" / str(version))
    shutil.copytree(binary_run.path, root / "broken" / "1")
    corrupt(root / "broken" / "1")
    policy = {"version_policy": {"specific": [1, 2]}, "labels": {"stable": 1, "canary": 2}}
    (root / "binary" / "model.json").write_text(json.dumps(policy))
    (root / "twin" / "model.json").write_text(json.dumps({"version_policy": {"latest": 2}}))
    return root


@pytest.fixture(scope="module")
def server(repo):
    env = {"CATEMBED_MODEL_REPOSITORY": str(repo), "CATEMBED_DEFAULT_MODEL": "binary", "CATEMBED_API_KEY": KEY}
    with LiveServer(repo / "nowhere", **env) as live:
        yield live


def post(server, path: str, body=None, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, headers=AUTH, timeout=30, **kwargs)


@pytest.mark.slow
def test_each_model_predicts_and_the_default_routes_serve_the_default_model(server, binary_run, multiclass_run):
    example = binary_run.manifest["example"]
    default = post(server, "/predict", example).json()
    named = post(server, "/models/binary/predict", example).json()
    assert default == named and named["model"] == "binary" and named["version"] == 2  # the newest the policy serves
    twin = post(server, "/models/twin/predict", example).json()
    assert twin["model"] == "twin" and twin["version"] == 3
    assert twin["predictions"][0]["probabilities"] == pytest.approx(named["predictions"][0]["probabilities"], abs=1e-6)
    multi = post(server, "/models/multiclass/predict", multiclass_run.manifest["example"]).json()
    assert multi["model"] == "multiclass" and multi["version"] == 2
    assert multi["predictions"][0]["label"] in [str(x) for x in multiclass_run.manifest["target"]["labels"]]
    # the other record routes, the embeddings and the description, per model
    assert post(server, "/models/twin/encode", example).json()["model"] == "twin"
    assert post(server, "/models/multiclass/embed", multiclass_run.manifest["example"]).status_code == 200
    vector = httpx.get(f"{server.url}/models/twin/embeddings/color/red").json()
    assert vector == httpx.get(f"{server.url}/embeddings/color/red").json()
    assert httpx.get(f"{server.url}/models/multiclass/model").json()["task"] == "multiclass"
    assert httpx.get(f"{server.url}/model").json()["name"] == "binary"
    assert httpx.get(f"{server.url}/ready").json() == {"status": "ready", "model": "binary", "version": 2}


@pytest.mark.slow
def test_versions_are_pinned_by_number_or_label_within_the_policy(server, binary_run):
    example = binary_run.manifest["example"]
    assert post(server, "/models/binary/versions/1/predict", example).json()["version"] == 1
    assert post(server, "/models/binary/versions/2/predict", example).json()["version"] == 2
    assert post(server, "/models/binary/labels/stable/predict", example).json()["version"] == 1
    assert post(server, "/models/binary/labels/canary/predict", example).json()["version"] == 2
    assert httpx.get(f"{server.url}/models/binary/versions/1/model").json()["version"] == 1
    assert post(server, "/models/twin/versions/2/predict", example).json()["version"] == 2
    # on disk but outside the policy: not served; not on disk: not found
    error = assert_error(post(server, "/models/binary/versions/3/predict", example), 503, "version")
    assert "not served by the version policy" in error["message"]
    assert_error(post(server, "/models/twin/versions/1/predict", example), 503, "version")
    assert_error(post(server, "/models/binary/versions/9/predict", example), 404, "version")
    assert_error(post(server, "/models/binary/labels/nightly/predict", example), 404, "label")
    assert_error(post(server, "/models/nosuch/predict", example), 404, "model")
    assert_error(post(server, "/models/binary/versions/0/predict", example), 422)


@pytest.mark.slow
def test_models_and_the_index_list_versions_and_states(server):
    listing = httpx.get(f"{server.url}/models").json()
    assert listing["default"] == "binary"
    models = {m["name"]: m for m in listing["models"]}
    assert set(models) == {"binary", "broken", "multiclass", "twin"}
    assert [(v["version"], v["state"]) for v in models["binary"]["versions"]] == [(1, "READY"), (2, "READY")]
    assert models["binary"]["labels"] == {"stable": 1, "canary": 2}
    assert models["binary"]["version_policy"] == {"specific": [1, 2]}
    assert [v["version"] for v in models["multiclass"]["versions"]] == [2]
    assert [v["version"] for v in models["twin"]["versions"]] == [2, 3]
    assert models["broken"]["state"] == "UNAVAILABLE" and "sha256" in models["broken"]["reason"]
    # Triton's index: an empty body, no Content-Type at all (as tritonclient sends it), or {}
    for kwargs in ({"content": b""}, {"json": {}}):
        response = httpx.post(f"{server.url}/v2/repository/index", headers=AUTH, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        rows = {(r["name"], r.get("version")): r for r in response.json()}
        assert rows[("binary", "1")]["state"] == "READY" and rows[("twin", "3")]["state"] == "READY"
        assert rows[("broken", "1")]["state"] == "UNAVAILABLE" and "sha256" in rows[("broken", "1")]["reason"]
        assert all(set(r) == {"name", "version", "state", "reason"} for r in response.json())


@pytest.mark.slow
def test_a_broken_model_is_unavailable_while_the_others_serve(server, binary_run):
    error = assert_error(post(server, "/models/broken/predict", binary_run.manifest["example"]), 503, "model")
    assert error["type"] == "model_not_ready" and "sha256" in error["message"]
    assert post(server, "/models/twin/predict", binary_run.manifest["example"]).status_code == 200


@pytest.mark.slow
def test_the_repository_routes_need_the_api_key(server):
    for path in ("/v2/repository/index", "/v2/repository/models/twin/load", "/v2/repository/models/twin/unload"):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            refused = httpx.post(f"{server.url}{path}", headers=headers)
            assert refused.status_code == 401 and isinstance(refused.json()["error"], str)  # v2's shape, as on all /v2
    assert_error(httpx.post(f"{server.url}/models/twin/predict", json={}), 401)
    assert httpx.get(f"{server.url}/models").status_code == 200  # listing is open, like /model
    assert httpx.get(f"{server.url}/models/twin/versions/2/embeddings/color/red").status_code == 200


@pytest.mark.slow
def test_unload_then_load_and_a_repaired_model_loads(server, repo, binary_run):
    example = binary_run.manifest["example"]
    unloaded = post(server, "/v2/repository/models/twin/unload").json()
    assert unloaded["state"] == "UNLOADED" and unloaded["versions"] == []
    error = assert_error(post(server, "/models/twin/predict", example), 503, "model")
    assert "unloaded" in error["message"]
    assert {"name": "twin", "state": "UNLOADED", "reason": ""} in post(server, "/v2/repository/index").json()
    assert post(server, "/predict", example).status_code == 200  # the others are not affected
    loaded = post(server, "/v2/repository/models/twin/load")
    assert loaded.status_code == 200 and loaded.json()["state"] == "READY"
    assert post(server, "/models/twin/predict", example).json()["version"] == 3
    # a broken model stays refused; repaired on disk, a load brings it in
    assert post(server, "/v2/repository/models/broken/load").status_code == 409
    shutil.copytree(binary_run.path, repo / "broken" / "2")
    assert post(server, "/v2/repository/models/broken/load").json()["state"] == "READY"
    assert post(server, "/models/broken/predict", example).json()["version"] == 2
    missing = post(server, "/v2/repository/models/nosuch/load")
    assert missing.status_code == 404 and set(missing.json()) == {"error"} and "nosuch" in missing.json()["error"]


@pytest.mark.slow
def test_metrics_carry_each_model_and_version(server, binary_run):
    example = binary_run.manifest["example"]
    post(server, "/models/binary/versions/1/predict", example)
    text = httpx.get(f"{server.url}/metrics").text
    for model, version in (("binary", "1"), ("binary", "2"), ("multiclass", "2"), ("twin", "3")):
        assert metric(text, "catembed_model_info", model=model, version=version) == 1
    assert metric(text, "catembed_predictions_total", model="binary", version="1") >= 1
    assert metric(text, "catembed_http_requests_total", route="/models/{name}/versions/{version}/predict", model="binary") >= 1


def wait_for(client: TestClient, path: str, field: str, value: object) -> None:
    deadline = time.time() + 20
    while time.time() < deadline:
        response = client.get(path)
        if response.status_code == 200 and response.json().get(field) == value:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} never had {field}={value!r}: {response.text[:300]}")


def test_hot_reload_and_refusal_work_per_model(tmp_path, binary_run, multiclass_run):
    for name, run in (("binary", binary_run), ("multiclass", multiclass_run), ("repaired", binary_run)):
        shutil.copytree(run.path, tmp_path / name / "1")
    corrupt(tmp_path / "repaired" / "1")
    settings = Settings(model_repository=tmp_path, default_model="binary", reload_interval=0.2)
    with TestClient(create_app(settings)) as client:
        assert client.get("/models/repaired").json()["state"] == "UNAVAILABLE"
        shutil.copytree(multiclass_run.path, tmp_path / "multiclass" / "2")
        shutil.copytree(binary_run.path, tmp_path / "binary" / "2")
        corrupt(tmp_path / "binary" / "2")
        shutil.copytree(binary_run.path, tmp_path / "repaired" / "2")  # a good version for the broken model
        shutil.copytree(binary_run.path, tmp_path / "late" / "1")  # a model folder that appears
        wait_for(client, "/models/multiclass/model", "version", 2)
        wait_for(client, "/models/repaired/model", "version", 2)
        wait_for(client, "/models/late/model", "name", "late")
        models = {m["name"]: m for m in client.get("/models").json()["models"]}
        assert [v["version"] for v in models["multiclass"]["versions"]] == [2]  # latest 1: version 1 retired
        assert "2" in models["binary"]["refused"] and "sha256" in models["binary"]["refused"]["2"]
        assert client.post("/predict", json=binary_run.manifest["example"]).json()["version"] == 1


def test_a_bad_model_json_makes_only_that_model_unavailable(tmp_path, binary_run):
    for name in ("good", "misconfigured"):
        shutil.copytree(binary_run.path, tmp_path / name / "1")
    (tmp_path / "misconfigured" / "model.json").write_text('{"version_policy": {"newest": 1}}')
    with TestClient(create_app(Settings(model_repository=tmp_path))) as client:
        # the one model that loaded is the default (CATEMBED_DEFAULT_MODEL unset)
        assert client.get("/ready").json() == {"status": "ready", "model": "good", "version": 1}
        models = {m["name"]: m for m in client.get("/models").json()["models"]}
        assert models["misconfigured"]["state"] == "UNAVAILABLE" and "version_policy" in models["misconfigured"]["reason"]
        assert client.post("/models/good/predict", json=binary_run.manifest["example"]).json()["model"] == "good"
    shutil.copytree(binary_run.path, tmp_path / "misconfigured" / "2")
    (tmp_path / "misconfigured" / "model.json").unlink()
    with TestClient(create_app(Settings(model_repository=tmp_path))) as client:
        assert client.get("/ready").json() == {"status": "ready", "models": ["good", "misconfigured"]}
        # two models loaded and no CATEMBED_DEFAULT_MODEL: today's routes say how to choose
        error = assert_error(client.post("/predict", json=binary_run.manifest["example"]), 404, "model")
        assert "CATEMBED_DEFAULT_MODEL" in error["message"]


def test_the_one_model_mode_is_a_repository_of_one(client, example):
    listing = client.get("/models").json()
    assert listing["default"] == "binary" and [m["name"] for m in listing["models"]] == ["binary"]
    assert client.post("/models/binary/predict", json=example).json() == client.post("/predict", json=example).json()
    assert client.post("/v2/repository/index").json() == [{"name": "binary", "version": "1", "state": "READY", "reason": ""}]


@pytest.mark.parametrize("problem", ["no folder", "unknown default"])
def test_a_wrong_repository_setting_stops_the_start_with_one_line(tmp_path, binary_run, problem):
    shutil.copytree(binary_run.path, tmp_path / "binary" / "1")
    settings = (
        Settings(model_repository=tmp_path / "nowhere")
        if problem == "no folder"
        else Settings(model_repository=tmp_path, default_model="nosuch")
    )
    app = create_app(settings)
    with pytest.raises(Exception, match="is not a"), TestClient(app):
        pass
    reason = app.state.startup_error
    assert reason.startswith("catembed cannot start: ") and "\n" not in reason
    assert ("is not a folder" if problem == "no folder" else "CATEMBED_DEFAULT_MODEL=nosuch") in reason


def test_folders_outside_the_repository_and_manifest_paths_are_refused_without_telling_the_server_paths(tmp_path, binary_run):
    """A model folder linked to outside the repository loaded, a manifest naming ../../etc/passwd
    was read and hashed, and /model showed the bundle's absolute path: all three are closed."""
    root, outside = tmp_path / "repo", tmp_path / "outside"
    shutil.copytree(binary_run.path, root / "good" / "1")
    shutil.copytree(binary_run.path, outside / "escaped" / "1")
    (root / "escaped").symlink_to(outside / "escaped")
    probe = shutil.copytree(binary_run.path, root / "probe" / "1")
    for name, target in (("probe", "../../../../../../../../etc/passwd"),):
        manifest = json.loads((probe / "manifest.json").read_text())
        manifest["files"][target] = "0" * 64
        (probe / "manifest.json").write_text(json.dumps(manifest))
        assert name == "probe"
    with TestClient(create_app(Settings(model_repository=root, default_model="good", allow_admin_without_key=True))) as client:
        models = {m["name"]: m for m in client.get("/models").json()["models"]}
        assert models["escaped"]["state"] == "UNAVAILABLE" and "outside the model repository" in models["escaped"]["reason"]
        assert models["probe"]["state"] == "UNAVAILABLE" and "outside its folder: refused" in models["probe"]["reason"]
        assert models["good"]["state"] == "READY"
        refused = client.post("/v2/repository/models/escaped/load")
        assert refused.status_code == 409 and "outside the model repository" in refused.json()["error"]  # v2's shape
        for answer in (client.get("/models"), client.get("/model"), client.get("/models/probe"), refused):
            assert str(tmp_path) not in answer.text, answer.text[:300]
        assert client.get("/model").json()["path"] == "good/1"


def test_the_default_model_stays_the_same_across_loads_and_unloads(tmp_path, binary_run, multiclass_run):
    """Loading a second model made /predict answer 404 "no default model" until a restart, even
    after unloading it again. The default is now the one model loaded at start-up, for good."""
    example = binary_run.manifest["example"]
    shutil.copytree(binary_run.path, tmp_path / "first" / "1")
    with TestClient(create_app(Settings(model_repository=tmp_path, allow_admin_without_key=True))) as client:
        assert client.post("/predict", json=example).json()["model"] == "first"
        shutil.copytree(multiclass_run.path, tmp_path / "second" / "1")
        assert client.post("/v2/repository/models/second/load").json()["state"] == "READY"
        assert client.post("/predict", json=example).json()["model"] == "first"
        assert client.get("/models").json()["default"] == "first"
        client.post("/v2/repository/models/second/unload")
        assert client.post("/predict", json=example).json()["model"] == "first"
        client.post("/v2/repository/models/first/unload")
        error = assert_error(client.post("/predict", json=example), 503, "model")  # not another model
        assert "'first'" in error["message"]
        client.post("/v2/repository/models/first/load")
        assert client.post("/predict", json=example).json()["model"] == "first"
