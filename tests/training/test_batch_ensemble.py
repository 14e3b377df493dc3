"""A batch ensemble (TabM-mini): K members sharing the hidden weights, each trained on its own
loss, served as their mean by the same NumPy graph ops as a K-seed ensemble, to 1e-5."""

import keras
import numpy as np
import pytest

from cli.main import main
from features.artifacts import load_bundle
from features.errors import DataError
from tests.synthetic import planted_frame, streamed_cli_run, train_with_every_op
from training.loop.config import TrainConfig
from training.model.batch_ensemble import MEAN, BatchEnsembleModel
from training.model.network import input_names
from training.model.saved import load_keras_model

MEMBERS = 4


@pytest.fixture(scope="module", params=["multiclass", "regression"])
def batch_run(request, tmp_path_factory):
    return train_with_every_op(request.param, tmp_path_factory.mktemp(f"batch_{request.param}"), batch_ensemble=MEMBERS)


def _members(model: keras.Model, inputs: list[np.ndarray]) -> np.ndarray:
    """(n, K, units): each member's own output, from the layer the mean is taken of."""
    return np.asarray(keras.Model(model.inputs, model.get_layer(MEAN).input)(inputs, training=False))


def test_served_answer_is_the_mean_of_the_members(batch_run):
    bundle = load_bundle(batch_run.path.parent, int(batch_run.path.name))
    batch = bundle.encoder.transform(batch_run.valid.head(200))
    each = _members(batch_run.model, batch.model_inputs())
    assert each.shape[1] == MEMBERS
    assert np.abs(each - each[:, :1]).max() > 1e-3  # the members answer differently
    served = bundle.graph(batch.categorical, batch.numeric)
    np.testing.assert_allclose(served, each.mean(axis=1), atol=1e-5, rtol=0)
    row = 11
    one = bundle.graph.one([int(c[row]) for c in batch.categorical], batch.numeric[row])
    np.testing.assert_array_equal(one, served[row : row + 1])  # one record gets its bits in any batch
    assert batch_run.manifest["parity"]["max_abs_diff"] <= 1e-5
    assert batch_run.manifest["training"]["batch_ensemble"] == {"members": MEMBERS}


def test_the_members_share_their_hidden_weights_and_the_vectors(batch_run):
    model = batch_run.model
    adapter = model.get_layer("member_adapter").get_weights()[0]
    assert adapter.shape[0] == MEMBERS
    assert not np.allclose(np.abs(adapter), 1.0)  # started at random signs, then trained
    assert model.get_layer("dense_1").get_weights()[0].ndim == 2  # one kernel for all members
    assert model.get_layer("head").get_weights()[0].shape[0] == MEMBERS  # a head each
    bundle = load_bundle(batch_run.path.parent, int(batch_run.path.name))
    ops = [layer["op"] for layer in bundle.graph.layers]
    assert ops[0] == "dense" and ops[-1] == "member_mean" and "grouped_dense" in ops
    for safe, table in zip(input_names(bundle.encoder.categorical), bundle.graph.embeddings, strict=True):
        # one table per feature, not K side by side: GET /embeddings serves the shared vector
        np.testing.assert_array_equal(table, model.get_layer(f"embedding_{safe}").get_weights()[0])


def test_each_member_learns_from_its_own_loss(batch_run):
    """Trained on the loss of the mean, members would drift together; on their own losses each
    member alone fits the rows: every member beats the untrained baseline on the holdout."""
    bundle = load_bundle(batch_run.path.parent, int(batch_run.path.name))
    frame = batch_run.valid
    batch = bundle.encoder.transform(frame)
    each = _members(batch_run.model, batch.model_inputs())
    if batch_run.manifest["task"] == "regression":
        y = bundle.target.transform(frame["label"]).reshape(-1, 1)
        member_error = ((each - y[:, None, :]) ** 2).mean(axis=(0, 2))
        baseline = float(((y - y.mean()) ** 2).mean())
        assert (member_error < 0.9 * baseline).all(), (member_error, baseline)
    else:
        labels = bundle.target.transform(frame["label"]).astype(int)
        accuracy = (each.argmax(axis=2) == labels[:, None]).mean(axis=0)
        majority = np.bincount(labels).max() / len(labels)
        assert (accuracy > majority + 0.1).all(), (accuracy, majority)


def test_the_saved_model_reloads_and_predicts_the_same(batch_run):
    reloaded = load_keras_model(batch_run.path / "model.keras")
    assert isinstance(reloaded, BatchEnsembleModel)
    bundle = load_bundle(batch_run.path.parent, int(batch_run.path.name))
    inputs = bundle.encoder.transform(batch_run.valid.head(100)).model_inputs()
    np.testing.assert_allclose(reloaded.predict(inputs, verbose=0), batch_run.model.predict(inputs, verbose=0), atol=1e-6, rtol=0)


def test_bad_member_counts_are_refused(capsys, tmp_path):
    for value in (0, 65, True, 2.5):
        with pytest.raises(DataError, match="batch_ensemble must be a whole number"):
            TrainConfig(batch_ensemble=value)
    with pytest.raises(DataError, match="cannot be combined"):
        TrainConfig(batch_ensemble=4, ensemble=2)
    with pytest.raises(DataError, match="at least one hidden layer"):
        TrainConfig(batch_ensemble=4, hidden_units=(), dropout=())
    data = tmp_path / "t.csv"
    planted_frame(n=300).to_csv(data, index=False)
    code = main(
        ["train", "--data", str(data), "--target", "label", "--batch-ensemble", "0", "--name", "m", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "batch_ensemble" in err and "0" in err
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").rglob("manifest.json"))


def test_a_streamed_batch_ensemble_is_served_at_parity(capsys, tmp_path):
    frame, bundle = streamed_cli_run(tmp_path, "--batch-ensemble", "3")
    assert bundle.manifest["training"]["streamed"] is True
    assert bundle.manifest["training"]["batch_ensemble"] == {"members": 3}
    assert bundle.manifest["parity"]["max_abs_diff"] <= 1e-5
    model = load_keras_model(bundle.path / "model.keras")
    batch = bundle.encoder.transform(frame.head(50))
    np.testing.assert_allclose(
        bundle.graph(batch.categorical, batch.numeric), _members(model, batch.model_inputs()).mean(axis=1), atol=1e-5, rtol=0
    )
    capsys.readouterr()


def test_the_onnx_export_averages_the_members_inside_the_graph(batch_run):
    pytest.importorskip("onnxruntime", reason="the optional extra catembed[onnx]")
    from training.export.onnx import export_model

    exported = export_model(load_bundle(batch_run.path.parent, int(batch_run.path.name)))
    assert max(exported.differences.values()) <= 1e-5
    assert "ReduceMean" in {node.op_type for node in exported.model.graph.node}
