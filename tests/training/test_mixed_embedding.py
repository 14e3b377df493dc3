"""Widths that follow frequency (training/model/mixed_embedding.py): the tiers stay within the
budget and give every value its own vector, the layer trains row-sparse, and it exports to a
plain table that the NumPy graph serves within the parity gate."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from features.graph import InferenceGraph
from training.export.graph import check_parity, to_graph
from training.model.mixed_embedding import MIN_WIDTH, MixedEmbedding, mixed_widths, tier_order

ZIPF = [int(5 + 20_000 / r**1.1) for r in range(1, 3001)]  # 3,000 values seen 5 to 20,005 times


def test_a_table_that_fits_the_budget_stays_plain():
    assert mixed_widths([10] * 99, 8, budget=800) is None  # 100 rows × 8 = 800


@pytest.mark.parametrize("budget", [20_000, 60_000, 150_000])
def test_tiers_fit_the_budget_and_frequent_values_are_wider(budget):
    widths, sizes = mixed_widths(ZIPF, 64, budget)
    assert widths[0] == 64 and widths == sorted(widths, reverse=True) and min(widths) >= MIN_WIDTH
    assert sum(sizes) == len(ZIPF)  # every value keeps a vector of its own
    rows = (sizes[0] + 1) * widths[0] + sum(n * w for n, w in zip(sizes[1:], widths[1:], strict=True))
    assert rows + sum(w * 64 for w in widths[1:]) <= budget < (len(ZIPF) + 1) * 64
    assert len(widths) > 1 and sizes[0] < len(ZIPF)
    layer = MixedEmbedding(ZIPF, 64, widths, sizes, k=10.0)
    width_of = {value: widths[layer._tier[value]] for value in tier_order(ZIPF)}
    assert width_of[1] == 64 and width_of[len(ZIPF)] == min(widths)  # value 1 is the most frequent


def test_a_budget_below_the_narrowest_tables_gives_every_value_the_narrowest_width():
    widths, sizes = mixed_widths(ZIPF, 64, budget=1_000)
    assert sizes[0] == 1 and widths[-1] == MIN_WIDTH and sizes[-1] == len(ZIPF) - 1


def mixed_model(counts: list[int]) -> keras.Model:
    widths, sizes = mixed_widths(counts, 16, budget=1_200)
    keras.utils.set_random_seed(0)
    shop = keras.Input((1,), dtype="int32", name="shop")
    numeric = keras.Input((2,), name="numeric")
    layer = MixedEmbedding(counts, 16, widths, sizes, k=5.0, l2=1e-3, rows=sum(counts) + 50, name="embedding_shop")
    x = keras.layers.Concatenate()([keras.layers.Flatten()(layer(shop)), numeric])
    output = keras.layers.Dense(1, name="head")(keras.layers.Dense(8, activation="relu", name="dense_1")(x))
    return keras.Model([shop, numeric], output)


def test_training_touches_only_the_batch_rows_of_each_tier():
    counts = [int(5 + 400 / r) for r in range(1, 201)]
    model = mixed_model(counts)
    layer = model.get_layer("embedding_shop")
    assert len(layer.tables) > 1
    index = np.array([[1], [1], [150], [200]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model([index, np.zeros((4, 2), np.float32)], training=True)) + tf.add_n(model.losses)
    gradients = tape.gradient(loss, [t.value for t in layer.tables])
    touched = {int(layer._tier[i]): set() for i in (0, 1, 150, 200)}
    for i in (0, 1, 150, 200):
        touched[int(layer._tier[i])].add(int(layer._position[i]))
    for t, gradient in enumerate(gradients):
        assert isinstance(gradient, tf.IndexedSlices)  # a tier the batch missed: no rows at all
        assert set(gradient.indices.numpy().tolist()) == touched.get(t, set())


def test_the_export_is_a_plain_table_served_within_the_parity_gate():
    counts = [int(5 + 400 / r) for r in range(1, 201)]
    model = mixed_model(counts)
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    shops = rng.integers(0, 201, (512, 1))
    numeric = rng.normal(size=(512, 2)).astype(np.float32)
    model.fit([shops, numeric], rng.normal(size=(512, 1)), epochs=2, batch_size=64, verbose=0)
    layer = model.get_layer("embedding_shop")
    table = layer.table()
    assert table.shape == (201, 16) and layer.parameters() <= 1_200 + 16  # +e_0's row
    vectors = np.asarray(layer(np.arange(201).reshape(-1, 1)))[:, 0]
    np.testing.assert_allclose(table, vectors, atol=1e-6)  # one D-wide vector per value, as served
    graph = to_graph(model, ["embedding_shop"], 2)
    assert isinstance(graph, InferenceGraph)
    assert check_parity(model, graph, [shops, numeric], 1) <= 1e-5
    saved = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert saved.get_config() == layer.get_config()
