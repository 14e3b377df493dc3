"""The NumPy forward pass the service runs must equal the Keras model it was exported from."""

import numpy as np
import pytest

from features.artifacts import load_bundle
from features.graph import CHUNK_ROWS, InferenceGraph


def test_numpy_graph_matches_keras_on_holdout(any_run):
    bundle = load_bundle(any_run.path.parent, int(any_run.path.name))
    inputs = bundle.encoder.transform(any_run.valid).model_inputs()
    expected = any_run.model.predict(inputs, verbose=0)
    batch = bundle.encoder.transform(any_run.valid)
    got = bundle.graph(batch.categorical, batch.numeric)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert any_run.manifest["parity"]["max_abs_diff"] <= 1e-5


def test_embedding_tables_are_the_keras_tables(binary_run, shrunk_run):
    # a plain Embedding exports its weights; a ShrunkEmbedding the plain table e_0 + s_c·d_c, s_c = n_c / (n_c + k)
    for run in (binary_run, shrunk_run):
        bundle = load_bundle(run.path.parent, int(run.path.name))
        ks = {f["name"]: f["shrinkage"] for f in run.manifest["features"] if f["kind"] == "categorical"}
        for name, table in zip(bundle.encoder.categorical, bundle.graph.embeddings, strict=True):
            weights = run.model.get_layer(f"embedding_{name}").get_weights()[0]
            if not ks[name]:
                np.testing.assert_array_equal(table, weights)
                continue
            counts = np.asarray(bundle.encoder.categorical_[name].counts_, dtype=np.float64)
            np.testing.assert_array_equal(table[0], weights[0])  # row 0 is e_0 itself
            expected = weights[0] + (counts / (counts + ks[name]))[:, None] * weights[1:]
            np.testing.assert_allclose(table[1:], expected, atol=1e-6, rtol=0)
    assert all(f["shrinkage"] > 0 for f in shrunk_run.manifest["features"] if f["kind"] == "categorical")


def test_unsupported_op_is_refused():
    with pytest.raises(ValueError, match="unsupported activation"):
        InferenceGraph([np.zeros((2, 2))], [{"op": "activation", "activation": "mish"}], 0)


@pytest.mark.parametrize("n", [CHUNK_ROWS + 1, 2 * CHUNK_ROWS + 7, 5 * CHUNK_ROWS])
def test_big_batches_run_in_row_blocks_with_the_same_result(any_run, n):
    # the block-by-block pass gives the single pass's output: rows are independent, but BLAS may
    # round a row differently in a matrix of another height (as the old single pass already did
    # for one row sent alone or in a batch), so at most a float32 rounding step apart
    graph = load_bundle(any_run.path.parent, int(any_run.path.name)).graph
    rng = np.random.default_rng(n)
    codes = [rng.integers(0, len(table), n).astype(np.int32) for table in graph.embeddings]
    numeric = rng.normal(size=(n, graph.numeric_width)).astype(np.float32) if graph.numeric_width else None
    whole = graph._forward(codes, numeric)
    assert whole.shape[0] == n
    np.testing.assert_allclose(graph(codes, numeric), whole, rtol=2e-7, atol=1e-7)
