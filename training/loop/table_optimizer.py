"""One optimizer for the network: embedding tables get a row-sparse optimizer, the rest Adam.

Keras 3.15's ``MultiOptimizer`` routes each variable by its path through an ``OptimizerMap``
(keras/src/optimizers/multi_optimizer.py); the tables' paths map to the row optimizer
(training/loop/row_optimizer.py), every other variable to Keras' Adam. Both average their
weights when ``weight_average`` asks for it (the tables' average lazily), and
``keras.callbacks.SwapEMAWeights`` swaps every sub-optimizer's averages in.

``MultiOptimizer`` refuses ``learning_rate``, which ReduceLROnPlateau (and the distributed loop's
plateau) reads and sets: here it reads the dense optimizer's rate, and setting it scales every
sub-optimizer's rate by the same factor, so a table rate set apart keeps its ratio.
"""

from __future__ import annotations

import re
from typing import Any

import keras

from training.loop.config import TABLE_OPTIMIZERS
from training.loop.row_optimizer import LazyAdam, RowwiseAdagrad


@keras.saving.register_keras_serializable(package="catembed")
class TableOptimizer(keras.optimizers.MultiOptimizer):
    @property
    def learning_rate(self) -> Any:
        return self._optimizer_map.default_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if not hasattr(self, "_optimizer_map"):  # Optimizer.__init__ sets its own unused rate first
            return
        ratio = float(value) / float(keras.ops.convert_to_numpy(self.learning_rate))
        for optimizer in self.optimizers:
            optimizer.learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate)) * ratio


def table_variables(model: keras.Model) -> list[Any]:
    """The embedding tables' row-indexed variables (a gather makes their gradient row-sparse)."""
    found = []
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Embedding):
            found.append(layer.embeddings)
        found.extend(getattr(layer, "row_variables", lambda: [])())
    return found


def network_optimizer(
    model: keras.Model,
    kind: str,
    learning_rate: float,
    table_learning_rate: float | None,
    average_momentum: float | None,
    tables: list[Any] | None = None,
) -> keras.optimizers.Optimizer:
    """Adam for every weight (``kind="adam"``, the dense path), or tables → the row optimizer
    ``kind`` and the rest → Adam. ``average_momentum``: the weight average's EMA momentum (None: off).
    ``tables``: the row-sparse variables (default: every table of the model)."""
    average: dict[str, Any] = {"use_ema": average_momentum is not None, "ema_momentum": average_momentum or 0.99}
    # named, so that fit's history keys (learning_rate_<name> per sub-optimizer) are the same in every run
    dense = keras.optimizers.Adam(learning_rate, name="adam", **average)
    tables = table_variables(model) if tables is None else tables
    if kind == "adam" or not tables:
        return dense
    rate = table_learning_rate or learning_rate
    row: keras.optimizers.Optimizer
    if kind in ("lazy_adam", "lazy_adam_row"):
        row = LazyAdam(rate, bias_correction="row" if kind == "lazy_adam_row" else "global", **average)
    elif kind == "rowwise_adagrad":
        row = RowwiseAdagrad(rate, **average)
    else:
        raise ValueError(f"unknown table optimizer {kind!r}; choose one of {', '.join(TABLE_OPTIMIZERS)}")
    routes = keras.optimizers.OptimizerMap(dense, {re.escape(v.path): row for v in tables})
    return TableOptimizer(routes)
