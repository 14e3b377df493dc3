"""The NumPy forward pass the service runs must equal the Keras model it was exported from."""

import numpy as np
import pytest

from features.artifacts import load_bundle
from features.graph import InferenceGraph


def test_numpy_graph_matches_keras_on_holdout(any_run):
    bundle = load_bundle(any_run.path.parent, int(any_run.path.name))
    inputs = bundle.encoder.transform(any_run.valid).model_inputs()
    expected = any_run.model.predict(inputs, verbose=0)
    batch = bundle.encoder.transform(any_run.valid)
    got = bundle.graph(batch.categorical, batch.numeric)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert any_run.manifest["parity"]["max_abs_diff"] <= 1e-5


def test_embedding_tables_are_the_keras_weights(binary_run):
    bundle = load_bundle(binary_run.path.parent)
    for name, table in zip(bundle.encoder.categorical, bundle.graph.embeddings, strict=True):
        np.testing.assert_array_equal(table, binary_run.model.get_layer(f"embedding_{name}").get_weights()[0])


def test_unsupported_op_is_refused():
    with pytest.raises(ValueError, match="unsupported activation"):
        InferenceGraph([np.zeros((2, 2))], [{"op": "activation", "activation": "mish"}], 0)
