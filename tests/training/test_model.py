import keras
import pytest

from training.loop.config import seed_config
from training.model.network import build_model, embedding_size, input_names

# the write-up's model.summary(): embedding params 60, 15, 20, 10, 10, 10, 15, 60, 20 at width 5
SEED_TABLE_ROWS = [12, 3, 4, 2, 2, 2, 3, 12, 4]


def test_seed_network_is_reproduced_exactly():
    vocab = {f"f{i}": n for i, n in enumerate(SEED_TABLE_ROWS, start=1)}
    config = seed_config()
    model = build_model(vocab, {f: config.network.embedding_dim for f in vocab}, 7, "binary", 2, config)
    assert model.count_params() == 16_534
    embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    assert [layer.count_params() for layer in embeddings] == [60, 15, 20, 10, 10, 10, 15, 60, 20]
    assert model.get_layer("concatenate").output.shape[-1] == 52
    stack = [layer for layer in model.layers if isinstance(layer, (keras.layers.Dense, keras.layers.Dropout))]
    described = [(type(layer).__name__, getattr(layer, "units", None) or getattr(layer, "rate", None)) for layer in stack]
    assert described == [("Dense", 88), ("Dropout", 0.2), ("Dense", 128), ("Dense", 2)]
    assert [layer.count_params() for layer in stack] == [4664, 0, 11392, 258]
    assert stack[0].kernel_regularizer.l2 == pytest.approx(0.05) and stack[2].kernel_regularizer.l2 == pytest.approx(0.05)
    assert stack[-1].activation.__name__ == "softmax" and stack[0].activation.__name__ == "relu"
    assert len(model.inputs) == 10 and model.inputs[-1].shape[-1] == 7


def test_one_input_and_named_embedding_per_feature():
    config = seed_config()
    model = build_model({"carrier": 10, "dest code": 20}, {"carrier": 3, "dest code": 4}, 0, "regression", 1, config)
    assert [t.name for t in model.inputs] == ["carrier", "dest_code"]
    assert model.get_layer("embedding_carrier").output.shape[-1] == 3
    assert model.get_layer("embedding_dest_code").input_dim == 20
    assert model.get_layer("head").activation.__name__ == "linear"


def test_input_names_are_unique_and_keras_safe():
    assert input_names(["a b", "a/b", "numeric"]) == ["a_b", "a_b_", "numeric_"]


@pytest.mark.parametrize(("n", "fastai"), [(2, 2), (12, 6), (100, 21), (4000, 166), (10**7, 600)])
def test_embedding_size_rule(n, fastai):
    assert embedding_size(n) == fastai


def test_the_default_network_widens_with_the_training_rows(tmp_path):
    from features.artifacts import load_bundle
    from features.schema import FeatureSpec
    from tests.synthetic import planted_frame
    from training.loop.auto import WIDE_ROWS, auto_hidden_units, resolve_auto
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    assert auto_hidden_units(WIDE_ROWS - 1) == (256, 128) and auto_hidden_units(WIDE_ROWS) == (512, 256)
    chosen = TrainConfig().with_overrides(hidden_units=(64,))
    assert resolve_auto(chosen, "binary", 10 * WIDE_ROWS).network.hidden_units == (64,)  # --hidden wins
    assert resolve_auto(seed_config(), "binary", 10 * WIDE_ROWS).network.hidden_units == (88, 128)
    with pytest.raises(TypeError, match="concrete hidden_units"):  # an unresolved config never builds a network silently
        build_model({"a": 3}, {"a": 2}, 0, "regression", 1, TrainConfig())
    spec = FeatureSpec(target="label", task="binary", categorical=["color", "city", "size"], numeric=["x", "noise"])
    built = {}
    for rows in (3_000, WIDE_ROWS * 5 // 4):  # 80 % of the rows train: 2,400 and exactly WIDE_ROWS
        result = train(
            planted_frame(rows), spec, TrainConfig(epochs=1), name=f"m{rows}", out=tmp_path, log=lambda _: None, verbose=0
        )
        manifest = load_bundle(result.path.parent).manifest
        assert manifest["training"]["rows"]["train"] == rows * 4 // 5
        built[rows] = (manifest["training"]["config"]["hidden_units"], result.model.get_layer("dense_1").units)
    assert built == {3_000: ([256, 128], 256), WIDE_ROWS * 5 // 4: ([512, 256], 512)}


def test_the_demo_keeps_the_network_its_latency_targets_were_measured_on(demo_run, tmp_path):
    """32,000 demo training rows would get 512-256 by the row rule; --demo pins 256-128 (not the seed preset's)."""
    from cli.main import main
    from features.artifacts import load_bundle

    manifest = load_bundle(demo_run.path.parent).manifest  # catembed train --demo --epochs 1
    assert manifest["training"]["rows"]["train"] >= 20_000  # the rule alone would have widened it
    assert manifest["training"]["config"]["hidden_units"] == [256, 128]
    assert main(["train", "--demo", "--epochs", "1", "--architecture", "seed", "--out", str(tmp_path)]) == 0
    assert load_bundle(tmp_path / "flights").manifest["training"]["config"]["hidden_units"] == [88, 128]
