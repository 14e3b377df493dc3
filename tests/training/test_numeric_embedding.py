"""Networks with the piecewise-linear numeric expansion and with a log-link head, trained for real."""

import numpy as np
import pandas as pd
import pytest

from features.artifacts import load_bundle
from features.schema import FeatureSpec
from features.target import ScaledTarget
from tests.conftest import FAST


def test_expanded_bundle_serves_what_keras_computes(expanded_run):
    bundle = load_bundle(expanded_run.path.parent, int(expanded_run.path.name))
    assert bundle.graph.expansion is not None
    numeric = bundle.encoder.numeric_
    np.testing.assert_array_equal(bundle.graph.expansion.parts[0].columns, numeric.score_columns())
    assert bundle.graph.expansion.added_width == 2 * 8  # two numeric features, eight bins each
    layer = expanded_run.model.get_layer("numeric_expansion")
    assert layer.count_params() == 0  # edges are constants: the first dense layer learns the bins
    batch = bundle.encoder.transform(expanded_run.valid.head(40))
    expected = expanded_run.model.predict(batch.model_inputs(), verbose=0)
    np.testing.assert_allclose(bundle.graph(batch.categorical, batch.numeric), expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        bundle.graph.one([int(c[0]) for c in batch.categorical], batch.numeric[0]), expected[:1], atol=1e-5, rtol=0
    )


def test_log_link_target_round_trips_and_refuses_negative_values():
    target = ScaledTarget("loglink").fit([1.0, 2.0, 3.0, 6.0])
    assert target.link_ == "log" and target.scale_ == 3.0
    np.testing.assert_allclose(target.transform([3.0, 6.0]), [1.0, 2.0])
    np.testing.assert_allclose(target.inverse_transform(np.asarray([0.5])), [1.5])
    assert ScaledTarget("linear").fit([1.0, 2.0]).link_ == "identity"
    with pytest.raises(ValueError, match="log-link target needs values ≥ 0"):
        ScaledTarget("loglink").fit([-1.0, 2.0])


def test_log_link_network_has_an_exp_head_and_positive_predictions(tmp_path):
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    rng = np.random.default_rng(5)
    n = 1500
    frame = pd.DataFrame({"shop": rng.choice(["a", "b", "c"], n), "size": rng.uniform(0.2, 3.0, n)})
    frame["price"] = np.exp(1.5 * np.log(frame["size"]) + (frame["shop"] == "a") * 0.7 + rng.normal(0, 0.1, n)) * 100
    spec = FeatureSpec(target="price", task="regression", categorical=["shop"], numeric=["size"])
    config = TrainConfig(**{**FAST, "target_scale": "loglink"})
    run = train(frame, spec, config, name="loglink", out=tmp_path, log=lambda _: None, verbose=0)
    assert run.manifest["target"]["link"] == "log"
    bundle = load_bundle(run.path.parent, int(run.path.name))
    assert bundle.graph.layers[-1]["activation"] == "exponential"
    batch = bundle.encoder.transform(frame)
    predicted = bundle.target.values(bundle.graph(batch.categorical, batch.numeric))
    assert predicted.min() > 0
    # the multiplicative shape is learned: far better than predicting the mean
    rmse = float(np.sqrt(np.mean((predicted - frame["price"]) ** 2)))
    assert rmse < 0.5 * float(frame["price"].std())
    from training.export.onnx import export_model  # the exp head and the log link exported through the gate

    assert max(export_model(bundle).differences.values()) <= 1e-5


def test_embed_features_stay_the_encoded_inputs_without_the_expansion(expanded_run):
    # POST /embed and EmbeddingFeatures name one column per embedding dimension and numeric input:
    # the ramps are the network's business, not part of the features handed to another model
    from features.embedding_features import EmbeddingFeatures

    transformer = EmbeddingFeatures(expanded_run.path.parent, numeric=True).fit()
    rows = transformer.transform(expanded_run.valid.head(5))
    assert rows.shape[1] == len(transformer.get_feature_names_out())
    bundle = load_bundle(expanded_run.path.parent, int(expanded_run.path.name))
    assert rows.shape[1] + bundle.graph.expansion.added_width == bundle.graph.input_width


