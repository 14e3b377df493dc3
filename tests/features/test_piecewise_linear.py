"""The piecewise-linear expansion: equal-mass normal bins, ramps that rebuild the value, and the
same numbers from the Keras layer the network trains with and the NumPy op the service runs."""

from statistics import NormalDist

import numpy as np
import pytest

from features.graph import InferenceGraph
from features.piecewise_linear import SCORE_LIMIT, NumericExpansion, encode, normal_edges


@pytest.mark.parametrize("bins", [2, 8, 16])
def test_edges_split_the_normal_into_equal_mass_bins(bins):
    edges = normal_edges(bins)
    assert len(edges) == bins + 1 and np.all(np.diff(edges) > 0)
    mass = np.diff([NormalDist().cdf(float(e)) for e in edges])
    np.testing.assert_allclose(mass[1:-1], 1 / bins, rtol=1e-5)  # outer bins stop at ±3.09, the score range
    assert edges[0] == pytest.approx(-SCORE_LIMIT) and edges[-1] == pytest.approx(SCORE_LIMIT)


def test_one_bin_is_refused():
    with pytest.raises(ValueError, match="at least 2 bins"):
        normal_edges(1)


def test_ramps_rebuild_the_value_and_fill_from_the_left():
    edges = normal_edges(8)
    x = np.linspace(-5, 5, 401, dtype=np.float32).reshape(-1, 1)
    ramps = encode(x, edges)
    assert ramps.shape == (401, 8) and ramps.min() == 0.0 and ramps.max() == 1.0
    # the value is the first edge plus each bin's width times its ramp (inside the score range)
    rebuilt = edges[0] + ramps @ np.diff(edges)
    np.testing.assert_allclose(rebuilt, np.clip(x[:, 0], edges[0], edges[-1]), atol=1e-5)
    # thermometer order: a bin is only partly filled once every bin to its left is full
    assert np.all(np.diff(ramps, axis=1) <= 0)


def test_expansion_keeps_the_input_and_appends_the_chosen_columns():
    expansion = NumericExpansion(np.asarray([2, 0]), normal_edges(4))
    numeric = np.asarray([[0.5, 9.0, -1.0], [3.5, -9.0, 0.0]], dtype=np.float32)
    out = expansion(numeric)
    assert out.shape == (2, 3 + expansion.added_width) and expansion.added_width == 8
    np.testing.assert_array_equal(out[:, :3], numeric)
    np.testing.assert_array_equal(out[:, 3:7], encode(numeric[:, [2]], expansion.edges))
    np.testing.assert_array_equal(out[:, 7:], encode(numeric[:, [0]], expansion.edges))


def test_keras_layer_equals_the_numpy_op():
    from training.model.numeric_embedding import PiecewiseLinearExpansion

    rng = np.random.default_rng(3)
    numeric = np.concatenate([rng.normal(size=(500, 4)), rng.uniform(-6, 6, size=(500, 4))]).astype(np.float32)
    layer = PiecewiseLinearExpansion([1, 3], 16)
    got = np.asarray(layer(numeric))
    np.testing.assert_allclose(got, layer.expansion()(numeric), atol=1e-6, rtol=0)
    assert layer.compute_output_shape((None, 4)) == (None, 4 + 2 * 16)
    assert PiecewiseLinearExpansion.from_config(layer.get_config()).columns == [1, 3]


def test_graph_with_an_expansion_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    expansion = NumericExpansion(np.asarray([1]), normal_edges(4))
    layers = [
        {
            "op": "dense",
            "activation": "relu",
            "kernel": rng.normal(size=(3 + 2 + 4, 5)).astype(np.float32),
            "bias": np.zeros(5, np.float32),
        }
    ]
    graph = InferenceGraph([rng.normal(size=(6, 3)).astype(np.float32)], layers, 2, expansion)
    assert graph.input_width == 9
    description = graph.save(tmp_path / "graph.npz")
    loaded = InferenceGraph.load(tmp_path / "graph.npz", description)
    codes, numeric = [np.asarray([1, 5], np.int32)], rng.normal(size=(2, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded(codes, numeric), graph(codes, numeric))
    np.testing.assert_array_equal(loaded.one([5], numeric[1]), graph(codes, numeric)[1:])
    with pytest.raises(ValueError, match="unsupported numeric expansion"):
        InferenceGraph.load(tmp_path / "graph.npz", {**description, "numeric_expansion": "splines"})
