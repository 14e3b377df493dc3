"""The Open Inference Protocol over gRPC, driven by the real ``tritonclient.grpc`` against a real
``catembed serve --grpc-port`` on loopback: one server with three models (binary, multiclass,
regression) in a repository, behind an API key. Answers must equal the native ``/predict`` to
1e-6, metadata must equal REST v2's, errors must carry the right gRPC status codes, and the
repository's loads and hot reloads must be what gRPC serves."""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from tests.app.conftest import records
from tests.app.live import LiveServer, free_port
from tests.synthetic import planted_frame

pytestmark = pytest.mark.slow
KEY = "grpc-test-key"
AUTH = {"authorization": f"Bearer {KEY}"}
TASKS = ("binary", "multiclass", "regression")


@pytest.fixture(scope="module")
def served(tmp_path_factory, binary_run, multiclass_run, regression_run):
    root = tmp_path_factory.mktemp("grpc-repository")
    for run in (binary_run, multiclass_run, regression_run):
        shutil.copytree(run.path, root / run.path.parent.name / "1")
    port = free_port()
    env = {
        "CATEMBED_MODEL_REPOSITORY": str(root),
        "CATEMBED_API_KEY": KEY,
        "CATEMBED_GRPC_PORT": str(port),
        "CATEMBED_RELOAD_INTERVAL": "0.5",
        "CATEMBED_MAX_BODY_BYTES": str(1024 * 1024),
    }
    server = LiveServer(root, **env).wait_ready(90)  # three models and gRPC: more than the usual 30 s on a busy machine
    client = triton.InferenceServerClient(f"127.0.0.1:{port}")
    try:
        runs = {"binary": binary_run, "multiclass": multiclass_run, "regression": regression_run}
        yield SimpleNamespace(server=server, client=client, runs=runs, root=root, target=f"127.0.0.1:{port}")
    finally:
        client.close()
        server.stop()


