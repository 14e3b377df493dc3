"""Optimizers for embedding tables that read and write only the rows a batch touches.

Keras 3's Adam subtracts a table's ``IndexedSlices`` gradient from its dense moments, so every
step rewrites the whole table, both moments and the weight average (keras-team/keras#19992).
These optimizers take the batch's rows instead: duplicate indices are summed first (the same
value in many rows of a batch, or in several workers' batches), then only those rows of the
weights, of the optimizer's state and of the averaged copy are gathered, updated and
scattered back. A dense gradient (a table with a whole-table penalty) is taken as every row.

- :class:`LazyAdam`: Adam's formulas on the touched rows; an untouched row keeps its moments
  instead of decaying them. ``bias_correction="global"`` corrects with the optimizer's step, as
  Keras' Adam and TF Addons' LazyAdam do; ``"row"`` with the row's own update count, so a row's
  first update has Adam's first-step size whatever the global step (tensorflow#23668: LazyAdam
  with the global correction missed MLPerf NCF's quality target).
- :class:`RowwiseAdagrad`: one accumulator per row (the mean squared gradient of the row), as
  FBGEMM's ``EXACT_ROWWISE_ADAGRAD`` and PyTorch-BigGraph keep; a row that is not touched is not
  changed, so it is exactly Adagrad's update when every element of a row shares the scale.

Weight averaging (``use_ema``) is lazy: each row remembers the last step its average was
brought up to date, and catches up in closed form (training/loop/lazy_average.py) when it is
next touched and before the average is read (:meth:`RowSparseOptimizer.catch_up`).
"""

from __future__ import annotations

import abc
from typing import Any

import keras
import tensorflow as tf

from training.loop.lazy_average import caught_up


