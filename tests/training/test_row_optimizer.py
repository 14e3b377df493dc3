"""The row-sparse table optimizers against dense references on a tiny table: the same result
where the dense one is exact, untouched rows never written, and the lazy weight average equal
to Keras' dense EMA of the same weights (training/loop/row_optimizer.py, lazy_average.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.loop.lazy_average import AverageSwap, averaged_weights
from training.loop.row_optimizer import LazyAdam, RowwiseAdagrad, unique_rows
from training.loop.table_optimizer import TableOptimizer, network_optimizer

ROWS, WIDTH = 7, 3


def slices(rng: np.random.Generator, rows: np.ndarray) -> tf.IndexedSlices:
    """A gradient for ``rows`` (repeats allowed, as a batch has them), as a gather makes it."""
    values = rng.normal(size=(len(rows), WIDTH)).astype(np.float32)
    return tf.IndexedSlices(tf.constant(values), tf.constant(rows, tf.int64), tf.constant([ROWS, WIDTH], tf.int64))


def table(seed: int = 0) -> keras.Variable:
    start = np.random.default_rng(seed).normal(size=(ROWS, WIDTH)).astype(np.float32)
    return keras.Variable(start, name="embeddings")


def test_duplicate_rows_are_summed_before_the_update():
    gradient = tf.IndexedSlices(tf.constant([[1.0], [2.0], [4.0]]), tf.constant([3, 1, 3]), tf.constant([5, 1]))
    rows, values = unique_rows(gradient, 5)
    assert dict(zip(rows.numpy().tolist(), values.numpy()[:, 0].tolist(), strict=True)) == {3: 5.0, 1: 2.0}


@pytest.mark.parametrize("correction", ["global", "row"])
def test_lazy_adam_is_adam_when_every_row_is_touched_every_step(correction):
    rng = np.random.default_rng(1)
    lazy, dense = table(), table()
    lazy_adam = LazyAdam(0.05, bias_correction=correction, use_ema=True, ema_momentum=0.8)
    adam = keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.8)
    for _ in range(12):
        rows = np.concatenate([np.arange(ROWS), rng.integers(0, ROWS, 5)])  # all rows, some twice
        gradient = slices(rng, rows)
        lazy_adam.apply([gradient], [lazy])
        adam.apply([tf.convert_to_tensor(gradient)], [dense])  # the dense sum of the same gradient
    np.testing.assert_allclose(lazy.numpy(), dense.numpy(), rtol=1e-5, atol=1e-6)
    lazy_adam.catch_up()
    np.testing.assert_allclose(
        lazy_adam._model_variables_moving_average[0].numpy(), adam._model_variables_moving_average[0].numpy(), atol=1e-6
    )


def test_lazy_adam_reads_and_writes_only_the_batch_rows():
    rng = np.random.default_rng(2)
    weights = table()
    start = weights.numpy()
    optimizer = LazyAdam(0.05, use_ema=True, ema_momentum=0.9)
    for _ in range(5):
        optimizer.apply([slices(rng, np.array([1, 4, 4]))], [weights])
    untouched = [0, 2, 3, 5, 6]
    np.testing.assert_array_equal(weights.numpy()[untouched], start[untouched])
    for state in (optimizer._momentums[0], optimizer._velocities[0], optimizer._model_variables_moving_average[0]):
        assert not state.numpy()[untouched].any()  # never written: zeros, and the average is not even caught up
    assert np.abs(weights.numpy()[[1, 4]] - start[[1, 4]]).min() > 0
    dense = keras.optimizers.Adam(0.05)
    reference = table()
    for _ in range(5):  # Keras' Adam moves the same table's other rows too (its moments never reach zero here)
        dense.apply([tf.convert_to_tensor(slices(rng, np.array([1, 4, 4])))], [reference])
    assert np.array_equal(reference.numpy()[untouched], start[untouched])  # zero gradient, zero moments: no move


def test_rowwise_adagrad_is_adagrad_on_a_one_wide_table_even_with_rows_left_out():
    rng = np.random.default_rng(3)
    start = rng.normal(size=(ROWS, 1)).astype(np.float32)
    sparse, dense = keras.Variable(start), keras.Variable(start)
    rowwise = RowwiseAdagrad(0.1, initial_accumulator_value=0.1)
    adagrad = keras.optimizers.Adagrad(0.1, initial_accumulator_value=0.1)
    for _ in range(10):
        rows = rng.integers(0, ROWS, 4)  # most steps leave rows out
        values = tf.constant(rng.normal(size=(4, 1)).astype(np.float32))
        gradient = tf.IndexedSlices(values, tf.constant(rows, tf.int64), tf.constant([ROWS, 1], tf.int64))
        rowwise.apply([gradient], [sparse])
        adagrad.apply([tf.convert_to_tensor(gradient)], [dense])
    np.testing.assert_allclose(sparse.numpy(), dense.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "optimizer", [LazyAdam(0.1, use_ema=True, ema_momentum=0.7), RowwiseAdagrad(0.3, use_ema=True, ema_momentum=0.7)]
)
def test_the_lazy_average_is_the_dense_average_of_the_same_weights(optimizer):
    """Rows left alone for many steps catch up in closed form, when touched again and when read."""
    rng = np.random.default_rng(4)
    weights = table()
    expected = weights.numpy().copy()
    for step in range(40):
        rows = np.array([0, 0, 2]) if step % 9 else np.array([5, 2, 6])  # rows 1, 3, 4 never; 5 and 6 now and then
        optimizer.apply([slices(rng, rows)], [weights])
        momentum = 0.7 if step else 0.0  # Keras: the first step's average is the weights
        expected = momentum * expected + (1 - momentum) * weights.numpy()
        if step in (17, 18):  # reading mid-way changes nothing that follows
            optimizer.catch_up()
            np.testing.assert_allclose(optimizer._model_variables_moving_average[0].numpy(), expected, atol=1e-6)
    optimizer.catch_up()
    optimizer.catch_up()  # idempotent
    np.testing.assert_allclose(optimizer._model_variables_moving_average[0].numpy(), expected, atol=1e-6)


def small_model() -> keras.Model:
    inputs = keras.Input((1,), dtype="int32")
    vectors = keras.layers.Embedding(40, 3, name="embedding_shop")(inputs)
    output = keras.layers.Dense(1, name="head")(keras.layers.Flatten()(vectors))
    return keras.Model(inputs, output)


class WeightTrail(keras.callbacks.Callback):
    """The dense EMA of the training weights after every step, as Keras' optimizer keeps it."""

    def __init__(self, momentum: float) -> None:
        super().__init__()
        self.momentum, self.average, self.steps = momentum, None, 0

    def on_train_batch_end(self, batch, logs=None):
        weights = [w.numpy() for w in self.model.trainable_weights]
        m = self.momentum if self.steps else 0.0
        self.average = (
            weights if self.average is None else [m * a + (1 - m) * w for a, w in zip(self.average, weights, strict=True)]
        )
        self.steps += 1