def _rows(task: str, n: int = 300) -> list[dict]:
    rows = records(planted_frame(n=n, task=task, seed=11).drop(columns="label"))
    rows[0]["color"] = rows[n // 2]["color"] = "never-seen"  # unknown categories
    rows[-1]["x"] = 1e6  # clipped to the training range
    return rows


def _inputs(run, rows: list[dict]) -> list[triton.InferInput]:
    inputs = []
    for feature in run.manifest["features"]:
        name, values = feature["name"], [r[feature["name"]] for r in rows]
        if feature["kind"] == "categorical":
            tensor = triton.InferInput(name, [len(rows)], "BYTES")
            tensor.set_data_from_numpy(np.array(["" if v is None else str(v) for v in values], dtype=object))
        else:
            tensor = triton.InferInput(name, [len(rows)], "FP64")
            tensor.set_data_from_numpy(np.array([math.nan if v is None else v for v in values], dtype=np.float64))
        inputs.append(tensor)
    return inputs


def _native(server: LiveServer, name: str, rows: list[dict]) -> list[dict]:
    response = httpx.post(f"{server.url}/models/{name}/predict", json={"records": rows}, headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def _status(call) -> str:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return str(caught.value.status()).removeprefix("StatusCode.")


@pytest.mark.parametrize("task", TASKS)
def test_infer_equals_native_predict(served, task):
    server, client, runs = served.server, served.client, served.runs
    run, rows = runs[task], _rows(task)
    result = client.infer(task, _inputs(run, rows), request_id="req-9", headers=AUTH)
    native = _native(server, task, rows)
    if task == "regression":
        np.testing.assert_allclose(result.as_numpy("value"), [p["value"] for p in native], rtol=1e-6, atol=1e-6)
    else:
        labels = [str(label) for label in run.manifest["target"]["labels"]]
        expected = [[p["probabilities"][k] for k in labels] for p in native]
        np.testing.assert_allclose(result.as_numpy("probabilities"), expected, atol=1e-6)
        assert [v.decode() for v in result.as_numpy("label")] == [str(p["label"]) for p in native]
    response = result.get_response()
    assert response.id == "req-9" and response.model_name == task and response.model_version == "1"
    counts = {key: value.int64_param for key, value in response.parameters.items()}
    for kind in ("unknown_category", "missing_category", "imputed", "out_of_range"):
        assert counts[f"{kind}_count"] == sum(w["type"] == kind for p in native for w in p["warnings"]), kind
    assert counts["unknown_category_count.color"] >= 2 and counts["imputed_count"] > 0 and counts["out_of_range_count"] > 0


def test_typed_contents_answer_as_raw_contents_do(served):
    """A request with typed ``contents`` (no raw bytes) gets typed outputs with the same values."""
    client, runs = served.client, served.runs
    run, rows = runs["multiclass"], _rows("multiclass", 40)
    request = service_pb2.ModelInferRequest(model_name="multiclass", id="typed")
    for feature in run.manifest["features"]:
        name, values = feature["name"], [r[feature["name"]] for r in rows]
        tensor = request.inputs.add(name=name, shape=[len(rows)])
        if feature["kind"] == "categorical":
            tensor.datatype = "BYTES"
            tensor.contents.bytes_contents.extend(("" if v is None else str(v)).encode() for v in values)
        else:
            tensor.datatype = "FP64"
            tensor.contents.fp64_contents.extend(math.nan if v is None else v for v in values)
    with grpc.insecure_channel(served.target) as channel:
        answer = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, metadata=tuple(AUTH.items()))
    assert not answer.raw_output_contents and answer.id == "typed"
    outputs = {o.name: o for o in answer.outputs}
    raw = client.infer("multiclass", _inputs(run, rows), headers=AUTH)
    k = len(run.manifest["target"]["labels"])
    assert list(outputs["probabilities"].shape) == [len(rows), k]
    typed = np.array(outputs["probabilities"].contents.fp32_contents).reshape(len(rows), k)
    np.testing.assert_allclose(typed, raw.as_numpy("probabilities"), atol=1e-6)
    assert list(outputs["label"].contents.bytes_contents) == list(raw.as_numpy("label"))


def test_metadata_and_health_equal_rest_v2(served):
    server, client = served.server, served.client
    assert client.is_server_live() and client.is_server_ready()
    rest_server = httpx.get(f"{server.url}/v2").json()
    assert client.get_server_metadata(as_json=True) == rest_server
    for task in TASKS:
        assert client.is_model_ready(task) and client.is_model_ready(task, "1")
        metadata = client.get_model_metadata(task, as_json=True)
        for tensor in metadata["inputs"] + metadata["outputs"]:
            tensor["shape"] = [int(d) for d in tensor["shape"]]  # int64 fields are strings in protobuf's JSON
        assert metadata == httpx.get(f"{server.url}/v2/models/{task}").json()
        assert client.get_model_metadata(task, "1", as_json=True)["name"] == task  # open: no key needed
    assert _status(lambda: client.is_model_ready("no-such-model")) == "NOT_FOUND"
    assert _status(lambda: client.is_model_ready("binary", "99")) == "NOT_FOUND"
    assert _status(lambda: client.get_model_metadata("no-such-model")) == "NOT_FOUND"


def test_errors_map_to_grpc_status_codes(served):
    client, run = served.client, served.runs["binary"]
    inputs = _inputs(run, _rows("binary", 5))

    def infer(model="binary", given=inputs, headers=AUTH, **kw):
        return lambda: client.infer(model, given, headers=headers, **kw)

    assert _status(infer(headers=None)) == "UNAUTHENTICATED"
    assert _status(infer(headers={"authorization": "Bearer wrong"})) == "UNAUTHENTICATED"
    assert _status(infer("no-such-model")) == "NOT_FOUND"
    assert _status(infer(model_version="9")) == "NOT_FOUND"
    with pytest.raises(InferenceServerException) as missing:
        client.infer("binary", inputs[1:], headers=AUTH)
    assert missing.value.status() == "StatusCode.INVALID_ARGUMENT" and "color" in missing.value.message()
    wrong_type = triton.InferInput("x", [5], "BYTES")
    wrong_type.set_data_from_numpy(np.array(["a"] * 5, dtype=object))
    assert _status(infer(given=[i for i in inputs if i.name() != "x"] + [wrong_type])) == "INVALID_ARGUMENT"
    wrong_shape = triton.InferInput("x", [5, 2], "FP64")
    wrong_shape.set_data_from_numpy(np.ones((5, 2)))
    assert _status(infer(given=[i for i in inputs if i.name() != "x"] + [wrong_shape])) == "INVALID_ARGUMENT"
    assert _status(infer(given=_inputs(run, _rows("binary", 10_001)))) == "RESOURCE_EXHAUSTED"  # CATEMBED_MAX_RECORDS
    big = [*_inputs(run, _rows("binary", 10)), triton.InferInput("pad", [200_000], "FP64")]
    big[-1].set_data_from_numpy(np.zeros(200_000))  # 1.6 MB: over CATEMBED_MAX_BODY_BYTES
    assert _status(infer(given=big)) == "RESOURCE_EXHAUSTED"
    assert _status(lambda: client.get_model_repository_index()) == "UNAUTHENTICATED"
    # every call is counted like a REST request, its status as REST would have answered
    scraped = httpx.get(f"{served.server.url}/metrics").text.splitlines()
    infer_lines = [line for line in scraped if 'method="GRPC"' in line and "GRPCInferenceService/ModelInfer" in line]
    counted = {line.split('status="')[1].split('"')[0] for line in infer_lines if line.startswith("catembed_http_requests_total")}
    assert {"401", "404", "413", "422"} <= counted


def test_repository_extension_and_hot_reload_are_seen(served):
    server, client, runs, root = served.server, served.client, served.runs, served.root
    index = client.get_model_repository_index(headers=AUTH, as_json=True)["models"]
    assert {(m["name"], m["version"], m["state"]) for m in index} == {(t, "1", "READY") for t in TASKS}
    client.unload_model("regression", headers=AUTH)
    assert not client.is_model_ready("regression")
    assert _status(lambda: client.infer("regression", _inputs(runs["regression"], _rows("regression", 3)), headers=AUTH)) == (
        "UNAVAILABLE"
    )
    assert httpx.get(f"{server.url}/v2/models/regression/ready").status_code == 503  # REST sees the gRPC unload
    client.load_model("regression", headers=AUTH)
    assert client.is_model_ready("regression")
    assert _status(lambda: client.load_model("no-such-model", headers=AUTH)) == "NOT_FOUND"
    # a new version on disk: the hot reload poller swaps it in, and gRPC answers from it
    shutil.copytree(root / "binary" / "1", root / "binary" / "2")
    deadline = time.time() + 20
    while client.get_model_metadata("binary", as_json=True)["versions"][-1] != "2":
        assert time.time() < deadline, "gRPC never saw version 2"
        time.sleep(0.2)
    result = client.infer("binary", _inputs(runs["binary"], _rows("binary", 3)), headers=AUTH)
    assert result.get_response().model_version == "2"


def test_workers_share_the_grpc_port_and_sigterm_exits_cleanly(binary_run):
    """Two uvicorn workers each serve gRPC on the one port (SO_REUSEPORT); SIGTERM stops both. With
    no API key the repository calls are refused."""
    port = free_port()
    server = LiveServer(binary_run.path.parent, CATEMBED_GRPC_PORT=str(port), CATEMBED_WORKERS="2").wait_ready(60)
    try:
        clients = [triton.InferenceServerClient(f"127.0.0.1:{port}") for _ in range(6)]  # a connection each
        rows = _rows("binary", 4)
        answers = {c.infer("binary", _inputs(binary_run, rows)).as_numpy("probabilities").tobytes() for c in clients}
        assert len(answers) == 1  # every worker answers the same
        # no API key set: the repository's unload and load are refused, as /admin/reload is over HTTP
        assert _status(lambda: clients[0].unload_model("binary")) == "PERMISSION_DENIED"
        assert _status(lambda: clients[0].load_model("binary")) == "PERMISSION_DENIED"
        assert clients[0].is_model_ready("binary")
        for c in clients:
            c.close()
    finally:
        stderr = server.stop()
    assert server.process.returncode == 0, stderr[-2000:]
    assert stderr.count(f"gRPC (Open Inference Protocol) listening on 127.0.0.1:{port}") == 2


def test_a_grpc_port_that_cannot_be_had_stops_start_up_with_one_line(binary_run):
    command = [sys.executable, "-m", "cli.main", "serve", "--port", str(free_port())]
    env = {**os.environ, "CATEMBED_MODEL_DIR": str(binary_run.path.parent)}
    same = subprocess.run([*command, "--grpc-port", command[-1]], env=env, capture_output=True, text=True, timeout=120)
    assert same.returncode == 2 and "is the HTTP --port too" in same.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = subprocess.run(
            [*command, "--grpc-port", str(taken.getsockname()[1])], env=env, capture_output=True, text=True, timeout=120
        )
    assert busy.returncode != 0 and "catembed cannot start: cannot listen for gRPC on 127.0.0.1:" in busy.stderr
    assert "Traceback" not in busy.stderr
