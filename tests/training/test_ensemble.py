"""An ensemble of K networks in one bundle: the graph serves the members' mean, to 1e-5."""

import numpy as np
import pytest

from features.artifacts import load_bundle
from features.errors import DataError
from features.graph import InferenceGraph
from features.schema import FeatureSpec
from tests.conftest import FAST
from tests.synthetic import planted_frame
from training.cli import main
from training.config import TrainConfig, member_seed
from training.ensemble import stitch


@pytest.fixture(scope="module", params=["multiclass", "regression"])
def ensemble_run(request, tmp_path_factory):
    from training.trainer import train

    task = request.param
    spec = FeatureSpec(target="label", task=task, categorical=["color", "city", "size"], numeric=["x", "noise"])
    # the regression members carry batch norm and the piecewise-linear expansion: every op kind
    extra = {"batch_norm": True, "numeric_encoding": "ple", "ple_bins": 4} if task == "regression" else {}
    config = TrainConfig(**{**FAST, **extra, "epochs": 4, "ensemble": 3})
    out = tmp_path_factory.mktemp(f"ensemble_{task}")
    return train(planted_frame(task=task), spec, config, name="ens", out=out, log=lambda _: None, verbose=0)


def test_served_answer_is_the_mean_of_the_members(ensemble_run):
    bundle = load_bundle(ensemble_run.path.parent, int(ensemble_run.path.name))
    batch = bundle.encoder.transform(ensemble_run.valid.head(200))
    inputs = batch.model_inputs()
    members = [ensemble_run.model.get_layer(f"member_{k}") for k in range(3)]
    each = [np.asarray(m.predict(inputs, verbose=0)) for m in members]
    assert max(np.abs(each[0] - each[1]).max(), np.abs(each[1] - each[2]).max()) > 1e-3  # three different networks
    served = bundle.graph(batch.categorical, batch.numeric)
    np.testing.assert_allclose(served, np.mean(each, axis=0), atol=1e-5, rtol=0)
    row = 7
    one = bundle.graph.one([int(c[row]) for c in batch.categorical], batch.numeric[row])
    np.testing.assert_allclose(one, served[row : row + 1], atol=1e-5, rtol=0)
    assert ensemble_run.manifest["parity"]["max_abs_diff"] <= 1e-5
    assert ensemble_run.manifest["training"]["ensemble"]["members"] == 3


def test_served_vector_is_every_members_vector_side_by_side(ensemble_run):
    bundle = load_bundle(ensemble_run.path.parent, int(ensemble_run.path.name))
    dims = {f["name"]: f["embedding_dim"] for f in ensemble_run.manifest["features"] if f["kind"] == "categorical"}
    for name, table in zip(bundle.encoder.categorical, bundle.graph.embeddings, strict=True):
        parts = [ensemble_run.model.get_layer(f"member_{k}").get_layer(f"embedding_{name}").get_weights()[0] for k in range(3)]
        np.testing.assert_array_equal(table, np.hstack(parts))
        assert dims[name] == table.shape[1]


def test_one_member_is_the_plain_network():
    assert member_seed(11, 0) == 11 and len({member_seed(11, k) for k in range(5)} | {member_seed(12, k) for k in range(5)}) == 10
    with pytest.raises(DataError, match="at least 1"):
        TrainConfig(ensemble=0)
    # a misspelt option is refused, not silently trained without it
    with pytest.raises(DataError, match="numeric_encoding must be one of none, ple"):
        TrainConfig(numeric_encoding="PLE")
    with pytest.raises(DataError, match="at least 2"):
        TrainConfig(numeric_encoding="ple", ple_bins=1)


def test_members_of_different_shapes_are_refused():
    dense = {"op": "dense", "activation": "relu", "kernel": np.ones((2, 3), np.float32), "bias": np.zeros(3, np.float32)}
    a = InferenceGraph([np.ones((2, 2), np.float32)], [dense], 0)
    b = InferenceGraph([np.ones((2, 2), np.float32)], [dense, {"op": "activation", "activation": "relu"}], 0)
    with pytest.raises(ValueError, match="share one architecture"):
        stitch([a, b])


def test_streaming_an_ensemble_is_one_clear_line(capsys, tmp_path):
    data = tmp_path / "t.parquet"
    planted_frame(n=200).to_parquet(data)
    code = main(
        [
            "train",
            "--data",
            str(data),
            "--target",
            "label",
            "--stream",
            "--ensemble",
            "2",
            "--name",
            "m",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--ensemble 1 when streaming" in err
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").rglob("manifest.json"))
    # refused before Ray is started: the workers would stream
    code = main(["train", "--data", str(data), "--target", "label", "--workers", "2", "--ensemble", "3", "--name", "m"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--ensemble 1 with --workers" in err and "\n" not in err
