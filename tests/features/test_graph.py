"""The NumPy forward pass the service runs must equal the Keras model it was exported from."""

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from features import row_blocks
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


def _random_inputs(graph: InferenceGraph, n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray | None]:
    rng = np.random.default_rng(seed)
    codes = [rng.integers(0, len(table), n).astype(np.int32) for table in graph.embeddings]
    numeric = rng.normal(size=(n, graph.numeric_width)).astype(np.float32) if graph.numeric_width else None
    return codes, numeric


def _rows(codes: list[np.ndarray], numeric: np.ndarray | None, part: slice) -> tuple[list[np.ndarray], np.ndarray | None]:
    return [c[part] for c in codes], None if numeric is None else numeric[part]


def _assert_batch_invariant(graph: InferenceGraph, n: int = 10_000) -> None:
    """A row's output, bit for bit: alone (the single-record path and a one-row batch), inside
    10,000 rows, and inside batches of 1,025 cut at other places (other chunks, other positions
    in the row blocks, other neighbours)."""
    codes, numeric = _random_inputs(graph, n, seed=31)
    whole = graph(codes, numeric)
    assert whole.shape[0] == n
    for first in (0, 3):
        cut = [graph(*_rows(codes, numeric, slice(s, s + 1025))) for s in range(first, n, 1025)]
        np.testing.assert_array_equal(np.concatenate(cut), whole[first:])
    picked = [i for i in (0, 1, 7, 8, 9, 1023, 1024, 1025, 5000) if i < n] + [n - 1]
    alone = [graph.one([int(c[i]) for c in codes], None if numeric is None else numeric[i]) for i in picked]
    np.testing.assert_array_equal(np.concatenate(alone), whole[picked])
    one_row_batches = [graph(*_rows(codes, numeric, slice(i, i + 1))) for i in picked]
    np.testing.assert_array_equal(np.concatenate(one_row_batches), whole[picked])


def test_a_rows_answer_does_not_depend_on_its_batch(any_run):
    # issue 31: with OpenBLAS' Haswell kernels a row's last bit changed with the product's height
    _assert_batch_invariant(load_bundle(any_run.path.parent, int(any_run.path.name)).graph)


def test_a_blas_that_rounds_rows_by_position_gets_one_row_products(binary_run, monkeypatch):
    """Where the build-time check finds a BLAS that computes the rows of a block differently,
    the graph multiplies row by row: slower, and invariant by construction."""
    graph = load_bundle(binary_run.path.parent, int(binary_run.path.name)).graph
    monkeypatch.setattr(row_blocks, "row_stable", lambda *_: False)
    fallback = InferenceGraph(graph.embeddings, graph.layers, graph.numeric_width, graph.expansion)
    assert fallback.block_rows == 1
    _assert_batch_invariant(fallback, n=2_100)


def test_the_answer_does_not_depend_on_blas_threads_and_the_setting_is_restored(binary_run):
    graph = load_bundle(binary_run.path.parent, int(binary_run.path.name)).graph
    codes, numeric = _random_inputs(graph, 3000, seed=5)
    blas = ThreadpoolController().select(user_api="blas")
    with blas.limit(limits=1):
        single = graph(codes, numeric)
    with blas.limit(limits=2):
        # a BLAS started with one thread (OPENBLAS_NUM_THREADS=1, one CPU) cannot be raised to 2
        before = {lib["num_threads"] for lib in blas.info()}
        np.testing.assert_array_equal(graph(codes, numeric), single)
        assert {lib["num_threads"] for lib in blas.info()} == before  # the graph's own limit lasted its call only


def test_the_row_block_check_finds_a_position_dependent_product(monkeypatch):
    """row_stable must be able to fail: a product whose rows are summed in another order by
    position (here: the second half of each block in float64) is caught."""
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((64, 16)).astype(np.float32)
    assert row_blocks.row_stable(kernel, row_blocks.BLOCK_ROWS, rng)
    honest = row_blocks.matmul

    def by_position(x, k, block):
        y = honest(x, k, block)
        half = x.reshape(-1, block, x.shape[-1])[:, block // 2 :].astype(np.float64) @ k.astype(np.float64)
        y.reshape(-1, block, k.shape[-1])[:, block // 2 :] = half.astype(np.float32)
        return y

    monkeypatch.setattr(row_blocks, "matmul", by_position)
    assert not row_blocks.row_stable(kernel, row_blocks.BLOCK_ROWS, rng)
