import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import assert_error, records, settings_for


def test_single_record(client, example):
    body = client.post("/predict", json=example).json()
    assert body["model"] == "binary" and len(body["predictions"]) == 1
    prediction = body["predictions"][0]
    assert set(prediction["probabilities"]) == {"no", "yes"}
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)
    assert prediction["label"] == max(prediction["probabilities"], key=prediction["probabilities"].get)
    assert prediction["warnings"] == []


def test_warnings_name_what_was_papered_over(client, example):
    odd = {**example, "color": "purple", "city": None, "x": None, "noise": 1e6}
    (clean, flagged) = client.post("/predict", json={"records": [example, odd]}).json()["predictions"]
    assert clean["warnings"] == []
    kinds = {(w["type"], w["field"]) for w in flagged["warnings"]}
    assert kinds == {("unknown_category", "color"), ("missing_category", "city"), ("imputed", "x"), ("out_of_range", "noise")}
    unknown = next(w for w in flagged["warnings"] if w["type"] == "unknown_category")
    assert unknown["value"] == "purple" and "purple" in unknown["message"]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression", "expanded"])
def test_service_equals_training_pipeline_on_raw_holdout(task, request):
    """The service's answer for raw rows equals Keras on the training-side encoding, to 1e-5
    ("expanded": a regression network with the piecewise-linear numeric expansion)."""
    run = request.getfixturevalue(f"{task}_run")
    rows = records(run.valid.drop(columns=["label"]))
    expected = np.asarray(run.model.predict(run.encoder.transform(run.valid).model_inputs(), verbose=0))
    with TestClient(create_app(settings_for(run))) as c:
        predictions = c.post("/predict", json={"records": rows}).json()["predictions"]
    assert len(predictions) == len(rows) > 100
    if task in ("regression", "expanded"):
        got = np.array([p["value"] for p in predictions])
        # the parity gate holds the standardised output the model produces to 1e-5; in the
        # target's own units that error is multiplied by the target's scale, so compare both ways
        standardised = run.target.transform(got)
        np.testing.assert_allclose(standardised, expected[:, 0], atol=1e-5, rtol=0)
        np.testing.assert_allclose(got, run.target.values(expected), atol=1e-5 * run.target.scale_, rtol=0)
    else:
        labels = [str(c) for c in run.target.classes_]
        got = np.array([[p["probabilities"][k] for k in labels] for p in predictions])
        np.testing.assert_allclose(got, run.target.probabilities(expected), atol=1e-5, rtol=0)
        assert [p["label"] for p in predictions] == [run.target.classes_[i] for i in got.argmax(axis=1)]


def test_single_and_batch_agree(client, binary_run):
    rows = records(binary_run.valid.drop(columns=["label"]).head(20))
    batch = client.post("/predict", json={"records": rows}).json()["predictions"]
    single = [client.post("/predict", json=row).json()["predictions"][0] for row in rows]
    for a, b in zip(batch, single, strict=True):
        assert a["label"] == b["label"]
        assert a["probabilities"]["yes"] == pytest.approx(b["probabilities"]["yes"], abs=1e-6)


def test_encode_returns_the_model_inputs(client, binary_run):
    rows = records(binary_run.valid.drop(columns=["label"]).head(5))
    body = client.post("/encode", json={"records": rows}).json()
    batch = binary_run.encoder.transform(binary_run.valid.head(5))
    assert body["categorical"]["city"] == batch.categorical[1].tolist()
    np.testing.assert_allclose(body["numeric"], batch.numeric, rtol=1e-6)
    assert body["numeric_columns"] == ["x", "noise", "x__quantile", "noise__quantile", "x__missing"]  # default scaling "both"
    assert len(body["warnings"]) == 5


def test_embed_returns_named_embedding_features(client, binary_run):
    rows = records(binary_run.valid.drop(columns=["label"]).head(3))
    body = client.post("/embed", json={"records": rows}).json()
    dims = [t.shape[1] for t in binary_run.model.get_layer("embedding_color").get_weights()]
    assert body["columns"][0] == "color__emb0" and len(body["columns"]) == len(body["rows"][0])
    color = binary_run.model.get_layer("embedding_color").get_weights()[0]
    index = binary_run.encoder.transform(binary_run.valid.head(3)).categorical[0]
    np.testing.assert_allclose(np.array(body["rows"])[:, : dims[0]], color[index], rtol=1e-6)


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ({"color": {"a": 1}}, "color", "a string, number, boolean or null"),
        ({"color": [1]}, "color", "a string, number, boolean or null"),
        ({"x": "3.5"}, "x", "a finite number or null"),
        ({"x": True}, "x", "a finite number or null"),
        ({"colour": "red"}, "colour", "only the model's features"),
    ],
)
def test_bad_values_name_field_value_and_expectation(client, example, change, field, expected):
    error = assert_error(client.post("/predict", json={**example, **change}), 422, field)
    assert error["expected"] == expected


def test_batch_errors_name_the_record(client, example):
    rows = [example, example, {**example, "x": "far"}]
    error = assert_error(client.post("/predict", json={"records": rows}), 422, "records[2].x")
    assert error["value"] == "far"
    missing = {k: v for k, v in example.items() if k != "city"}
    error = assert_error(client.post("/predict", json={"records": [example, missing]}), 422, "records[1].city")
    assert "missing feature 'city'" in error["message"] and "'noise'" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"NaN", "body"),
        (b'{"x": 1e400}', "x"),  # orjson refuses non-finite numbers; the error still names where they are
        (b'{"x": NaN}', "x"),
        (b"[1, 2]", "body"),
        (b'"text"', "body"),
        (b'{"records": []}', "records"),
        (b'{"records": {}}', "records"),
        (b'{"records": [1]}', "records[0]"),
    ],
)
def test_malformed_bodies(client, body, field):
    assert_error(client.post("/predict", content=body, headers={"content-type": "application/json"}), 422, field)


def test_limits_are_413(binary_run, example):
    with TestClient(create_app(settings_for(binary_run, max_records=3, max_body_bytes=2048))) as c:
        error = assert_error(c.post("/predict", json={"records": [example] * 4}), 413, "records")
        assert "limit of 3" in error["message"]
        big = orjson.dumps({"records": [example] * 2, "pad": "x" * 4000})
        assert_error(c.post("/predict", content=big), 413, "body")

        def chunks():
            for _ in range(10):
                yield b" " * 1000  # no Content-Length: the limit holds on the stream too

        assert_error(c.post("/predict", content=chunks()), 413, "body")
        assert c.post("/predict", json=example).status_code == 200  # and the service is fine after


def test_long_strings_are_refused(binary_run, example):
    with TestClient(create_app(settings_for(binary_run, max_string_length=50))) as c:
        error = assert_error(c.post("/predict", json={**example, "city": "c" * 51}), 422, "city")
        assert "over the limit of 50" in error["message"]


def test_all_record_endpoints_share_validation(client, example):
    for path in ("/predict", "/encode", "/embed"):
        assert_error(client.post(path, json={**example, "x": "oops"}), 422, "x")
