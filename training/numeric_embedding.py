"""The Keras half of the piecewise-linear expansion of the numeric input.

``features.piecewise_linear`` explains the encoding and computes it in NumPy for the service;
this layer computes the same ramps in the network, so training sees exactly what serving will
(the bundle writer's parity check holds both to 1e-5). The edges are constants, not weights:
the layer adds no parameters, the first dense layer learns what to do with each bin.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from features.piecewise_linear import NumericExpansion, normal_edges


@keras.saving.register_keras_serializable(package="catembed")
class PiecewiseLinearExpansion(keras.layers.Layer):
    """(n, w) → (n, w + len(columns) · bins): the input, then the ramps of ``columns``."""

    def __init__(self, columns: list[int], bins: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.columns = [int(c) for c in columns]
        self.bins = int(bins)
        edges = normal_edges(self.bins)
        self._low = edges[:-1]
        self._width = edges[1:] - edges[:-1]

    def call(self, inputs: Any) -> Any:
        picked = ops.take(inputs, self.columns, axis=1)
        ramps = (ops.expand_dims(picked, -1) - ops.convert_to_tensor(self._low)) / ops.convert_to_tensor(self._width)
        ramps = ops.clip(ramps, 0.0, 1.0)
        return ops.concatenate([inputs, ops.reshape(ramps, (-1, len(self.columns) * self.bins))], axis=1)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0], input_shape[1] + len(self.columns) * self.bins)

    def expansion(self) -> NumericExpansion:
        """The same op for the NumPy graph."""
        return NumericExpansion(np.asarray(self.columns), normal_edges(self.bins))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "columns": self.columns, "bins": self.bins}
