"""The shrinkage prior on the batch's rows (training/model/batch_penalty.py): an epoch of it is
the whole-table penalty of every step, and the table's gradient reaches only the batch's rows."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from training.model.shrunk_embedding import DeviationL2, ShrunkEmbedding

COUNTS = [60, 25, 9, 5, 1]  # training rows of values 1..5
UNKNOWN_ROWS = 20  # rows whose value folded into row 0 (rare, missing)
ROWS = sum(COUNTS) + UNKNOWN_ROWS  # 120
L2 = 1e-3


def layer(rows: int | None) -> ShrunkEmbedding:
    keras.utils.set_random_seed(3)
    embedding = ShrunkEmbedding(COUNTS, 4, k=10.0, l2=L2, rows=rows)
    embedding.build((None, 1))
    embedding.embeddings.assign(np.random.default_rng(0).normal(size=(len(COUNTS) + 1, 4)).astype(np.float32))
    return embedding


def batch_loss(embedding: ShrunkEmbedding, index: np.ndarray) -> float:
    embedding(index.reshape(-1, 1), training=True)
    return float(sum(keras.ops.convert_to_numpy(x) for x in embedding.losses))


def epoch_rows(seed: int) -> np.ndarray:
    rows = np.concatenate([np.repeat(np.arange(1, len(COUNTS) + 1), COUNTS), np.zeros(UNKNOWN_ROWS, int)])
    return np.random.default_rng(seed).permutation(rows)


def test_an_epoch_of_batch_penalties_is_the_whole_table_penalty_of_every_step():
    embedding = layer(ROWS)
    whole_table = float(DeviationL2(L2)(embedding.embeddings))  # today's penalty, added every step
    for batch in (8, 24, 120):
        steps = ROWS // batch
        for seed in range(3):  # any order of the rows: each row is in exactly one batch
            total = sum(batch_loss(embedding, part) for part in np.split(epoch_rows(seed), steps))
            np.testing.assert_allclose(total, steps * whole_table, rtol=1e-5)
    single = batch_loss(embedding, np.array([2, 2, 0]))  # one step: value 2's weight N / n_2, twice, over 3 rows
    d2 = embedding.embeddings.numpy()[2]
    np.testing.assert_allclose(single, L2 * (2 * ROWS / COUNTS[1] * float(d2 @ d2)) / 3, rtol=1e-5)


def test_a_random_batch_has_the_whole_table_penalty_in_expectation():
    embedding = layer(ROWS)
    whole_table = float(DeviationL2(L2)(embedding.embeddings))
    rng = np.random.default_rng(1)
    data = epoch_rows(0)
    # the mean of 400 random batches of 32 rows is the penalty of their 12,800 rows in one call
    draws = batch_loss(embedding, rng.choice(data, 400 * 32))
    assert abs(draws / whole_table - 1) < 0.1  # a few % of noise


def test_the_table_gradient_touches_only_the_batch_rows():
    embedding = layer(ROWS)
    index = np.array([[3], [3], [1]])
    with tf.GradientTape() as tape:
        output = embedding(index, training=True)
        loss = tf.reduce_sum(output) + tf.add_n(embedding.losses)
    gradient = tape.gradient(loss, embedding.embeddings.value)
    assert isinstance(gradient, tf.IndexedSlices)
    assert set(gradient.indices.numpy().tolist()) == {0, 1, 3}  # the batch's values and e_0
    legacy = layer(None)  # a model saved before: the whole-table prior, whose gradient is dense
    with tf.GradientTape() as tape:
        output = legacy(index, training=True)
        loss = tf.reduce_sum(output) + tf.add_n(legacy.losses)
    dense = tf.convert_to_tensor(tape.gradient(loss, legacy.embeddings.value))
    assert np.count_nonzero(np.abs(dense.numpy()).sum(axis=1)) == len(COUNTS) + 1
