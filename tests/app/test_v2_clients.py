"""The v2 front door, driven by the real ``tritonclient.http.InferenceServerClient`` against a
real uvicorn: health, metadata, readiness, and inference with JSON and with binary tensors,
whose answers must equal the native ``/predict`` to 1e-6 for binary, multiclass and regression."""

from __future__ import annotations

import math

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.app.conftest import records
from tests.app.live import LiveServer
from tests.synthetic import planted_frame

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["binary", "multiclass", "regression"])
def served(request):
    run = request.getfixturevalue(f"{request.param}_run")
    with LiveServer(run.path.parent) as server:
        client = triton.InferenceServerClient(server.url.removeprefix("http://"))
        yield server, client, run
        client.close()


def _rows(run, complete: bool) -> list[dict]:
    frame = planted_frame(n=400, task=run.manifest["task"], seed=11).drop(columns="label")
    rows = records(frame)
    if complete:  # JSON cannot carry NaN: the JSON test sends rows without missing numbers
        rows = [r for r in rows if r["x"] is not None]
    return rows


def _inputs(run, rows: list[dict], binary: bool) -> list[triton.InferInput]:
    inputs = []
    for feature in run.manifest["features"]:
        name = feature["name"]
        values = [r[name] for r in rows]
        if feature["kind"] == "categorical":
            array = np.array(["" if v is None else str(v) for v in values], dtype=object)
            tensor = triton.InferInput(name, [len(rows)], "BYTES")
        else:
            array = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
            tensor = triton.InferInput(name, [len(rows)], "FP64")
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def _native(server: LiveServer, rows: list[dict]) -> list[dict]:
    response = httpx.post(f"{server.url}/predict", json={"records": rows}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def _assert_equal_to_native(run, result: triton.InferResult, native: list[dict]) -> None:
    if run.manifest["task"] == "regression":
        np.testing.assert_allclose(result.as_numpy("value"), [p["value"] for p in native], rtol=1e-6, atol=1e-6)
        return
    labels = [str(label) for label in run.manifest["target"]["labels"]]
    expected = np.array([[p["probabilities"][k] for k in labels] for p in native])
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected, atol=1e-6)
    got = [v.decode() if isinstance(v, bytes) else str(v) for v in result.as_numpy("label")]
    assert got == [str(p["label"]) for p in native]


def test_health_metadata_and_readiness(served):
    server, client, run = served
    name = run.path.parent.name
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(name) and client.is_model_ready(name, "1")
    assert not client.is_model_ready("no-such-model") and not client.is_model_ready(name, "99")
    metadata = client.get_model_metadata(name)
    features = run.manifest["features"]
    assert [i["name"] for i in metadata["inputs"]] == [f["name"] for f in features]
    kinds = {f["name"]: f["kind"] for f in features}
    assert all(i["datatype"] == ("BYTES" if kinds[i["name"]] == "categorical" else "FP64") for i in metadata["inputs"])
    assert metadata["versions"] == ["1"]
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    assert httpx.get(f"{server.url}/v2/health/ready").json() == {"ready": True}  # KServe's client reads the body


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer_equals_native_predict(served, binary):
    server, client, run = served
    name = run.path.parent.name
    rows = _rows(run, complete=not binary)
    outputs = [o["name"] for o in client.get_model_metadata(name)["outputs"]]
    requested = [triton.InferRequestedOutput(o, binary_data=binary) for o in outputs]
    result = client.infer(name, _inputs(run, rows, binary), outputs=requested, request_id="req-7")
    native = _native(server, rows)
    _assert_equal_to_native(run, result, native)
    response = result.get_response()
    assert response["id"] == "req-7" and response["model_version"] == "1"
    # the warning counts in the response parameters are the native warnings, counted
    for kind in ("unknown_category", "missing_category", "imputed", "out_of_range"):
        assert response["parameters"][f"{kind}_count"] == sum(w["type"] == kind for p in native for w in p["warnings"])
    if binary:
        assert response["parameters"]["imputed_count"] > 0  # NaN went through the binary tensors


