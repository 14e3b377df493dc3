"""Piecewise-linear encoding (PLE) of numeric inputs, the NumPy half of a network op.

Gorishniy et al. (2022, "On Embeddings for Numerical Features in Tabular Deep Learning") show
that an MLP fed one scalar per numeric feature struggles with sharp, non-monotone effects (a
price that jumps at a season's start) that a tree splits in one step. PLE hands the first dense
layer a piecewise-linear basis instead: bin ``t`` of a value ``x`` with edges ``b_t < b_{t+1}``
encodes ``clip((x − b_t) / (b_{t+1} − b_t), 0, 1)``, so any piecewise-linear function of ``x``
is one linear map away.

The bins are equal-mass bins of the rank-gauss score (features.numeric), whose training
distribution is standard normal by construction: the edges are normal quantiles, the same for
every feature, and need no extra fitted state. The op is the first step of the served graph
(features.graph) and of the Keras network (training.model.numeric_embedding); the bundle is written
only if both agree to 1e-5.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

# The quantile map sends the outermost training values to ±3.09 (features.numeric._TAIL = 1e-3).
SCORE_LIMIT = NormalDist().inv_cdf(1 - 1e-3)


def normal_edges(bins: int) -> np.ndarray:
    """``bins + 1`` increasing edges splitting the standard normal into equal-mass bins,
    the outermost at ±SCORE_LIMIT (no training score lies beyond them)."""
    if bins < 2:
        raise ValueError(f"piecewise-linear encoding needs at least 2 bins, got {bins}")
    normal = NormalDist()
    inner = [normal.inv_cdf(t / bins) for t in range(1, bins)]
    return np.asarray([-SCORE_LIMIT, *inner, SCORE_LIMIT], dtype=np.float32)


def encode(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(n, C) scores → (n, C · bins): per column, ``bins`` ramps from 0 to 1 (float32)."""
    values = np.asarray(values, dtype=np.float32)
    low = edges[:-1].astype(np.float32)
    width = (edges[1:] - edges[:-1]).astype(np.float32)
    ramps = (values[:, :, None] - low) / width
    return np.clip(ramps, 0.0, 1.0).reshape(len(values), -1)


class NumericExpansion:
    """numeric input (n, w) → concat(input, PLE of ``columns``): what the first layer sees."""

    kind = "piecewise_linear"

    def __init__(self, columns: np.ndarray, edges: np.ndarray) -> None:
        self.columns = np.asarray(columns, dtype=np.intp)
        self.edges = np.asarray(edges, dtype=np.float32)

    @property
    def added_width(self) -> int:
        return len(self.columns) * (len(self.edges) - 1)

    def __call__(self, numeric: np.ndarray, block: int = 1) -> np.ndarray:
        """``block`` is accepted for the chain's sake: the ramps are elementwise, no product."""
        numeric = np.asarray(numeric, dtype=np.float32)
        return np.concatenate([numeric, encode(numeric[:, self.columns], self.edges)], axis=1)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"numeric_columns": self.columns, "numeric_edges": self.edges}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> NumericExpansion:
        return cls(arrays["numeric_columns"], arrays["numeric_edges"])
