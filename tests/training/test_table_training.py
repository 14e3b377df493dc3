"""The default network trains its embedding tables row-sparse (training/loop/fitting.py,
table_optimizer.py): lazy Adam on the tables with a lazy weight average, Adam on the rest, the
shrinkage prior on the batch's rows only; the seed preset keeps Keras' Adam on everything."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tests.synthetic import planted_frame
from training.loop.config import seed_config
from training.loop.row_optimizer import LazyAdam
from training.loop.table_optimizer import TableOptimizer, network_optimizer
from training.model.network import build_model
from training.model.shrunk_embedding import ShrunkEmbedding

LEARNING_RATE = 0.01


def shrunk_tables(model: keras.Model) -> list[ShrunkEmbedding]:
    return [layer for layer in model.layers if isinstance(layer, ShrunkEmbedding)]


def test_the_default_route_gives_tables_lazy_adam_and_the_batch_penalty(shrunk_run):
    optimizer = shrunk_run.model.optimizer
    assert isinstance(optimizer, TableOptimizer)
    row, dense = optimizer.optimizers
    assert isinstance(row, LazyAdam) and row.use_ema
    assert type(dense) is keras.optimizers.Adam and dense.use_ema
    tables = shrunk_tables(shrunk_run.model)
    assert len(tables) == 3
    assert sorted(v.path for v in row._trainable_variables) == sorted(t.embeddings.path for t in tables)
    train_rows = shrunk_run.manifest["training"]["rows"]["train"]
    for table in tables:  # the prior on the batch's rows, scaled by the training rows; no whole-table regularizer
        assert table.rows == train_rows and table.embeddings.regularizer is None


def test_the_seed_preset_keeps_keras_adam_on_every_weight():
    config = seed_config()
    vocab = {"a": 12, "b": 3}
    model = build_model(vocab, {f: 5 for f in vocab}, 7, "binary", 2, config)
    optimizer = network_optimizer(model, config.fitting.table_optimizer, 1e-3, None, None)
    assert type(optimizer) is keras.optimizers.Adam


def twin(model: keras.Model, kind: str) -> keras.Model:
    """A copy of ``model`` with fresh optimizer state, compiled with ``kind`` for its tables."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.compile(optimizer=network_optimizer(copy, kind, LEARNING_RATE, None, 0.9), loss=model.loss)
    return copy


def dense_adam_step(model: keras.Model, x: list[np.ndarray], y: np.ndarray) -> None:
    """One step of Keras' Adam on the dense sum of the same gradient (its own sparse path squares
    each duplicate row of a batch apart, so it is not Adam on the summed gradient)."""
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(keras.losses.get(model.loss)(y, model(x, training=True))) + sum(model.losses)
    gradients = [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)]
    model.optimizer.apply(gradients, model.trainable_variables)


def touched(inputs: list[np.ndarray], table: int) -> np.ndarray:
    """The table rows a batch reads: its values, and row 0 (e_0, which every vector adds)."""
    return np.union1d(np.unique(inputs[table]), [0])


def test_a_step_writes_only_the_batch_rows_and_matches_adam_on_them(shrunk_run):
    """Two steps: afterwards lazy Adam left every row outside the second batch bit-identical
    (weights, both moments, the averaged copy), where Keras' Adam moved the first batch's rows
    again; on the second batch's rows both give the same weights."""
    frame = planted_frame(400, task="binary", seed=3)
    inputs = shrunk_run.encoder.transform(frame).model_inputs()
    y = shrunk_run.target.transform(frame["label"]).astype("float32").reshape(-1, 1)
    first, second = np.arange(0, 64), np.arange(64, 80)  # a small second batch leaves rows of the first out
    batch = [[x[rows] for x in inputs] for rows in (first, second)]
    lazy, dense = twin(shrunk_run.model, "lazy_adam"), twin(shrunk_run.model, "adam")
    lazy.train_on_batch(batch[0], y[first])
    dense_adam_step(dense, batch[0], y[first])
    tables = [t.embeddings for t in shrunk_tables(lazy)]
    row_optimizer = lazy.optimizer.optimizers[0]
    index = [row_optimizer._get_variable_index(t) for t in tables]
    states = [
        (t, row_optimizer._momentums[i], row_optimizer._velocities[i], row_optimizer._model_variables_moving_average[i])
        for t, i in zip(tables, index, strict=True)
    ]
    before = [[keras.ops.convert_to_numpy(v).copy() for v in group] for group in states]
    dense_before = [keras.ops.convert_to_numpy(t.embeddings).copy() for t in shrunk_tables(dense)]
    lazy.train_on_batch(batch[1], y[second])
    dense_adam_step(dense, batch[1], y[second])
    left_out_somewhere = False
    for k, (group, old, dense_table) in enumerate(zip(states, before, shrunk_tables(dense), strict=True)):
        feature = [i.name for i in lazy.inputs].index(group[0].path.split("/")[0].removeprefix("embedding_"))
        rows = touched(batch[1], feature)
        out = np.setdiff1d(np.arange(group[0].shape[0]), rows)
        for variable, start in zip(group, old, strict=True):  # weights, m, v, the average
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable)[out], start[out])
        assert np.abs(keras.ops.convert_to_numpy(group[0])[rows] - old[0][rows]).max() > 0  # the batch's rows moved
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(group[0])[rows], keras.ops.convert_to_numpy(dense_table.embeddings)[rows], atol=1e-6
        )
        moved_by_adam = np.intersect1d(out, touched(batch[0], feature))
        if len(moved_by_adam):
            left_out_somewhere = True
            dense_now = keras.ops.convert_to_numpy(dense_table.embeddings)[moved_by_adam]
            assert np.abs(dense_now - dense_before[k][moved_by_adam]).min() > 0  # Adam's momentum moved them again
    assert left_out_somewhere  # the second batch left some of the first batch's rows out
