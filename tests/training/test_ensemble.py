"""An ensemble of K networks in one bundle: the graph serves the members' mean, to 1e-5."""

import numpy as np
import pytest

from cli.main import main
from features.artifacts import load_bundle
from features.errors import DataError
from features.graph import InferenceGraph
from features.schema import FeatureSpec
from tests.conftest import FAST
from tests.synthetic import planted_frame, streamed_cli_run, train_with_every_op
from training.export.ensemble_graph import stitch
from training.loop.auto import AUTO_MEMBERS, ENSEMBLE_ROWS, member_seed, resolve_auto
from training.loop.config import TrainConfig, seed_config


@pytest.fixture(scope="module", params=["multiclass", "regression"])
def ensemble_run(request, tmp_path_factory):
    return train_with_every_op(request.param, tmp_path_factory.mktemp(f"ensemble_{request.param}"), ensemble=3)


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
    np.testing.assert_array_equal(one, served[row : row + 1])  # one record gets its bits in any batch
    assert ensemble_run.manifest["parity"]["max_abs_diff"] <= 1e-5
    assert ensemble_run.manifest["training"]["ensemble"]["members"] == 3


def test_one_vector_per_value_of_the_features_own_width(ensemble_run):
    """The first layer reads the members' tables side by side; what is served (/embeddings, /embed,
    ONNX, the maps) is one d-wide table per feature: the members' tables turned onto member 0's by
    orthogonal Procrustes and averaged, so it lies in member 0's coordinates."""
    from app.comparison import procrustes_distances
    from features.alignment import aligned_mean

    bundle = load_bundle(ensemble_run.path.parent, int(ensemble_run.path.name))
    dims = {f["name"]: f["embedding_dim"] for f in ensemble_run.manifest["features"] if f["kind"] == "categorical"}
    for name, table, served in zip(bundle.encoder.categorical, bundle.graph.embeddings, bundle.graph.vectors, strict=True):
        parts = [ensemble_run.model.get_layer(f"member_{k}").get_layer(f"embedding_{name}").get_weights()[0] for k in range(3)]
        np.testing.assert_array_equal(table, np.hstack(parts))  # predictions still use every member
        assert served.shape == parts[0].shape and dims[name] == parts[0].shape[1]
        np.testing.assert_allclose(served, aligned_mean(parts), atol=1e-6)
        # nearer member 0 than an unaligned member is: the members' coordinates differ, the mean's agree with member 0's
        raw = float(np.abs(parts[1] - parts[0]).mean())
        assert float(np.abs(served - parts[0]).mean()) < raw
        assert procrustes_distances(parts[0], served)[1] < procrustes_distances(parts[0], parts[1])[1] + 1e-9
    batch = bundle.encoder.transform(ensemble_run.valid.head(20))
    width = sum(dims.values()) + bundle.graph.numeric_width
    assert bundle.graph.features(batch.categorical, batch.numeric).shape == (20, width)  # POST /embed's rows


def test_the_report_names_each_networks_epochs(ensemble_run):
    ensemble = ensemble_run.manifest["training"]["ensemble"]
    page = (ensemble_run.path / "report.html").read_text()
    each = ", ".join(f"{r} (best {b})" for r, b in zip(ensemble["epochs_run"], ensemble["best_epoch"], strict=True))
    assert len(ensemble["epochs_run"]) == 3 and f"3 networks trained; epochs run per network: {each}." in page
    assert "Training ran" not in page  # not one network's count for all of them


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


