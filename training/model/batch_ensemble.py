"""K networks in the price of one: a batch ensemble that shares every hidden weight (TabM-mini,
Gorishniy et al. 2024, "TabM: Advancing Tabular Deep Learning with Parameter-Efficient
Ensembling").

The concatenated input x is copied K times and member k's copy is scaled element-wise by its own
adapter r_k (started at random signs, then trained), so the K members see K different
projections of one shared first layer. Every dense layer after that is shared, applied to the
(n, K, width) tensor; each member has its own head; the prediction is the mean of the members'
outputs (probabilities or values), as in ``training/loop/ensemble.py``.

Each member is trained on its own loss (the mean of the K members' losses), not the loss of the
mean: that is what keeps them apart. Early stopping, the plateau schedule and the metrics see
the mean, which is what is served.

Serving needs no new op. ``training/export/graph.py`` writes member k's first layer as
``diag(r_k) · W1`` (one dense layer K·units wide, so the graph's gather-and-add projection still
applies), the shared layers as ``grouped_dense`` with K copies of their kernel, the heads as one
``grouped_dense``, then ``member_mean``: the graph the K-seed ensemble uses.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from keras.src.losses.loss import unscale_loss_for_distribution  # what Keras' own train_step logs

MEAN = "member_mean"  # the layer whose input is the members' outputs


@keras.saving.register_keras_serializable(package="catembed")
class MemberAdapter(keras.layers.Layer):
    """(n, d) → (n, K, d): K copies of the input, copy k scaled element-wise by r_k."""

    def __init__(self, members: int, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.members, self.seed = int(members), int(seed)

    def build(self, input_shape: Any) -> None:
        self.adapter = self.add_weight(name="adapter", shape=(self.members, int(input_shape[-1])), initializer="ones")
        # random signs, from the seed: members start as different but equally scaled views
        signs = np.random.default_rng(self.seed).choice(np.array([-1.0, 1.0], dtype=np.float32), size=self.adapter.shape)
        self.adapter.assign(signs)

    def call(self, inputs: Any) -> Any:
        return ops.expand_dims(inputs, 1) * ops.expand_dims(self.adapter, 0)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0], self.members, input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "members": self.members, "seed": self.seed}


@keras.saving.register_keras_serializable(package="catembed")
class MemberHead(keras.layers.Layer):
    """(n, K, h) → (n, K, units): member k's own dense head (kernel K × h × units)."""

    def __init__(
        self, units: int, activation: str = "linear", kernel_regularizer: Any = None, seed: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.units, self.seed = int(units), int(seed)
        self.activation = keras.activations.get(activation)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape: Any) -> None:
        members, width = int(input_shape[1]), int(input_shape[2])
        limit = math.sqrt(6.0 / (width + self.units))  # each member's Glorot range, as a Dense head's
        self.kernel = self.add_weight(
            name="kernel",
            shape=(members, width, self.units),
            initializer=keras.initializers.RandomUniform(-limit, limit, seed=self.seed),
            regularizer=self.kernel_regularizer,
        )
        self.bias = self.add_weight(name="bias", shape=(members, self.units), initializer="zeros")

    def call(self, inputs: Any) -> Any:
        return self.activation(ops.einsum("nkh,khu->nku", inputs, self.kernel) + self.bias)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0], input_shape[1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="catembed")
class MemberMean(keras.layers.Layer):
    """(n, K, units) → (n, units): the served prediction."""

    def call(self, inputs: Any) -> Any:
        return ops.mean(inputs, axis=1)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="catembed")
class BatchEnsembleModel(keras.Model):
    """The functional network whose output is the members' mean, trained on the members' own
    losses. Prediction, evaluation, saving and export treat it as any other model."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = keras.Model(self.inputs, self.get_layer(MEAN).input, name="members")
        # kept out of Keras' attribute tracking: its layers are this model's own, counted once
        self.__dict__["_members"] = members

    def member_outputs(self, x: Any, training: bool = False) -> Any:
        """(n, K, units): each member's own output, the tensor the mean is taken of."""
        return self.__dict__["_members"](x, training=training)

    def train_step(self, data: Any) -> Any:
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            outputs = self.member_outputs(x, training=True)
            count = outputs.shape[1]
            # each member's loss (with the penalties once each, so the mean keeps them once)
            losses = [
                self._compute_loss(x=x, y=y, y_pred=outputs[:, k], sample_weight=sample_weight, training=True)
                for k in range(count)
            ]
            loss = ops.mean(ops.stack(losses))
            rows = tf.shape(next(i for i in tf.nest.flatten(x) if i is not None))[0]
            self._loss_tracker.update_state(unscale_loss_for_distribution(loss), sample_weight=rows)
            loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
        return self.compute_metrics(x, y, ops.mean(outputs, axis=1), sample_weight=sample_weight)


def training_losses(model: keras.Model, x: Any, y: Any, per_example: Any) -> tuple[Any, Any]:
    """(each row's loss, the output) of a training step in a hand-written loop (the distributed
    one): a batch ensemble's rows are the mean of its members' own losses, as in its train_step."""
    if not isinstance(model, BatchEnsembleModel):
        output = model(x, training=True)
        return per_example(y, output), output
    outputs = model.member_outputs(x, training=True)
    losses = ops.stack([per_example(y, outputs[:, k]) for k in range(outputs.shape[1])])
    return ops.mean(losses, axis=0), ops.mean(outputs, axis=1)
