"""The weight average of table rows, kept lazily and caught up in closed form.

Keras' optimizer EMA updates every weight every step: ``e ← d·e + (1 − d)·w``. A table row that
the last k steps did not touch had the same weights ``w`` all along, so its k missed updates
are ``e ← dᵏ·e + (1 − dᵏ)·w``: the row optimizers (training/loop/row_optimizer.py) remember the
step each row's average was last brought up to date and apply that closed form when the row is
next touched, and for every row before the average is read. The result equals the dense
average up to float rounding (tests/training/test_row_optimizer.py compares them).

:class:`AverageSwap` is Keras' ``SwapEMAWeights`` with that catch-up before the averages are
swapped in, so early stopping judges, and the bundle serves, the same average as before.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


def step_factor(momentum: float, steps: tf.Tensor) -> tf.Tensor:
    """dᵏ for k missed steps (float32): what is left of the old average after them."""
    return tf.pow(tf.constant(momentum, tf.float32), tf.cast(steps, tf.float32))


def caught_up(average: tf.Tensor, weights: tf.Tensor, last: tf.Tensor, step: tf.Tensor, momentum: float) -> tf.Tensor:
    """Rows' averages brought up to ``step``, their weights unchanged since step ``last``
    (``last`` = -1: never averaged, so the average is the weights, as Keras' first step sets it)."""
    factor = tf.where(last >= 0, step_factor(momentum, step - last), 0.0)
    factor = tf.reshape(tf.cast(factor, average.dtype), [-1] + [1] * (len(average.shape) - 1))
    return factor * average + (1 - factor) * weights


def row_optimizers(optimizer: Any) -> list[Any]:
    """The optimizers inside ``optimizer`` (itself, or a MultiOptimizer's) that average lazily
    (training/loop/row_optimizer.py's, which import this module: known by their ``catch_up``)."""
    inner = getattr(optimizer, "optimizers", [optimizer])
    return [o for o in inner if callable(getattr(o, "catch_up", None)) and o.use_ema]


def catch_up(optimizer: Any) -> None:
    for inner in row_optimizers(optimizer):
        inner.catch_up()


def averaged_weights(model: keras.Model) -> list[Any]:
    """The weights the holdout judges and the bundle serves, as NumPy arrays: each trainable
    variable's average (caught up) in its place, as ``SwapEMAWeights`` swaps them in under ``fit``."""
    optimizer = model.optimizer
    inner = [o for o in getattr(optimizer, "optimizers", [optimizer]) if getattr(o, "use_ema", False) and o.built]
    if not inner:
        return model.get_weights()
    catch_up(optimizer)
    averages = {id(v): a for o in inner for v, a in zip(o._trainable_variables, o._model_variables_moving_average, strict=True)}
    return [keras.ops.convert_to_numpy(averages.get(id(w), w)) for w in model.weights]


class AverageSwap(keras.callbacks.SwapEMAWeights):
    """``SwapEMAWeights(swap_on_epoch=True)`` whose lazily averaged rows catch up first."""

    def __init__(self) -> None:
        super().__init__(swap_on_epoch=True)

    def _swap_variables(self) -> None:
        if not self._ema_weights_in_model:  # the training weights are in the model: the catch-up reads them
            catch_up(self.model.optimizer)
        super()._swap_variables()
