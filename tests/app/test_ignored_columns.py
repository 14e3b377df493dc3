"""Records shaped like the training table: columns training left out are accepted and ignored.

A real tiny model is trained on a table with a constant, an id-like, an all-missing and a
datetime column; the manifest records each with its reason, and the service accepts them (and
the target) in records, lists them in /model and /docs, and still refuses fields the table
never had, suggesting the closest feature name.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from features.artifacts import load_bundle
from features.schema import FeatureSpec
from tests.app.conftest import assert_error, records, settings_for
from tests.conftest import FAST
from tests.synthetic import planted_frame


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    from training.data.spec import resolve_spec
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    frame = planted_frame(n=1200)
    frame["source"] = "web"  # constant
    frame["row_id"] = [f"r{i:05d}" for i in range(len(frame))]  # id-like
    frame["empty"] = np.nan  # all missing
    frame["booked"] = pd.date_range("2024-01-01", periods=len(frame), freq="h")  # datetime
    spec = resolve_spec(frame, target="label", log=lambda _: None)
    config = TrainConfig(**{**FAST, "epochs": 3})
    run = train(frame, spec, config, name="wide", out=tmp_path_factory.mktemp("wide"), log=lambda _: None, verbose=0)
    return run, frame


@pytest.fixture(scope="module")
def wide_client(wide_run):
    with TestClient(create_app(settings_for(wide_run[0]))) as c:
        yield c


def _rows(frame: pd.DataFrame, n: int = 5) -> list[dict]:
    rows = records(frame.head(n).astype({"booked": str}))
    assert {"source", "row_id", "empty", "booked", "label"} <= set(rows[0])
    return rows


def test_the_manifest_says_why_each_column_was_left_out(wide_run):
    ignored = wide_run[0].manifest["ignored_columns"]
    assert set(ignored) == {"source", "row_id", "empty", "booked", "label"}
    assert ignored["source"].startswith("constant")
    assert ignored["row_id"].startswith("id-like")
    assert ignored["empty"] == "all values missing"
    assert ignored["booked"].startswith("datetime")
    assert ignored["label"] == "the target"


def test_training_table_rows_are_accepted_and_ignored(wide_run, wide_client):
    run, frame = wide_run
    rows = _rows(frame)
    features = [f["name"] for f in run.manifest["features"]]
    bare = [{k: row[k] for k in features} for row in rows]
    for path in ("/predict", "/encode", "/embed"):
        full = wide_client.post(path, json={"records": rows})
        assert full.status_code == 200, full.text
        assert full.json() == wide_client.post(path, json={"records": bare}).json()  # ignored means no effect
    single = wide_client.post("/predict", json=rows[0])
    assert single.status_code == 200, single.text
    assert single.json() == wide_client.post("/predict", json=bare[0]).json()
    # any value, or none at all: ignored fields are not validated
    odd = {**bare[0], "row_id": {"nested": [1, 2]}, "label": None}
    assert wide_client.post("/predict", json=odd).json() == single.json()


def test_unknown_fields_are_still_refused_with_a_suggestion(wide_run, wide_client):
    row = _rows(wide_run[1], 1)[0]
    error = assert_error(wide_client.post("/predict", json={**row, "colour": "red"}), 422, "colour")
    assert "unknown field 'colour' (did you mean 'color'?)" in error["message"]
    error = assert_error(wide_client.post("/predict", json={"records": [row, {**row, "zzz_q": 1}]}), 422, "records[1].zzz_q")
    assert "did you mean" not in error["message"]
    missing = {k: v for k, v in row.items() if k != "color"}
    assert_error(wide_client.post("/predict", json=missing), 422, "color")  # features stay required


def test_model_and_openapi_list_the_ignored_columns(wide_client):
    described = wide_client.get("/model").json()["ignored_columns"]
    reasons = {item["name"]: item["reason"] for item in described}
    assert set(reasons) == {"source", "row_id", "empty", "booked", "label"} and reasons["label"] == "the target"
    record = wide_client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    assert record.get("additionalProperties") is False
    for name, reason in reasons.items():
        assert name in record["properties"] and name not in record.get("required", [])
        assert reason in record["properties"][name]["description"]
    assert "color" in record["required"]


def test_a_bundle_without_the_key_still_loads_and_refuses_the_columns(wide_run, tmp_path):
    import shutil

    run, frame = wide_run
    old = tmp_path / "wide" / run.path.name
    shutil.copytree(run.path, old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["ignored_columns"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert "ignored_columns" not in load_bundle(old.parent).manifest
    row = _rows(frame, 1)[0]
    features = [f["name"] for f in manifest["features"]]
    with TestClient(create_app(settings_for(load_bundle(old.parent)))) as client:
        assert client.get("/model").json()["ignored_columns"] == []
        assert client.post("/predict", json={k: row[k] for k in features}).status_code == 200
        assert_error(client.post("/predict", json=row), 422)


def test_selected_columns_leave_the_rest_not_selected():
    spec = FeatureSpec("y", "binary", ["a"], ["b"], dropped={"c": "constant: a single value"})
    assert spec.ignored_columns(["a", "b", "c", "d", "y"]) == {
        "c": "constant: a single value",
        "d": "not selected: not among the spec's categorical or numeric columns",
        "y": "the target",
    }
