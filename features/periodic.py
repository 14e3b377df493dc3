"""Periodic numeric embeddings ("PLR"), the NumPy half of a network op.

Gorishniy et al. (2022, "On Embeddings for Numerical Features in Tabular Deep Learning") embed
each numeric feature ``x`` as ``ReLU(W_j · [sin(2π c_j x), cos(2π c_j x)] + b_j)``: ``c_j`` are
learned frequencies, ``W_j`` a learned linear map to a small vector. Low frequencies give smooth
effects, high ones sharp local bumps, so the first dense layer sees a learned basis of each
feature instead of one scalar; across their benchmarks it was the strongest numeric embedding.
Unlike the piecewise-linear ramps (features.piecewise_linear) every part is a weight, so each
network (and each member of an ensemble) has its own.

The op reads the rank-gauss scores (features.numeric), whose training distribution is standard
normal: one frequency scale suits every feature. It is the first step of the served graph
(features.graph) and of the Keras network (training.model.numeric_embedding.PeriodicEmbedding); the
bundle is written only if both agree to 1e-5.
"""

from __future__ import annotations

import numpy as np

from features import row_blocks


class PeriodicExpansion:
    """numeric input (n, w) → concat(input, PLR of ``columns``): (n, w + len(columns) · d).

    angular: (C, k) the frequencies times 2π (float32, as the Keras layer multiplies them);
    kernel: (C, 2k, d) and bias (C, d), one linear map per feature (sin block, then cos block).
    """

    kind = "periodic"

    def __init__(self, columns: np.ndarray, angular: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> None:
        self.columns = np.asarray(columns, dtype=np.intp)
        self.angular = np.asarray(angular, dtype=np.float32)
        self.kernel = np.asarray(kernel, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        features, frequencies = self.angular.shape
        if self.kernel.shape[:2] != (features, 2 * frequencies) or self.bias.shape != (features, self.kernel.shape[2]):
            raise ValueError(
                f"periodic expansion: kernel {self.kernel.shape} and bias {self.bias.shape} "
                f"do not fit {features} features × {frequencies} frequencies"
            )
        if len(self.columns) != features:
            raise ValueError(f"periodic expansion: {len(self.columns)} columns for {features} features")

    @property
    def added_width(self) -> int:
        return int(self.kernel.shape[0] * self.kernel.shape[2])

    def embed(self, numeric: np.ndarray, block: int = 1) -> np.ndarray:
        """(n, w) → (n, C · d): the embeddings alone, feature by feature; the products in
        ``block``-row blocks (features.row_blocks: n must be a multiple of it)."""
        angles = numeric[:, self.columns, None] * self.angular  # (n, C, k), float32 as in Keras
        waves = np.concatenate([np.sin(angles), np.cos(angles)], axis=2).transpose(1, 0, 2)  # (C, n, 2k)
        y = row_blocks.matmul(waves, self.kernel, block)  # (C, n, d): one batched product for every feature
        y += self.bias[:, None, :]
        np.maximum(y, 0, out=y)
        return y.transpose(1, 0, 2).reshape(len(numeric), -1)

    def __call__(self, numeric: np.ndarray, block: int = 1) -> np.ndarray:
        numeric = np.asarray(numeric, dtype=np.float32)
        return np.concatenate([numeric, self.embed(numeric, block)], axis=1)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "periodic_columns": self.columns,
            "periodic_angular": self.angular,
            "periodic_kernel": self.kernel,
            "periodic_bias": self.bias,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PeriodicExpansion:
        return cls(arrays["periodic_columns"], arrays["periodic_angular"], arrays["periodic_kernel"], arrays["periodic_bias"])

    @classmethod
    def stacked(cls, members: list[PeriodicExpansion]) -> PeriodicExpansion:
        """The K members' expansions as one: their embeddings side by side, member by member
        (training.loop.ensemble routes each block to its member's first layer)."""
        return cls(
            np.concatenate([m.columns for m in members]),
            np.concatenate([m.angular for m in members]),
            np.concatenate([m.kernel for m in members]),
            np.concatenate([m.bias for m in members]),
        )