def test_fit_routes_tables_to_the_row_optimizer_and_serves_the_dense_average():
    keras.utils.set_random_seed(0)
    model = small_model()
    optimizer = network_optimizer(model, "lazy_adam", 0.02, None, 0.9)
    assert isinstance(optimizer, TableOptimizer)
    model.compile(optimizer=optimizer, loss="mse")
    rng = np.random.default_rng(5)
    x = np.minimum(rng.zipf(1.5, (600, 1)), 39)  # most rows hit a few shops: rows go untouched for many steps
    y = rng.normal(size=(600, 1)).astype(np.float32)
    trail = WeightTrail(0.9)
    model.fit(x, y, batch_size=50, epochs=3, verbose=0, callbacks=[AverageSwap(), trail])
    row, dense = optimizer.optimizers
    assert isinstance(row, LazyAdam) and [v.path for v in row._trainable_variables] == ["embedding_shop/embeddings"]
    assert [v.path for v in dense._trainable_variables] == ["head/kernel", "head/bias"]
    # after fit the model holds the averages (as with Keras' EMA): the tables' equal the dense EMA
    for got, expected in zip(model.trainable_weights, trail.average, strict=True):
        np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)
    for got, expected in zip(averaged_weights(model), trail.average, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-6)
    optimizer.learning_rate = 0.01  # ReduceLROnPlateau's setter reaches every sub-optimizer
    assert [float(o.learning_rate) for o in optimizer.optimizers] == pytest.approx([0.01, 0.01])
