"""Issue 29's messages that pointed the wrong way, as the service answers them: a misspelt field is
named (with the feature it may mean) before what is missing, and a blank number is missing."""

from __future__ import annotations

import orjson
import pytest

from tests.app.conftest import assert_error

V2_INFER = "/v2/models/binary/infer"


def test_a_misspelt_field_is_named_first_with_a_suggestion_then_what_is_missing(client, example):
    misspelt = {("colr" if k == "color" else k): v for k, v in example.items()}
    error = assert_error(client.post("/predict", json=misspelt), 422, "colr")
    message = error["message"]
    assert message.startswith("unknown field 'colr' (did you mean 'color'?); record is missing feature 'color'"), message
    error = assert_error(client.post("/predict", json={"records": [example, {**misspelt, "zzz": 1}]}), 422, "records[1].colr")
    assert error["message"].startswith(
        "unknown fields 'colr' (did you mean 'color'?), 'zzz'; records[1] is missing feature 'color'"
    )
    columns = {"columns": {k: [v] for k, v in misspelt.items()}}
    error = assert_error(client.post("/predict?orient=columns", json=columns), 422, "colr")
    assert error["message"].startswith("unknown input 'colr' (did you mean 'color'?); missing input 'color'")
    # only missing: said as before
    error = assert_error(client.post("/predict", json={k: v for k, v in example.items() if k != "city"}), 422, "city")
    assert error["message"].startswith("record is missing feature 'city'; the model needs")


def test_v2_names_a_misspelt_input_before_the_missing_one(client, binary_run, example):
    inputs = [
        {
            "name": "colr" if f["name"] == "color" else f["name"],
            "shape": [1],
            "datatype": "BYTES" if f["kind"] == "categorical" else "FP64",
        }
        | {"data": [example[f["name"]] if f["kind"] != "categorical" else str(example[f["name"]])]}
        for f in binary_run.manifest["features"]
    ]
    response = client.post(V2_INFER, content=orjson.dumps({"inputs": inputs}))
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("unknown input 'colr' (did you mean 'color'?); missing input 'color'")


def test_a_blank_number_is_missing_and_imputed_as_a_csv_cell_is(client, example):
    numeric = "x"
    as_null = client.post("/predict", json={**example, numeric: None}).json()["predictions"][0]
    for blank in ("", "  "):
        answer = client.post("/predict", json={**example, numeric: blank})
        assert answer.status_code == 200, answer.text
        prediction = answer.json()["predictions"][0]
        assert prediction == as_null
        assert [(w["type"], w["field"]) for w in prediction["warnings"]] == [("imputed", numeric)]
    batch = client.post("/predict", json={"records": [example, {**example, numeric: ""}]}).json()["predictions"]
    assert batch[1]["warnings"] == as_null["warnings"] and batch[0]["warnings"] == []
    assert batch[1]["probabilities"] == pytest.approx(as_null["probabilities"], abs=1e-6)  # a batch rounds its own way
    columns = client.post(
        "/predict?orient=columns", json={"columns": {k: [v, ""] if k == numeric else [v, v] for k, v in example.items()}}
    )
    assert columns.status_code == 200 and columns.json()["warnings"] == [[1, numeric, "imputed"]], columns.text
    # text that is not blank is still no number in JSON
    error = assert_error(client.post("/predict", json={**example, numeric: "3.5"}), 422, numeric)
    assert error["message"] == f"feature {numeric!r}: '3.5' is not a number"