def test_periodic_bundle_serves_what_keras_computes(artifact_root):
    from tests.conftest import _train

    run = _train(artifact_root, "regression", "periodic", numeric_encoding="plr", plr_frequencies=6, plr_dims=4)
    assert run.manifest["training"]["plr_features"] == ["x", "noise"]
    assert run.manifest["graph"]["numeric_expansion"] == "periodic"
    bundle = load_bundle(run.path.parent, int(run.path.name))
    np.testing.assert_array_equal(bundle.graph.expansion.periodic.columns, bundle.encoder.numeric_.score_columns())
    assert bundle.graph.expansion.added_width == 2 * 4
    layer = run.model.get_layer("periodic_embedding")
    assert layer.count_params() == 2 * 6 + 2 * 12 * 4 + 2 * 4  # frequencies, linear maps, biases: all trained
    batch = bundle.encoder.transform(run.valid.head(40))
    expected = run.model.predict(batch.model_inputs(), verbose=0)
    np.testing.assert_allclose(bundle.graph(batch.categorical, batch.numeric), expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        bundle.graph.one([int(c[0]) for c in batch.categorical], batch.numeric[0]), expected[:1], atol=1e-5, rtol=0
    )
    from training.export.onnx import export_model  # catembed export holds the periodic embeddings to the same graph

    assert max(export_model(bundle).differences.values()) <= 1e-5


@pytest.mark.parametrize(
    ("field", "value"),
    [("plr_frequencies", 0), ("plr_dims", 2.5), ("plr_dims", True), ("plr_sigma", 0.0), ("plr_sigma", float("nan"))],
)
def test_periodic_settings_out_of_range_are_refused(field, value):
    from features.errors import DataError
    from training.loop.config import TrainConfig

    with pytest.raises(DataError, match=field) as refused:
        TrainConfig(numeric_encoding="plr", **{field: value})
    assert refused.value.field == field


def test_cli_refuses_a_bad_sigma_in_one_line(capsys, tmp_path):
    from cli.main import main
    from tests.synthetic import planted_frame

    data = tmp_path / "t.csv"
    planted_frame(200).to_csv(data, index=False)
    args = ["train", "--data", str(data), "--target", "label", "--out", str(tmp_path / "o"), "--name", "m"]
    code = main([*args, "--numeric-encoding", "plr", "--plr-sigma", "-1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "plr_sigma" in err and "-1" in err
    assert len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "o").rglob("manifest.json"))


def test_auto_gives_small_tables_periodic_embeddings_and_records_it(binary_run):
    from training.loop.auto import PERIODIC_ROWS, resolve_auto
    from training.loop.config import TrainConfig, seed_config

    def encoding(config, rows):
        return resolve_auto(config, "binary", rows).encoding.numeric_encoding

    assert encoding(TrainConfig(), PERIODIC_ROWS - 1) == "auto+plr"
    assert encoding(TrainConfig(), PERIODIC_ROWS) == "auto"
    for chosen in ("none", "ple", "plr"):  # a choice the user made stays theirs
        assert encoding(TrainConfig(numeric_encoding=chosen), 100) == chosen
    assert encoding(seed_config(), 100) == "none"  # the write-up's network is unchanged
    # the session's default-config bundle (a small table): the manifest records what was built
    assert binary_run.manifest["training"]["config"]["numeric_encoding"] == "auto+plr"
    assert binary_run.manifest["training"]["plr_features"] == ["x", "noise"]
    bundle = load_bundle(binary_run.path.parent, int(binary_run.path.name))
    assert bundle.graph.expansion is not None and bundle.graph.expansion.periodic is not None
