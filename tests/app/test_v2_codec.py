"""The v2 codec and native columnar answers, in process: every answer is checked against the
row format of the same records, and every malformed tensor is a 400 in the protocol's shape."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import records, settings_for
from tests.synthetic import planted_frame

NAME = "binary"  # the binary_run bundle's folder name


@pytest.fixture(scope="module")
def rows(binary_run) -> list[dict]:
    return records(planted_frame(n=120, task="binary", seed=5).drop(columns="label"))


def _tensors(binary_run, rows: list[dict], nested: bool = False) -> list[dict]:
    inputs = []
    for feature in binary_run.manifest["features"]:
        values = [r[feature["name"]] for r in rows]
        if feature["kind"] == "categorical":
            tensor = {"name": feature["name"], "datatype": "BYTES", "data": ["" if v is None else str(v) for v in values]}
            tensor["parameters"] = {"content_type": "str"}  # MLServer's hint: accepted, not needed
        else:
            tensor = {"name": feature["name"], "datatype": "FP64", "data": values}
        tensor["shape"] = [len(rows), 1] if nested else [len(rows)]
        if nested:
            tensor["data"] = [[v] for v in tensor["data"]]
        inputs.append(tensor)
    return inputs


def _infer(client, body: dict | bytes, headers: dict | None = None, path: str = f"/v2/models/{NAME}/infer"):
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(path, content=content, headers=headers or {})


def test_native_columns_equal_the_row_format(client, rows):
    row_format = client.post("/predict", json={"records": rows}).json()["predictions"]
    columns = client.post("/predict?orient=columns", json={"records": rows}).json()
    assert columns["rows"] == len(rows) and columns["orient"] == "columns"
    assert columns["label"] == [p["label"] for p in row_format]
    for label, values in columns["probabilities"].items():
        np.testing.assert_allclose(values, [p["probabilities"][label] for p in row_format], atol=1e-12)
    expected = [[i, w["field"], w["type"]] for i, p in enumerate(row_format) for w in p["warnings"]]
    assert columns["warnings"] == expected and expected  # the planted data has missing values
    assert client.post("/predict?orient=records", json={"records": rows}).json()["predictions"] == row_format


# values that take every branch: unknown, missing (None, "", blanks), integer categories as
# numbers, floats and strings, booleans, unicode, imputed and clipped numbers
TRICKY_ROWS = [
    {"color": "purple", "city": "city/1 é", "size": 3, "x": 0.5, "noise": 0.0},
    {"color": None, "city": "", "size": "3", "x": None, "noise": 1.0},
    {"color": "  ", "city": "city/2 e\u0301", "size": 3.0, "x": 1e9, "noise": -1e9},
    {"color": "red", "city": "nowhere", "size": True, "x": 2, "noise": None},
    {"color": "blue", "city": "city/0 é", "size": "03", "x": -0.0, "noise": 7},
    {"color": 12, "city": None, "size": None, "x": -1e12, "noise": 0.25},
]


def _as_columns(rows: list[dict]) -> dict:
    return {"columns": {name: [r[name] for r in rows] for name in rows[0]}}


@pytest.mark.parametrize("which", ["tricky", "planted"])
def test_a_column_body_answers_exactly_as_records(client, rows, which):
    batch = TRICKY_ROWS if which == "tricky" else rows
    predictor = client.app.state.repository.default().predictor
    before = (dict(predictor.drift.unknown), dict(predictor.drift.missing), dict(predictor.drift.imputed))
    from_records = client.post("/predict?orient=columns", json={"records": batch})
    after_records = (dict(predictor.drift.unknown), dict(predictor.drift.missing), dict(predictor.drift.imputed))
    from_columns = client.post("/predict?orient=columns", json=_as_columns(batch))
    assert from_records.status_code == from_columns.status_code == 200, from_columns.text
    assert from_columns.json() == from_records.json()  # labels, probabilities and warnings, exactly
    if which == "tricky":
        kinds = {w[2] for w in from_columns.json()["warnings"]}
        assert kinds == {"unknown_category", "missing_category", "imputed", "out_of_range"}
    for counted, start, middle in zip(
        (predictor.drift.unknown, predictor.drift.missing, predictor.drift.imputed), before, after_records, strict=True
    ):  # the same drift counted again
        assert {k: counted[k] - middle.get(k, 0) for k in counted} == {k: middle[k] - start.get(k, 0) for k in middle}


def test_a_column_body_drops_ignored_columns_and_is_checked_like_tensors(client, binary_run, rows):
    body = _as_columns(rows[:4])
    ignored = list(binary_run.manifest.get("ignored_columns") or {})
    for name in ignored:
        body["columns"][name] = ["whatever"] * 4
    assert client.post("/predict?orient=columns", json=body).status_code == 200
    cases = [
        ({**body["columns"], "colour": ["red"] * 4}, "colour"),
        ({k: v for k, v in body["columns"].items() if k != "x"}, "x"),
        ({**body["columns"], "x": [1.0, 2.0]}, "x"),
        ({**body["columns"], "x": "1.0"}, "columns.x"),
        ({**body["columns"], "color": ["red", ["nested"], None, "blue"]}, "color[1]"),
        ({**body["columns"], "noise": [1.0, "2", None, 3]}, "noise[1]"),
        ({**body["columns"], "size": [1, 2, 3, 2.0**70]}, "size[3]"),
    ]
    for columns, field in cases:
        response = client.post("/predict?orient=columns", json={"columns": columns})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
    assert client.post("/predict?orient=columns", json={"columns": {}}).status_code == 422


def test_unknown_orient_is_refused(client, example):
    response = client.post("/predict?orient=rows", json=example)
    assert response.status_code == 422 and response.json()["error"]["field"] == "orient"


@pytest.mark.parametrize("nested", [False, True], ids=["[N]", "[N,1]"])
def test_v2_json_equals_the_row_format_and_counts_drift(client, binary_run, rows, nested):
    predictor = client.app.state.repository.default().predictor
    before = predictor.drift.predictions
    response = _infer(client, {"id": "a", "inputs": _tensors(binary_run, rows, nested)})  # no Content-Type
    assert response.status_code == 200, response.text
    body = response.json()
    assert predictor.drift.predictions == before + len(rows)  # the same counters as /predict
    row_format = client.post("/predict", json={"records": rows}).json()["predictions"]
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["label"]["data"] == [str(p["label"]) for p in row_format]
    labels = [str(label) for label in binary_run.manifest["target"]["labels"]]
    expected = [[p["probabilities"][k] for k in labels] for p in row_format]
    assert outputs["probabilities"]["shape"] == [len(rows), 2]
    np.testing.assert_allclose(np.reshape(outputs["probabilities"]["data"], (-1, 2)), expected, atol=1e-6)
    for kind in ("unknown_category", "missing_category", "imputed", "out_of_range"):
        assert body["parameters"][f"{kind}_count"] == sum(w["type"] == kind for p in row_format for w in p["warnings"])
    assert body["parameters"]["missing_category_count.color"] == sum(r["color"] is None for r in rows)


def test_binary_outputs_on_request(client, binary_run, rows):
    request = {
        "inputs": _tensors(binary_run, rows),
        "outputs": [{"name": "label", "parameters": {"binary_data": True}}, {"name": "probabilities"}],
    }
    response = _infer(client, request)
    length = int(response.headers["inference-header-content-length"])
    header = orjson.loads(response.content[:length])
    label, probabilities = header["outputs"]
    assert "data" not in label and "data" in probabilities
    raw, labels, offset = response.content[length:], [], 0
    assert len(raw) == label["parameters"]["binary_data_size"]
    while offset < len(raw):
        (size,) = struct.unpack_from("<I", raw, offset)
        labels.append(raw[offset + 4 : offset + 4 + size].decode())
        offset += 4 + size
    assert labels == [str(p["label"]) for p in client.post("/predict", json={"records": rows}).json()["predictions"]]
    only = _infer(client, {**request, "outputs": [{"name": "probabilities"}], "parameters": {"binary_data_output": True}})
    assert [o["name"] for o in orjson.loads(only.content[: int(only.headers["inference-header-content-length"])])["outputs"]] == [
        "probabilities"
    ]


def _binary_request(binary_run, rows: list[dict]) -> tuple[bytes, dict]:
    inputs, chunks = [], []
    for tensor in _tensors(binary_run, rows):
        if tensor["datatype"] == "BYTES":
            raw = b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in tensor["data"])
        else:
            raw = np.asarray([np.nan if v is None else v for v in tensor["data"]], dtype="<f8").tobytes()
        chunks.append(raw)
        inputs.append(
            {
                "name": tensor["name"],
                "datatype": tensor["datatype"],
                "shape": tensor["shape"],
                "parameters": {"binary_data_size": len(raw)},
            }
        )
    header = orjson.dumps({"inputs": inputs})
    return header + b"".join(chunks), {"Inference-Header-Content-Length": str(len(header))}


def test_binary_inputs_equal_json_inputs(client, binary_run, rows):
    body, headers = _binary_request(binary_run, rows)
    from_binary = _infer(client, body, headers).json()
    from_json = _infer(client, {"inputs": _tensors(binary_run, rows)}).json()
    assert from_binary["outputs"] == from_json["outputs"] and from_binary["parameters"] == from_json["parameters"]


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda t: t.append(dict(t[0])), "twice"),
        (lambda t: t.pop(), "missing input"),
        (lambda t: t[0].update(datatype="TEXT"), "unknown datatype"),
        (lambda t: t[0].update(shape=[3, 2]), "shape"),
        (lambda t: t[0].update(data=t[0]["data"][:-1]), "values for shape"),
        (lambda t: t[0].update(data=[1] * len(t[0]["data"])), "not a string"),
        (lambda t: t[-1].update(datatype="BYTES"), "not a number type"),
        (lambda t: t[-1].update(data=["1.5"] * len(t[-1]["data"])), "not a number"),
        (lambda t: t[0].update(name="nope"), "nope"),
        (lambda t: t[0].pop("data"), "no 'data'"),
    ],
)
def test_malformed_tensors_are_400(client, binary_run, rows, change, words):
    tensors = _tensors(binary_run, rows[:3])
    change(tensors)
    response = _infer(client, {"inputs": tensors})
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"} and words in response.json()["error"]


def test_malformed_bodies_and_binary_framing_are_400(client, binary_run, rows):
    body, headers = _binary_request(binary_run, rows[:3])
    for content, extra in [
        (b"not json", {}),
        (b"[]", {}),
        (body, {"Inference-Header-Content-Length": "999999"}),
        (body + b"x", headers),  # bytes that belong to no input
        (orjson.dumps({"inputs": _tensors(binary_run, rows[:3]), "outputs": [{"name": "nope"}]}), {}),
    ]:
        response = _infer(client, content, extra)
        assert response.status_code == 400 and set(response.json()) == {"error"}, response.text


def test_model_lookups_404_and_not_ready_503(client, binary_run):
    assert client.get("/v2/models/nope").status_code == 404
    assert client.get(f"/v2/models/{NAME}/versions/9/ready").status_code == 404
    assert client.get(f"/v2/models/{NAME}/versions/x/ready").json().keys() == {"error"}  # 400: not a version number
    assert client.get(f"/v2/models/{NAME}/versions/1").json()["versions"] == ["1"]
    unloaded = TestClient(create_app(settings_for(binary_run)))  # no lifespan: nothing loaded
    assert unloaded.get("/v2/health/ready").status_code == 503 and unloaded.get("/v2/health/ready").json() == {"ready": False}
    assert unloaded.get("/v2/health/live").json() == {"live": True}
    assert unloaded.get(f"/v2/models/{NAME}/ready").status_code == 503


def test_infer_needs_the_api_key_when_set(binary_run, rows):
    with TestClient(create_app(settings_for(binary_run, api_key="k"))) as keyed:
        request = {"inputs": _tensors(binary_run, rows[:2])}
        refused = _infer(keyed, request)
        assert refused.status_code == 401 and set(refused.json()) == {"error"}
        assert _infer(keyed, request, {"Authorization": "Bearer k"}).status_code == 200
        assert keyed.get(f"/v2/models/{NAME}").status_code == 200  # metadata stays open, like /model


def test_strings_over_the_limit_are_refused_in_json_and_binary_tensors(binary_run, rows):
    # BYTES tensors skip the second type scan (they are all str already), never the length check
    with TestClient(create_app(settings_for(binary_run, max_string_length=50))) as c:
        long_rows = [dict(r) for r in rows[:3]]
        long_rows[1]["city"] = "x" * 51
        for body, headers in [
            (orjson.dumps({"inputs": _tensors(binary_run, long_rows)}), {}),
            _binary_request(binary_run, long_rows),
        ]:
            response = _infer(c, body, headers)
            assert response.status_code == 400, response.text
            assert "51 characters is over the limit of 50" in response.json()["error"]


# ---- issue 28: inputs that answered 500, and a misleading message ----


# header bytes are latin-1: b"\xb2" is "²", a digit to str.isdigit() that int() refuses
@pytest.mark.parametrize(
    "length",
    [b"\xb2", b"1\xb9", b"9" * 5_000, b"-1", b"3 3"],
    ids=["superscript", "digit-superscript", "5000-digits", "negative", "space"],
)
def test_a_header_length_that_is_not_an_ascii_count_is_400(client, binary_run, rows, length):
    body, _ = _binary_request(binary_run, rows[:3])
    response = _infer(client, body, {"Inference-Header-Content-Length": length})
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"} and "Inference-Header-Content-Length" in response.json()["error"]


@pytest.mark.parametrize("datatype", [{}, [], 3, None, True], ids=["object", "list", "number", "null", "bool"])
def test_a_datatype_that_is_not_a_string_is_400(client, datatype):
    response = _infer(client, {"inputs": [{"name": "", "datatype": datatype, "shape": [], "data": []}]})
    assert response.status_code == 400, response.text
    assert "unknown datatype" in response.json()["error"]


def test_an_unknown_input_sent_as_bytes_says_no_input_has_that_name(client, binary_run, rows):
    tensors = _tensors(binary_run, rows[:2])
    tensors.append({"name": "zzz", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]})
    error = _infer(client, {"inputs": tensors}).json()["error"]
    assert error.startswith("unknown input 'zzz'"), error  # not "input 'zzz' is numeric"
    assert "numeric" not in error, error
