"""Start-up, metadata, health, OpenAPI generated from the manifest, and the one error shape."""

import json
import shutil
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.app.conftest import assert_error, settings_for


def test_model_metadata(client, binary_run):
    body = client.get("/model").json()
    assert (body["name"], body["task"], body["labels"]) == ("binary", "binary", ["no", "yes"])
    features = {f["name"]: f for f in body["features"]}
    assert features["city"]["embedding_dim"] >= 1 and features["x"]["kind"] == "numeric"
    assert body["metrics"]["holdout"]["roc_auc"] > body["metrics"]["baseline"]["roc_auc"]
    assert body["created_at"] and body["version"] == int(binary_run.path.name)
    # a small table: auto gave every numeric feature periodic embeddings, and no ramps
    assert body["training"]["plr_features"] == ["x", "noise"] and body["training"]["ple_features"] == []


def test_health_and_ready(client, binary_run):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready", "model": "binary", "version": int(binary_run.path.name)}


def test_ready_is_503_before_a_model_is_loaded(binary_run):
    app = create_app(settings_for(binary_run))
    assert TestClient(app).get("/ready").status_code == 503  # no lifespan ran: nothing loaded


def test_openapi_shows_the_models_features_and_example(client, example):
    schema = client.get("/openapi.json").json()
    record = schema["components"]["schemas"]["Record"]
    # the features are required; the target, the table's one other column, is accepted and ignored
    assert set(record["properties"]) == {*example, "label"} and set(record["required"]) == set(example)
    assert record["additionalProperties"] is False
    assert record["properties"]["city"]["examples"] == [example["city"]]
    assert "numeric: training range" in record["properties"]["x"]["description"]
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["examples"]["one record"]["value"] == example
    prediction = schema["components"]["schemas"]["Prediction"]
    assert prediction["properties"]["label"]["enum"] == ["no", "yes"]


def test_unknown_route_and_method_use_the_error_shape(client):
    assert_error(client.get("/nope"), 404)
    assert_error(client.get("/predict"), 405)


@pytest.mark.parametrize("damage", ["none", "corrupt", "future"])
def test_bad_bundle_stops_startup_with_one_line(binary_run, tmp_path, damage):
    folder = tmp_path / "m" / "1"
    if damage != "none":
        shutil.copytree(binary_run.path, folder)
    if damage == "corrupt":
        (folder / "encoders.json").write_bytes(b"evil")
    if damage == "future":
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 3}))
    app = create_app(Settings(model_dir=tmp_path / "m"))
    with pytest.raises(Exception, match=r"catembed|no model version|sha256|format version"), TestClient(app):
        pass
    reason = app.state.startup_error
    assert reason.startswith("catembed cannot start: ") and "\n" not in reason
    assert "m" in reason and str(tmp_path) not in reason


def test_serving_imports_neither_training_nor_tensorflow(binary_run):
    code = f"""
import sys
from app.serving import load_served_model
from app.settings import Settings
served = load_served_model(Settings(model_dir={str(binary_run.path.parent)!r}))
served.predictor.predict(b'{json.dumps(binary_run.manifest["example"])}')
heavy = sorted(m for m in ("tensorflow", "keras", "training", "sklearn", "pandas", "matplotlib") if m in sys.modules)
print(heavy)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_invalid_settings_are_refused(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("CATEMBED_MAX_RECORDS", "0")
    with pytest.raises(ValidationError, match="max_records"):
        Settings()
