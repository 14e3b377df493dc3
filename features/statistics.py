"""What fitting the encoders needs to know about a table: the contract between a statistics pass
and ``TabularEncoder.fit_statistics``.

In memory, ``TabularEncoder.fit`` computes these from the frame. Streaming training gathers them
in one pass over files too big to load (``training.data.statistics_pass``). Both end in the same fitting
code, so a table that fits in memory gives the same encoders by either route.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np


@dataclass
class NumericMoments:
    """Exact per-column statistics of the observed (non-missing) values; arrays of length k."""

    count: np.ndarray
    missing: np.ndarray
    mean: np.ndarray
    std: np.ndarray  # population standard deviation, as np.std
    min: np.ndarray
    max: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray) -> NumericMoments:
        """From a whole (n, k) float64 matrix with NaN for missing values."""
        k = X.shape[1]
        moments = cls(np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k))
        for j in range(k):
            column = X[~np.isnan(X[:, j]), j]
            moments.count[j] = column.size
            moments.missing[j] = len(X) - column.size
            if column.size:
                moments.mean[j], moments.std[j] = column.mean(), column.std()
                moments.min[j], moments.max[j] = column.min(), column.max()
        return moments


@dataclass
class MomentsAccumulator:
    """NumericMoments over a stream of batches: Chan et al.'s pairwise update of count, mean and
    the sum of squared deviations, so no batch needs the others and no sum grows large."""

    k: int
    count: np.ndarray = field(init=False)
    missing: np.ndarray = field(init=False)
    mean: np.ndarray = field(init=False)
    m2: np.ndarray = field(init=False)
    min: np.ndarray = field(init=False)
    max: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.count, self.missing = np.zeros(self.k, np.int64), np.zeros(self.k, np.int64)
        self.mean, self.m2 = np.zeros(self.k), np.zeros(self.k)
        self.min, self.max = np.full(self.k, np.inf), np.full(self.k, -np.inf)

    def update(self, X: np.ndarray) -> None:
        for j in range(self.k):
            column = X[~np.isnan(X[:, j]), j]
            self.missing[j] += len(X) - column.size
            if not column.size:
                continue
            n_a, n_b = self.count[j], column.size
            mean_b = column.mean()
            delta = mean_b - self.mean[j]
            total = n_a + n_b
            self.mean[j] += delta * n_b / total
            self.m2[j] += ((column - mean_b) ** 2).sum() + delta**2 * n_a * n_b / total
            self.count[j] = total
            self.min[j], self.max[j] = min(self.min[j], column.min()), max(self.max[j], column.max())

    def result(self) -> NumericMoments:
        seen = self.count > 0
        std = np.sqrt(np.divide(self.m2, self.count, out=np.zeros(self.k), where=seen))
        return NumericMoments(
            self.count.copy(),
            self.missing.copy(),
            np.where(seen, self.mean, 0.0),
            std,
            np.where(seen, self.min, 0.0),
            np.where(seen, self.max, 0.0),
        )


@dataclass
class TableStatistics:
    """Everything ``TabularEncoder.fit_statistics`` reads.

    ``counts``: per categorical feature, raw value → training rows (missing values included,
    under whatever null the reader gave; the encoder canonicalises them). ``numeric_sample``:
    an (m, k) float64 matrix of training rows, NaN for missing — every row when the table has at
    most m of them, else a uniform sample; the medians and rank-gauss knots come from it.
    ``moments``: exact over every row.
    """

    rows: int
    counts: dict[str, Counter[object]]
    numeric_sample: np.ndarray
    moments: NumericMoments
    sampled: bool  # True when numeric_sample is a sample, not the whole table
