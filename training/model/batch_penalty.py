"""The shrinkage prior on the rows of the batch (mini-batch-aware regularisation, Zhou et al.
2018, arXiv 1706.06978).

The whole-table penalty ``l2 · Σ_{c≥1} ‖d_c‖²`` is added to every step's loss, so its gradient
covers every row of the table every step. On the batch's rows instead, each row ``i`` of the
batch adds ``l2 · (N / n_c) · ‖d_c‖²`` for its value ``c`` (N training rows, ``n_c`` of them with
value ``c``), averaged over the batch as the loss is. Over one epoch every training row is in
exactly one batch, so the epoch's sum is ``(N / B) · l2 · Σ_c ‖d_c‖²``: the whole-table penalty
of each of the N / B steps, exactly; a single step's is so in expectation. Values never seen in
training (``n_c = 0``) and the unknown row 0 carry no penalty, as before. The gradient reaches
only the batch's rows, so the table's update stays row-sparse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops


def penalty_weights(counts: list[int], rows: int) -> np.ndarray:
    """``N / n_c`` per table row (float32): 0 for row 0 and for values without training rows."""
    n = np.asarray([0, *counts], dtype=np.float64)
    return np.where(n > 0, rows / np.maximum(n, 1.0), 0.0).astype(np.float32)


def batch_penalty(l2: float, weights: np.ndarray, index: Any, deviations: Any) -> Any:
    """The batch's share of the prior: ``l2 · mean_i (N / n_{c_i}) · ‖d_{c_i}‖²``. ``index``: the
    batch's table rows (any shape), ``deviations``: their gathered ``d`` (index's shape + width)."""
    weight = ops.take(ops.convert_to_tensor(weights), index, axis=0)
    return l2 * ops.mean(weight * ops.sum(ops.square(deviations), axis=-1))