def test_a_streamed_ensemble_is_the_mean_of_its_members(capsys, tmp_path, monkeypatch):
    frame, bundle = streamed_cli_run(tmp_path, "--ensemble", "2")
    data = tmp_path / "t.parquet"
    argv = ["train", "--data", str(data), "--target", "label", "--stream", "--ensemble", "2", "--epochs", "3"]
    training = bundle.manifest["training"]
    assert training["streamed"] is True and training["ensemble"]["members"] == 2
    assert bundle.manifest["parity"]["max_abs_diff"] <= 1e-5
    # the members differ (own seeds, own shuffles) and the served answer is their mean
    from training.model.saved import load_keras_model

    model = load_keras_model(bundle.path / "model.keras")
    batch = bundle.encoder.transform(frame.head(50))
    outputs = [np.asarray(model.get_layer(f"member_{k}").predict(batch.model_inputs(), verbose=0)) for k in range(2)]
    assert not np.allclose(outputs[0], outputs[1])
    np.testing.assert_allclose(bundle.graph(batch.categorical, batch.numeric), np.mean(outputs, axis=0), atol=1e-5, rtol=0)
    capsys.readouterr()

    # TF_CONFIG workers each stream a share: members one after the other would need K rounds of them
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}')
    code = main([*argv, "--name", "w", "--out", str(tmp_path / "w")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--ensemble 1 with --workers or TF_CONFIG workers" in err
    assert not (tmp_path / "w").exists() or not list((tmp_path / "w").rglob("manifest.json"))
    monkeypatch.delenv("TF_CONFIG")
    # refused before Ray is started: members train one after the other on one process
    code = main(["train", "--data", str(data), "--target", "label", "--workers", "2", "--ensemble", "3", "--name", "m"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--ensemble 1 with --workers" in err and "\n" not in err


def test_auto_averages_five_networks_for_small_regression_tables_only():
    auto = TrainConfig()

    def members(config, rows, task, distributed=False):
        return resolve_auto(config, task, rows, distributed=distributed).ensembling.ensemble

    assert auto.ensembling.ensemble is None and AUTO_MEMBERS == 5
    assert members(auto, ENSEMBLE_ROWS - 1, "regression") == 5
    assert members(auto, ENSEMBLE_ROWS, "regression") == 1  # five trainings of a big table: too dear
    for task in ("binary", "multiclass"):  # AUC moved by ±0.001 with five: not worth five trainings
        assert members(auto, 1000, task) == 1
    assert members(auto, 1000, "regression", distributed=True) == 1  # members run on one process
    assert members(TrainConfig(batch_ensemble=4), 1000, "regression") == 1
    assert members(TrainConfig(ensemble=2), 10**7, "binary") == 2  # a choice is kept
    assert members(seed_config(), 1000, "regression") == 1  # the seed network stays one network


def test_the_one_command_trains_five_networks_on_a_small_regression_table(tmp_path):
    data = tmp_path / "t.csv"
    planted_frame(n=800, task="regression").to_csv(data, index=False)
    argv = ["train", "--data", str(data), "--target", "label", "--epochs", "2", "--hidden", "8", "--name", "m"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    training = load_bundle(tmp_path / "o" / "m").manifest["training"]
    assert training["config"]["ensemble"] == 5 and training["ensemble"]["members"] == 5
    # the same table as a classification: one network
    frame = planted_frame(n=800, task="binary")
    frame.to_csv(data, index=False)
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    training = load_bundle(tmp_path / "b" / "m").manifest["training"]
    assert training["config"]["ensemble"] == 1 and "ensemble" not in training


def test_each_member_holds_out_its_own_fold_and_the_metrics_are_out_of_fold(tmp_path):
    from training.data.split import stratified_folds
    from training.loop.fitting import MONITOR
    from training.loop.trainer import train

    frame = planted_frame(n=900, task="regression")
    spec = FeatureSpec(target="label", task="regression", categorical=["color", "city", "size"], numeric=["x", "noise"])
    config = TrainConfig(**{**FAST, "epochs": 4, "ensemble": 3, "weight_average": 0.0, "ensemble_holdout": "folds"})
    run = train(frame, spec, config, name="crossed", out=tmp_path, log=lambda _: None, verbose=0)
    training = run.manifest["training"]
    assert training["rows"] == {"train": 900, "valid": 900} and training["ensemble"]["holdout"] == "folds"
    bundle = load_bundle(run.path.parent, int(run.path.name))
    inputs = bundle.encoder.transform(frame).model_inputs()
    folds = [fold for _, fold in stratified_folds(len(frame), 3, config.fitting.seed)]
    assert sorted(np.concatenate(folds).tolist()) == list(range(900))  # disjoint, and every row held out once
    truth = bundle.target.transform(frame["label"]).reshape(-1)
    held_out = np.empty(len(frame))
    for k, fold in enumerate(folds):
        member = run.model.get_layer(f"member_{k}")
        output = np.asarray(member.predict([a[fold] for a in inputs], verbose=0)).reshape(-1)
        if k == 0:  # (the manifest keeps member 0's curve) it early-stopped on its fold: its best holdout loss is its error there
            assert abs(float(np.mean((output - truth[fold]) ** 2)) - min(training["history"][MONITOR])) < 1e-4
        held_out[fold] = output
    # the holdout metrics are out of fold: each row judged by the one member that did not train on it
    rmse = float(np.sqrt(np.mean((bundle.target.values(held_out.reshape(-1, 1)).reshape(-1) - frame["label"]) ** 2)))
    assert abs(rmse - run.manifest["metrics"]["holdout"]["rmse"]) < 1e-3 * rmse
    # no row was held out from the mean network the importance shuffles through: it says so
    assert run.manifest["importance"]["rows_are"].startswith("training rows")

    shared = TrainConfig(**{**FAST, "epochs": 2, "ensemble": 2})  # the default
    run = train(frame, spec, shared, name="shared", out=tmp_path, log=lambda _: None, verbose=0)
    assert run.manifest["training"]["rows"] == {"train": 720, "valid": 180}
    assert run.manifest["training"]["ensemble"]["holdout"] == "shared"
    with pytest.raises(DataError, match="ensemble_holdout must be 'folds' or 'shared'"):
        TrainConfig(ensemble_holdout="fold")


def test_the_onnx_export_averages_the_members_inside_the_graph(ensemble_run):
    """catembed export on every op an ensemble adds (grouped layers, member mean, each member's
    periodic embeddings or the shared ramps): held to the served graph by its parity gate."""
    pytest.importorskip("onnxruntime", reason="the optional extra catembed[onnx]")
    from training.export.onnx import export_model

    bundle = load_bundle(ensemble_run.path.parent, int(ensemble_run.path.name))
    exported = export_model(bundle)
    assert max(exported.differences.values()) <= 1e-5  # the __embedding outputs are the served vectors
    widths = {o.name: o.type.tensor_type.shape.dim[1].dim_value for o in exported.model.graph.output if "__" in o.name}
    assert [widths[f"{n}__embedding"] for n in bundle.encoder.categorical] == [v.shape[1] for v in bundle.graph.vectors]
    ops = {node.op_type for node in exported.model.graph.node}
    assert {"ReduceMean", "LabelEncoder"} <= ops and ({"Sin", "Cos"} <= ops or "Clip" in ops)
