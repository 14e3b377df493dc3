"""The Keras half of the numeric expansions: piecewise-linear ramps and periodic embeddings.

``features.piecewise_linear`` and ``features.periodic`` explain the encodings and compute them
in NumPy for the service; these layers compute the same in the network, so training sees exactly
what serving will (the bundle writer's parity check holds both to 1e-5). The ramps' edges are
constants: that layer adds no parameters. The periodic layer's frequencies and linear maps are
weights, trained with the rest of the network.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from features.periodic import PeriodicExpansion
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


@keras.saving.register_keras_serializable(package="catembed")
class PeriodicEmbedding(keras.layers.Layer):
    """(n, w) → (n, w + len(columns) · dims): the input, then per column of ``columns``
    ``ReLU(W_j [sin(2π c_j x), cos(2π c_j x)] + b_j)`` with ``frequencies`` learned c_j.

    sigma: the spread of the initial frequencies, c ~ N(0, σ) cut at ±3σ, as in Gorishniy et
    al.'s reference code. The scores are standard normal, so σ = 0.1 starts every feature at
    about a tenth of a period over its whole range: smooth, and sharpened where the loss asks.
    """

    def __init__(
        self,
        columns: list[int],
        frequencies: int,
        dims: int,
        sigma: float,
        seed: int = 0,
        sharp: list[int] | None = None,
        sharp_sigma: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.columns = [int(c) for c in columns]
        self.frequencies, self.dims, self.sigma, self.seed = int(frequencies), int(dims), float(sigma), int(seed)
        # columns (of ``columns``) whose frequencies start at sharp_sigma instead: the staircases
        self.sharp = [int(c) for c in sharp or []]
        self.sharp_sigma = float(sharp_sigma) if sharp_sigma is not None else None

    def build(self, input_shape: Any) -> None:
        features = len(self.columns)
        self.coefficients = self.add_weight(
            shape=(features, self.frequencies),
            initializer=keras.initializers.TruncatedNormal(stddev=self.sigma, seed=self.seed),
            name="frequencies",
        )
        if self.sharp and self.sharp_sigma is not None:
            # the same draws, rescaled per column: c ~ N(0, σ_j) is σ_j/σ times c ~ N(0, σ)
            ratio = np.asarray([self.sharp_sigma / self.sigma if c in self.sharp else 1.0 for c in self.columns], np.float32)
            self.coefficients.assign(self.coefficients * ratio[:, None])
        # one Dense(2k → d) per feature, initialised as Keras' Dense would be
        self.kernel = self.add_weight(
            shape=(features, 2 * self.frequencies, self.dims),
            initializer=keras.initializers.GlorotUniform(seed=self.seed + 1),
            name="kernel",
        )
        self.bias = self.add_weight(shape=(features, self.dims), initializer="zeros", name="bias")

    def _angular(self) -> Any:
        return self.coefficients * (2.0 * np.pi)

    def call(self, inputs: Any) -> Any:
        picked = ops.take(inputs, self.columns, axis=1)  # (n, C)
        angles = ops.expand_dims(picked, -1) * self._angular()  # (n, C, k)
        waves = ops.transpose(ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=2), (1, 0, 2))  # (C, n, 2k)
        y = ops.relu(ops.matmul(waves, self.kernel) + ops.expand_dims(self.bias, 1))  # (C, n, d)
        return ops.concatenate([inputs, ops.reshape(ops.transpose(y, (1, 0, 2)), (-1, len(self.columns) * self.dims))], axis=1)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0], input_shape[1] + len(self.columns) * self.dims)

    def expansion(self) -> PeriodicExpansion:
        """The same op for the NumPy graph, with the trained (served) weights."""
        angular = np.asarray(ops.convert_to_numpy(self._angular()), dtype=np.float32)
        return PeriodicExpansion(
            np.asarray(self.columns), angular, np.asarray(self.kernel.numpy()), np.asarray(self.bias.numpy())
        )

    def get_config(self) -> dict[str, Any]:
        extra = {
            "columns": self.columns,
            "frequencies": self.frequencies,
            "dims": self.dims,
            "sigma": self.sigma,
            "sharp": self.sharp,
            "sharp_sigma": self.sharp_sigma,
            "seed": self.seed,
        }
        return {**super().get_config(), **extra}
