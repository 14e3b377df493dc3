"""A column that is a number and a category ("both"): one field in every request, its number in the
numeric input and its own embedding, the same through records, the one-record fast path, v2
tensors, Arrow batches (``catembed predict``, streaming) and ``/embeddings``."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from features.arrow_batch import encode_batch
from features.one_row import OneRowEncoder
from tests.app.conftest import assert_error, records, settings_for
from tests.conftest import FAST
from tests.synthetic import planted_frame


@pytest.fixture(scope="module")
def both_run(tmp_path_factory):
    from features.schema import FeatureSpec
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    spec = FeatureSpec(target="label", task="binary", categorical=["color", "city", "size"], numeric=["size", "x"])
    config = TrainConfig(**{**FAST, "epochs": 4})
    frame = planted_frame(n=1500, task="binary")
    out = tmp_path_factory.mktemp("both")
    return train(frame, spec, config, name="both", out=out, log=lambda _: None, verbose=0)


@pytest.fixture(scope="module")
def client(both_run):
    with TestClient(create_app(settings_for(both_run))) as c:
        yield c


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return records(planted_frame(n=40, task="binary", seed=5).drop(columns=["label", "noise"]))


def _probabilities(body: dict) -> list[float]:
    return [p["probabilities"]["yes"] for p in body["predictions"]]


def test_the_bundle_has_the_column_as_both(both_run):
    kinds = [(f["name"], f["kind"]) for f in both_run.manifest["features"]]
    assert ("size", "categorical") in kinds and ("size", "numeric") in kinds
    assert both_run.encoder.features == ["color", "city", "size", "x"]  # each column read once
    assert len(both_run.encoder.categorical_["size"].vocabulary_) == 5


def test_records_fast_path_and_batches_agree(client, both_run, rows):
    batch = client.post("/predict", json={"records": rows})
    assert batch.status_code == 200, batch.text
    expected = both_run.encoder.transform({name: [r[name] for r in rows] for name in both_run.encoder.features})
    output = load_graph(both_run)(expected.categorical, expected.numeric)
    np.testing.assert_allclose(_probabilities(batch.json()), both_run.target.probabilities(output)[:, 1], rtol=1e-5)
    clean = next(r for r in rows if all(v is not None for v in r.values()) and 1 < r["size"] < 5)
    codes, numeric, _ = OneRowEncoder(both_run.encoder, 1000).encode(clean)  # the single clean record's fast path
    general = both_run.encoder.transform({name: [value] for name, value in clean.items()})
    assert codes == [int(c[0]) for c in general.categorical]
    np.testing.assert_array_equal(numeric, general.numeric[0])
    single = client.post("/predict", json=clean).json()
    np.testing.assert_allclose(_probabilities(single), _probabilities(client.post("/predict", json={"records": [clean]}).json()))


def load_bundle(run):
    from features.artifacts import load_bundle as load

    return load(run.path.parent, int(run.path.name))


def load_graph(run):
    return load_bundle(run).graph


def test_an_unseen_number_gets_its_number_and_the_unknown_vector(client, rows):
    record = {**next(r for r in rows if r["x"] is not None and r["color"] is not None), "size": 9}
    body = client.post("/predict", json=record).json()
    kinds = {(w["type"], w["field"]) for w in body["predictions"][0]["warnings"]}
    assert ("unknown_category", "size") in kinds and ("out_of_range", "size") in kinds
    assert_error(client.post("/predict", json={**record, "size": "three"}), 422, "size")


def test_embeddings_of_the_column_have_its_own_width(client, both_run):
    entry = next(f for f in both_run.manifest["features"] if f["name"] == "size" and f["kind"] == "categorical")
    body = client.get("/embeddings/size/3").json()
    assert len(body["vector"]) == entry["embedding_dim"]
    assert_error(client.get("/embeddings/x/1"), 404, "feature")


def test_the_schema_and_v2_list_the_column_once_as_a_number(client, rows):
    record = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    assert "size" in record["properties"] and "category" in record["properties"]["size"]["description"]
    inputs = client.get("/v2/models/both").json()["inputs"]
    assert [i["name"] for i in inputs].count("size") == 1
    assert next(i for i in inputs if i["name"] == "size")["datatype"] == "FP64"

    def tensor(name: str, datatype: str, data: list) -> dict:
        return {"name": name, "datatype": datatype, "shape": [len(rows)], "data": data}

    tensors = [
        tensor("color", "BYTES", ["" if r["color"] is None else r["color"] for r in rows]),
        tensor("city", "BYTES", [r["city"] for r in rows]),
        tensor("size", "INT64", [r["size"] for r in rows]),  # one tensor: the number is also the category
        tensor("x", "FP64", [r["x"] for r in rows]),
    ]
    answer = client.post("/v2/models/both/infer", content=orjson.dumps({"inputs": tensors}))
    assert answer.status_code == 200, answer.text
    probabilities = next(o for o in answer.json()["outputs"] if o["name"] == "probabilities")["data"]
    native = client.post("/predict", json={"records": rows}).json()
    np.testing.assert_allclose(probabilities[1::2], _probabilities(native), rtol=1e-5)


def test_arrow_batches_encode_as_the_encoder_does(both_run):
    frame = planted_frame(n=300, task="binary", seed=9)
    from_arrow = encode_batch(both_run.encoder, pa.Table.from_pandas(frame, preserve_index=False))
    from_frame = both_run.encoder.transform(frame)
    for a, b in zip(from_arrow.categorical, from_frame.categorical, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(from_arrow.numeric, from_frame.numeric)


def test_the_encoders_round_trip_as_data_with_the_column_in_both_lists(both_run):
    from features.encoder_state import encoders_as_data, encoders_from_data

    encoder, _ = encoders_from_data(*encoders_as_data(both_run.encoder, both_run.target))
    assert encoder.categorical == both_run.encoder.categorical and "size" in encoder.numeric
    frame = planted_frame(n=200, task="binary", seed=3)
    for a, b in zip(encoder.transform(frame).model_inputs(), both_run.encoder.transform(frame).model_inputs(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_onnx_takes_the_column_once_as_a_double_and_answers_as_the_service(both_run):
    import onnxruntime

    from training.export.onnx import export_model

    bundle = load_bundle(both_run)
    exported = export_model(bundle)  # refuses to return unless its parity rows match the NumPy graph
    session = onnxruntime.InferenceSession(exported.model.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = {i.name: i.type for i in session.get_inputs()}
    assert list(inputs) == ["color", "city", "size", "x"] and inputs["size"] == "tensor(double)"
    frame = planted_frame(n=300, task="binary", seed=4)
    frame.loc[::9, "size"] = 9  # a number never seen: the unknown row, and its number clipped
    frame.loc[1::13, "size"] = np.nan
    feeds = {
        "color": np.asarray(["" if v is None or v != v else str(v) for v in frame["color"]], dtype=object),
        "city": np.asarray([str(v) for v in frame["city"]], dtype=object),
        "size": frame["size"].to_numpy(dtype=np.float64, na_value=np.nan),
        "x": frame["x"].to_numpy(dtype=np.float64, na_value=np.nan),
    }
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds), strict=True))
    batch = bundle.encoder.transform(frame)
    size = bundle.encoder.categorical.index("size")
    assert (batch.categorical[size] == 0).sum() >= 300 // 9
    np.testing.assert_array_equal(got["size__embedding"], bundle.graph.embeddings[size][batch.categorical[size]])
    expected = bundle.target.probabilities(bundle.graph(batch.categorical, batch.numeric))
    np.testing.assert_allclose(got["probabilities"], expected, atol=1e-5, rtol=0)