def unique_rows(gradient: Any, rows: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(distinct row indices, the summed gradient of each): duplicates summed, dense → all rows."""
    if not isinstance(gradient, tf.IndexedSlices):
        return tf.range(rows, dtype=tf.int64), tf.convert_to_tensor(gradient)
    indices = tf.cast(gradient.indices, tf.int64)
    distinct, position = tf.unique(indices)
    return distinct, tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(distinct)[0])


class RowSparseOptimizer(keras.optimizers.Optimizer, metaclass=abc.ABCMeta):
    """The shared machinery: rows in, rows out, and the lazy average of the rows. A subclass
    says how rows are updated (``updated_rows``); this class cannot be built on its own."""

    def build(self, var_list: list[Any]) -> None:
        if self.built:
            return
        super().build(var_list)  # with use_ema: the averaged copies, which catch up lazily
        if self.use_ema:
            # the step whose weights each row's average includes (-1: none yet, the average is the weights)
            self._last_averaged = [
                self.add_variable((int(v.shape[0]),), keras.initializers.Constant(-1), "int64", name=f"{_name(v)}_averaged_at")
                for v in var_list
            ]

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        table = _tf(variable)
        index = self._get_variable_index(variable)
        rows, values = unique_rows(gradient, int(table.shape[0]))
        values = tf.cast(values, table.dtype)
        old = tf.gather(table, rows)
        new = self.updated_rows(index, rows, values, old, tf.cast(learning_rate, table.dtype))
        self.assign(table, tf.IndexedSlices(new, rows))
        if self.use_ema:
            self._average_rows(index, rows, old, new)

    @abc.abstractmethod
    def updated_rows(self, index: int, rows: tf.Tensor, gradient: tf.Tensor, old: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        """The new values of ``rows`` (their old values ``old``), updating this optimizer's state."""

    def _average_rows(self, index: int, rows: tf.Tensor, old: tf.Tensor, new: tf.Tensor) -> None:
        """Bring the touched rows' average up to this step: the steps they were not touched
        (weights ``old`` all along) in closed form, then this step's update as Keras' EMA does it."""
        average, last = _tf(self._model_variables_moving_average[index]), _tf(self._last_averaged[index])
        step = tf.cast(self.iterations, tf.int64)
        current = caught_up(tf.gather(average, rows), old, tf.gather(last, rows), step - 1, self.ema_momentum)
        momentum = tf.cast(step > 0, new.dtype) * self.ema_momentum  # Keras: the first step's average is the weights
        self.assign(average, tf.IndexedSlices(momentum * current + (1 - momentum) * new, rows))
        self.assign(last, tf.IndexedSlices(tf.fill(tf.shape(rows), step), rows))

    def _update_model_variables_moving_average(self, trainable_variables: list[Any]) -> None:
        """Nothing: the touched rows were averaged in ``update_step``, the rest catch up later."""

    def catch_up(self) -> None:
        """Every row's average brought up to the last step, so the averages can be read (swapped
        in, exported). Idempotent: a second call before the next step changes nothing."""
        if not (self.use_ema and self.built):
            return
        step = tf.cast(self.iterations, tf.int64) - 1
        for variable, average, last in zip(
            self._trainable_variables, self._model_variables_moving_average, self._last_averaged, strict=True
        ):
            table, last_ = _tf(variable), _tf(last)
            average.assign(caught_up(_tf(average), table, last_, step, self.ema_momentum))
            last.assign(tf.fill(tf.shape(last_), step))

    def finalize_variable_values(self, var_list: list[Any]) -> None:
        self.catch_up()
        super().finalize_variable_values(var_list)


@keras.saving.register_keras_serializable(package="catembed")
class LazyAdam(RowSparseOptimizer):
    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        bias_correction: str = "global",
        name: str = "lazy_adam",
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if bias_correction not in ("global", "row"):
            raise ValueError(f"bias_correction is 'global' or 'row', not {bias_correction!r}")
        self.beta_1, self.beta_2, self.epsilon, self.bias_correction = beta_1, beta_2, epsilon, bias_correction

    def build(self, var_list: list[Any]) -> None:
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(var_list, ["momentum", "velocity"])
        if self.bias_correction == "row":
            self._updates = [self.add_variable((int(v.shape[0]),), "zeros", name=f"{_name(v)}_updates") for v in var_list]

    def updated_rows(self, index: int, rows: tf.Tensor, gradient: tf.Tensor, old: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        m, v = _tf(self._momentums[index]), _tf(self._velocities[index])
        # Keras' Adam, term for term, on the gathered rows
        m_rows = tf.gather(m, rows)
        m_rows = m_rows + (gradient - m_rows) * (1 - self.beta_1)
        v_rows = tf.gather(v, rows)
        v_rows = v_rows + (tf.square(gradient) - v_rows) * (1 - self.beta_2)
        self.assign(m, tf.IndexedSlices(m_rows, rows))
        self.assign(v, tf.IndexedSlices(v_rows, rows))
        if self.bias_correction == "row":
            updates = _tf(self._updates[index])
            step = tf.gather(updates, rows) + 1
            self.assign(updates, tf.IndexedSlices(step, rows))
            step = step[:, None]
        else:
            step = tf.cast(self.iterations + 1, old.dtype)
        alpha = (
            lr * tf.sqrt(1 - tf.pow(tf.cast(self.beta_2, old.dtype), step)) / (1 - tf.pow(tf.cast(self.beta_1, old.dtype), step))
        )
        return old - (m_rows * alpha) / (tf.sqrt(v_rows) + self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "bias_correction": self.bias_correction,
        }


@keras.saving.register_keras_serializable(package="catembed")
class RowwiseAdagrad(RowSparseOptimizer):
    def __init__(
        self,
        learning_rate: float = 0.01,
        initial_accumulator_value: float = 0.0,
        epsilon: float = 1e-7,
        name: str = "rowwise_adagrad",
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def build(self, var_list: list[Any]) -> None:
        if self.built:
            return
        super().build(var_list)
        start = keras.initializers.Constant(self.initial_accumulator_value)
        self._accumulators = [self.add_variable((int(v.shape[0]),), start, name=f"{_name(v)}_accumulator") for v in var_list]

    def updated_rows(self, index: int, rows: tf.Tensor, gradient: tf.Tensor, old: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        accumulator = _tf(self._accumulators[index])
        total = tf.gather(accumulator, rows) + tf.reduce_mean(tf.square(gradient), axis=-1)
        self.assign(accumulator, tf.IndexedSlices(total, rows))
        return old - lr * gradient / tf.sqrt(total + self.epsilon)[:, None]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}


def _tf(variable: Any) -> Any:
    """The tf.Variable under a Keras variable (gather and scatter need the resource)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def _name(variable: Any) -> str:
    return str(getattr(variable, "path", variable.name)).replace("/", "_").replace(":", "_")
