"""Periodic numeric embeddings (PLR): the NumPy op the service runs computes what the Keras layer
trains, survives a bundle's save and load, and stacks for an ensemble; bad weights are refused."""

import numpy as np
import pytest

from features.graph import InferenceGraph
from features.periodic import PeriodicExpansion


def _expansion(rng, columns, frequencies=3, dims=2):
    c = len(columns)
    return PeriodicExpansion(
        np.asarray(columns),
        rng.normal(0, 2, size=(c, frequencies)).astype(np.float32),
        rng.normal(size=(c, 2 * frequencies, dims)).astype(np.float32),
        rng.normal(size=(c, dims)).astype(np.float32),
    )


def test_numpy_op_is_the_formula_feature_by_feature():
    rng = np.random.default_rng(0)
    expansion = _expansion(rng, [2, 0])
    numeric = rng.normal(size=(5, 3)).astype(np.float32)
    out = expansion(numeric)
    assert out.shape == (5, 3 + 2 * 2) and expansion.added_width == 4
    np.testing.assert_array_equal(out[:, :3], numeric)
    for j, column in enumerate([2, 0]):
        angles = numeric[:, [column]] * expansion.angular[j]
        waves = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
        expected = np.maximum(waves @ expansion.kernel[j] + expansion.bias[j], 0)
        np.testing.assert_allclose(out[:, 3 + 2 * j : 5 + 2 * j], expected, atol=1e-6, rtol=0)
    assert (out[:, 3:] == 0).any() and (out[:, 3:] > 0).any()  # the ReLU cuts, and passes


def test_keras_layer_equals_the_numpy_op_after_training_moves_its_weights():
    import keras

    from training.model.numeric_embedding import PeriodicEmbedding

    rng = np.random.default_rng(3)
    numeric = np.concatenate([rng.normal(size=(400, 4)), rng.uniform(-3.1, 3.1, size=(400, 4))]).astype(np.float32)
    layer = PeriodicEmbedding([1, 3], frequencies=8, dims=5, sigma=1.0, seed=4)
    before = np.asarray(layer(numeric))
    np.testing.assert_allclose(before, layer.expansion()(numeric), atol=1e-5, rtol=0)
    # train the frequencies away from their start: the export must follow the weights, not the init
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    target = np.sin(3 * numeric[:, 1:2]) * (numeric[:, 3:4] > 0)
    model.fit(numeric, target, epochs=3, batch_size=64, verbose=0)
    after = np.asarray(layer(numeric))
    assert np.abs(after - before).max() > 1e-2
    np.testing.assert_allclose(after, layer.expansion()(numeric), atol=1e-5, rtol=0)
    assert layer.count_params() == 2 * 8 + 2 * 16 * 5 + 2 * 5
    assert layer.compute_output_shape((None, 4)) == (None, 4 + 2 * 5)
    assert PeriodicEmbedding.from_config(layer.get_config()).get_config()["sigma"] == 1.0


def test_graph_with_periodic_expansion_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(1)
    expansion = _expansion(rng, [1])
    layers = [
        {
            "op": "dense",
            "activation": "relu",
            "kernel": rng.normal(size=(3 + 2 + 2, 4)).astype(np.float32),
            "bias": np.zeros(4, np.float32),
        }
    ]
    graph = InferenceGraph([rng.normal(size=(6, 3)).astype(np.float32)], layers, 2, expansion)
    assert graph.input_width == 7
    description = graph.save(tmp_path / "graph.npz")
    assert description["numeric_expansion"] == "periodic"
    loaded = InferenceGraph.load(tmp_path / "graph.npz", description)
    codes, numeric = [np.asarray([1, 5, 0], np.int32)], rng.normal(size=(3, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded(codes, numeric), graph(codes, numeric))
    np.testing.assert_array_equal(loaded.one([5], numeric[1]), graph(codes, numeric)[1:2])


def test_stacked_members_are_each_members_embeddings_side_by_side():
    rng = np.random.default_rng(2)
    members = [_expansion(rng, [0, 1]) for _ in range(3)]
    numeric = rng.normal(size=(4, 2)).astype(np.float32)
    stacked = PeriodicExpansion.stacked(members)
    assert stacked.added_width == 3 * members[0].added_width
    np.testing.assert_array_equal(stacked.embed(numeric), np.hstack([m.embed(numeric) for m in members]))


def test_weights_that_do_not_fit_are_refused():
    rng = np.random.default_rng(4)
    good = _expansion(rng, [0, 1])
    with pytest.raises(ValueError, match="do not fit 2 features × 3 frequencies"):
        PeriodicExpansion(good.columns, good.angular, good.kernel[:, :4], good.bias)
    with pytest.raises(ValueError, match="3 columns for 2 features"):
        PeriodicExpansion(np.asarray([0, 1, 2]), good.angular, good.kernel, good.bias)


def test_staircase_columns_start_with_sharper_frequencies():
    """auto+plr starts the staircase features' frequencies at plr_step_sigma: the same draws
    as the others', rescaled, so the smooth features start exactly as under plr alone."""
    from training.model.numeric_embedding import PeriodicEmbedding

    numeric = np.zeros((2, 5), np.float32)
    plain = PeriodicEmbedding([0, 2, 4], frequencies=64, dims=2, sigma=0.1, seed=7)
    sharp = PeriodicEmbedding([0, 2, 4], frequencies=64, dims=2, sigma=0.1, seed=7, sharp=[2], sharp_sigma=1.0)
    plain(numeric), sharp(numeric)
    before, after = np.asarray(plain.coefficients), np.asarray(sharp.coefficients)
    np.testing.assert_array_equal(after[[0, 2]], before[[0, 2]])
    np.testing.assert_allclose(after[1], 10 * before[1], rtol=1e-6)
    assert 0.05 < before.std() < 0.2 and 0.5 < after[1].std() < 2.0
    restored = PeriodicEmbedding.from_config(sharp.get_config())
    assert restored.sharp == [2] and restored.sharp_sigma == 1.0
