"""GET /embeddings/{feature}/projection (the explorer's map) and the /model coverage numbers."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.projection import pca_2d
from tests.app.conftest import assert_error, settings_for


def probability(client, record: dict, label: str = "yes") -> float:
    return client.post("/predict", json=record).json()["predictions"][0]["probabilities"][label]


def test_one_point_per_value_with_counts(client, binary_run):
    for feature in ("color", "city", "size"):
        body = client.get(f"/embeddings/{feature}/projection?method=pca").json()
        encoder = binary_run.encoder.categorical_[feature]
        assert body["values"] == encoder.vocabulary_ and body["counts"] == encoder.counts_
        assert body["size"] == len(encoder.vocabulary_)
        assert len(body["x"]) == len(body["y"]) == len(body["effect"]) == body["size"]
        assert body["method"] == "pca" and body["feature"] == feature


def test_coordinates_are_the_pca_of_the_learned_vectors(client, binary_run):
    body = client.get("/embeddings/city/projection").json()
    table = binary_run.model.get_layer("embedding_city").get_weights()[0][1:].astype(np.float64)
    centred = table - table.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:3].T
    coords = np.column_stack([body["x"], body["y"], body["z"]])
    # the same axes up to their sign (training fixes it: largest loading positive), stored in the bundle
    np.testing.assert_allclose(np.abs(coords), np.abs(expected), atol=2e-5)
    share = singular**2 / (singular**2).sum()
    np.testing.assert_allclose(body["explained_variance"], share[:3], rtol=1e-4)
    assert body["stored"] is True and body["projection"] == "pca"


def test_deterministic_across_calls_and_loads(client, binary_run):
    first = client.get("/embeddings/city/projection").json()
    assert client.get("/embeddings/city/projection").json() == first
    with TestClient(create_app(settings_for(binary_run))) as fresh:  # a new load computes it again
        assert fresh.get("/embeddings/city/projection").json() == first


def test_effect_is_the_prediction_change_on_the_example(client, binary_run, example):
    body = client.get("/embeddings/city/projection").json()
    assert body["reference"] == example and body["effect_of"] == "P(label = yes)"
    base = probability(client, example)
    assert body["reference_output"] == pytest.approx(base, abs=1e-6)
    for i in (0, 3, len(body["values"]) - 1):
        changed = probability(client, {**example, "city": body["values"][i]})
        assert body["effect"][i] == pytest.approx(changed - base, abs=2e-6)
    unknown = probability(client, {**example, "city": "a city never seen"})
    assert body["unknown"]["effect"] == pytest.approx(unknown - base, abs=2e-6)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_effect_for_other_tasks(task, request):
    run = request.getfixturevalue(f"{task}_run")
    with TestClient(create_app(settings_for(run))) as c:
        example = run.manifest["example"]
        body = c.get("/embeddings/color/projection").json()
        value = body["values"][1]
        before = c.post("/predict", json=example).json()["predictions"][0]
        after = c.post("/predict", json={**example, "color": value}).json()["predictions"][0]
        if task == "regression":
            assert body["effect_of"] == "predicted label"
            assert body["effect"][1] == pytest.approx(after["value"] - before["value"], rel=1e-5, abs=1e-4)
        else:  # the probability of the label the example is predicted to have
            label = str(before["label"])
            assert body["effect_of"] == f"P(label = {label})"
            assert body["effect"][1] == pytest.approx(after["probabilities"][label] - before["probabilities"][label], abs=2e-6)


def test_unknown_feature_numeric_feature_and_method(client):
    assert "'color', 'city', 'size'" in assert_error(client.get("/embeddings/colour/projection"), 404, "feature")["message"]
    assert "numeric" in assert_error(client.get("/embeddings/x/projection"), 404, "feature")["message"]
    # six colours are too few for t-SNE: the bundle has only PCA for them, and the error lists it
    assert "it has pca" in assert_error(client.get("/embeddings/color/projection?method=tsne"), 422, "method")["message"]
    assert_error(client.get("/embeddings/city/projection?method=umap"), 422, "method")
    # the single-value routes are untouched by the new one
    assert client.get("/embeddings/color/red").status_code == 200
    assert client.get("/embeddings/color/red/neighbors?k=2").status_code == 200


def test_pca_of_a_tiny_or_flat_table():
    _, axes, coords, _ = pca_2d(np.zeros((0, 5)))
    assert coords.shape == (0, 2) and axes.shape == (5, 2)
    _, axes, coords, explained = pca_2d(np.arange(6.0).reshape(6, 1))  # one dimension: a flat second axis
    assert coords.shape == (6, 2) and np.all(coords[:, 1] == 0) and explained == [1.0, 0.0]
    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, 4))
    once, again = pca_2d(table), pca_2d(table.copy())
    np.testing.assert_array_equal(once[2], again[2])
    assert all(once[1][np.abs(once[1][:, j]).argmax(), j] > 0 for j in range(2))


def test_model_reports_coverage_per_feature(client, binary_run):
    coverage = client.get("/model").json()["coverage"]
    assert set(coverage) == {"color", "city", "size"}
    for name, numbers in coverage.items():
        encoder = binary_run.encoder.categorical_[name]
        assert numbers["vocabulary_size"] == len(encoder.vocabulary_)
        assert numbers["values_folded"] == encoder.n_rare_values_
        assert numbers["values_seen"] == len(encoder.vocabulary_) + encoder.n_rare_values_
        assert numbers["embedding_dim"] == binary_run.model.get_layer(f"embedding_{name}").get_weights()[0].shape[1]
        assert numbers["training_rows"] == sum(encoder.counts_) + encoder.n_rare_rows_ + encoder.n_missing_rows_


def test_served_unknown_rate_counts_served_records(binary_run, example):
    with TestClient(create_app(settings_for(binary_run))) as c:
        assert c.get("/model").json()["coverage"]["city"]["served_unknown_rate"] is None
        c.post("/predict", json={"records": [example, {**example, "city": "nowhere"}]})
        numbers = c.get("/model").json()["coverage"]["city"]
        assert numbers["served_rows"] == 2 and numbers["served_unknown"] == 1 and numbers["served_unknown_rate"] == 0.5


def test_two_dimensional_embeddings_are_plotted_raw(tmp_path):
    from features.schema import FeatureSpec
    from tests.conftest import FAST
    from tests.synthetic import planted_frame
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    spec = FeatureSpec(target="label", task="binary", categorical=["color", "size"], numeric=["x"], embedding_dims={"size": 2})
    run = train(
        planted_frame(n=600), spec, TrainConfig(**{**FAST, "epochs": 2}), name="flat", out=tmp_path, log=lambda _: None, verbose=0
    )
    with TestClient(create_app(settings_for(run))) as c:
        body = c.get("/embeddings/size/projection").json()
    table = run.model.get_layer("embedding_size").get_weights()[0]
    assert body["projection"] == "raw" and body["dimension"] == 2
    np.testing.assert_allclose(np.column_stack([body["x"], body["y"]]), table[1:], atol=1e-6)
    assert [body["unknown"]["x"], body["unknown"]["y"]] == pytest.approx(table[0].tolist(), abs=1e-6)


def _copy_without_stored_maps(run, folder):
    """The bundle as catembed wrote it before projections.npz: no file, no manifest entry."""
    import json
    import shutil

    shutil.copytree(run.path, folder / "1")
    manifest = json.loads((folder / "1" / "manifest.json").read_text())
    del manifest["projections"], manifest["files"]["projections.npz"]
    (folder / "1" / "projections.npz").unlink()
    (folder / "1" / "manifest.json").write_text(json.dumps(manifest))


def test_an_older_bundle_gets_the_same_pca_computed_and_only_pca(binary_run, client, tmp_path):
    from app.settings import Settings

    _copy_without_stored_maps(binary_run, tmp_path / "old")
    stored = client.get("/embeddings/city/projection").json()
    assert stored["methods"] == ["pca", "tsne"] and stored["stored"] is True
    with TestClient(create_app(Settings(model_dir=tmp_path / "old"))) as old:
        body = old.get("/embeddings/city/projection").json()
        assert body["methods"] == ["pca"] and body["stored"] is False
        for axis in ("x", "y", "z"):
            np.testing.assert_allclose(body[axis], stored[axis], atol=1e-5)
        assert_error(old.get("/embeddings/city/projection?method=tsne"), 422, "method")


def test_a_stored_map_that_is_not_plain_data_refuses_the_bundle(binary_run, tmp_path):
    import json
    import shutil

    from app.serving import load_served_model
    from app.settings import Settings
    from features.artifacts import sha256_of
    from features.errors import BundleError

    for name, arrays in (
        ("pickled", {"pca_0": np.array([{"x": 1}], dtype=object)}),  # an object array: np.load refuses to unpickle
        ("short", {"pca_0": np.zeros((2, 3), dtype=np.float32)}),  # fewer rows than the table
    ):
        folder = tmp_path / name
        shutil.copytree(binary_run.path, folder / "1")
        with open(folder / "1" / "projections.npz", "wb") as fh:
            np.savez(fh, **arrays)
        manifest = json.loads((folder / "1" / "manifest.json").read_text())
        manifest["files"]["projections.npz"] = sha256_of(folder / "1" / "projections.npz")
        manifest["projections"]["features"] = {"color": {"pca": {"array": "pca_0"}}}
        (folder / "1" / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(BundleError, match=r"projections\.npz"):
            load_served_model(Settings(model_dir=folder))


def test_model_serves_the_stored_importance(client, binary_run):
    assert client.get("/model").json()["importance"] == binary_run.manifest["importance"]