def test_infer_default_outputs_pinned_version_and_requested_subset(served):
    server, client, run = served
    name = run.path.parent.name
    rows = _rows(run, complete=False)[:50]
    result = client.infer(name, _inputs(run, rows, True), model_version="1")  # binary_data_output by default
    _assert_equal_to_native(run, result, _native(server, rows))
    if run.manifest["task"] != "regression":
        only = client.infer(name, _inputs(run, rows, True), outputs=[triton.InferRequestedOutput("probabilities")])
        assert only.as_numpy("label") is None and only.as_numpy("probabilities").shape == (
            50,
            len(run.manifest["target"]["labels"]),
        )


def _status(call) -> str:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return str(caught.value.status())


def test_errors_are_v2_errors(served):
    server, client, run = served
    name = run.path.parent.name
    rows = _rows(run, complete=True)[:5]
    inputs = _inputs(run, rows, True)
    assert _status(lambda: client.infer("no-such-model", inputs)) == "404"
    assert _status(lambda: client.infer(name, inputs, model_version="9")) == "404"
    assert _status(lambda: client.infer(name, inputs[1:])) == "400"  # a feature missing
    numeric = next(f["name"] for f in run.manifest["features"] if f["kind"] == "numeric")
    wrong_type = triton.InferInput(numeric, [5], "BYTES")
    wrong_type.set_data_from_numpy(np.array(["a"] * 5, dtype=object))
    assert _status(lambda: client.infer(name, [i for i in inputs if i.name() != numeric] + [wrong_type])) == "400"
    wrong_shape = triton.InferInput(numeric, [5, 2], "FP64")
    wrong_shape.set_data_from_numpy(np.ones((5, 2)))
    assert _status(lambda: client.infer(name, [i for i in inputs if i.name() != numeric] + [wrong_shape])) == "400"
    # the protocol's error body, and no Content-Type needed
    body = b'{"inputs": [{"name": "nope", "shape": [1], "datatype": "FP64", "data": [1]}]}'
    answer = httpx.post(f"{server.url}/v2/models/{name}/infer", content=body)  # httpx sends no Content-Type for raw bytes
    assert answer.status_code == 400 and set(answer.json()) == {"error"} and "nope" in answer.json()["error"]


# ---- issue 28: what standard clients send and print ----


def test_a_missing_fp64_sent_as_json_nan_is_a_missing_number_and_infinity_is_refused(served):
    """tritonclient's JSON encoder writes a missing FP64 as the token NaN; it was a 400 "not valid
    JSON", so a row with a missing number could not be sent that way at all."""
    server, client, run = served
    rows = _rows(run, complete=False)[:40]
    assert any(r["x"] is None for r in rows)
    result = client.infer(run.path.parent.name, _inputs(run, rows, binary=False))
    _assert_equal_to_native(run, result, _native(server, rows))

    numeric = next(f["name"] for f in run.manifest["features"] if f["kind"] == "numeric")
    for infinite in (math.inf, -math.inf):
        inputs = _inputs(run, rows[:3], binary=False)
        bad = triton.InferInput(numeric, [3], "FP64")
        bad.set_data_from_numpy(np.array([1.0, infinite, 2.0]), binary_data=False)
        with pytest.raises(InferenceServerException) as refused:
            client.infer(run.path.parent.name, [i for i in inputs if i.name() != numeric] + [bad])
        assert refused.value.status() == "400" and "is not a finite number" in refused.value.message()


def test_repository_config_and_stats_errors_are_printed_by_tritonclient(served):
    """The repository routes answered {"error": {...}} and tritonclient crashed formatting them
    (TypeError: can only concatenate str (not "dict")); config and stats had no route at all."""
    _server, client, run = served
    name = run.path.parent.name
    for call in (lambda: client.load_model(name), lambda: client.unload_model(name), lambda: client.load_model("nosuch")):
        with pytest.raises(InferenceServerException) as refused:
            call()
        assert refused.value.status() == "403" and "CATEMBED_ALLOW_ADMIN_WITHOUT_KEY" in refused.value.message()
    config = client.get_model_config(name)
    assert config["name"] == name and config["max_batch_size"] >= 1
    assert [t["name"] for t in config["input"]] == [t["name"] for t in client.get_model_metadata(name)["inputs"]]
    with pytest.raises(InferenceServerException) as missing:
        client.get_model_config("nosuch")
    assert missing.value.status() == "404" and "nosuch" in missing.value.message()
    with pytest.raises(InferenceServerException) as stats:
        client.get_inference_statistics(name)
    assert stats.value.status() == "404" and "/metrics" in stats.value.message()
    assert client.is_server_ready() and client.get_server_metadata()["extensions"]
