"""A shrunk embedding table whose vectors' widths follow their values' frequency.

Mixed-dimension embeddings (Ginart et al. 2019, arXiv 1909.11810): a value seen often keeps a
wide vector, a rare one gets a narrow vector and a shared projection to the feature's width.
The vector of value ``c`` is ``e_0 + s_c · d_c`` as in the ShrunkEmbedding
(training/model/shrunk_embedding.py), with ``d_c = r_c · P_t``: ``r_c`` the value's own trained
row in its tier ``t`` (``w_t`` numbers) and ``P_t`` the tier's ``w_t × D`` projection (the
widest tier, ``w_0 = D``, has none; its row 0 is ``e_0``). Every value keeps its own vector.

:func:`mixed_widths` splits the values into tiers by count: a value seen ``n_c`` times gets the
widest tier width ``D / 2^t`` not above ``λ·√n_c`` (α = ½ in Ginart's ``d ∝ p^α``), at least
``MIN_WIDTH``, with λ the largest that keeps rows and projections within the budget.

The prior is the batch penalty on the projected deviations (training/model/batch_penalty.py),
and each tier's rows get a row-sparse gradient (:meth:`row_variables`); the projections are
small dense weights. At export :meth:`table` is the plain table ``e_0 + s_c · d_c``, one
``D``-wide row per value, so the NumPy graph and the service look rows up as for any table.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from training.model.batch_penalty import batch_penalty, penalty_weights
from training.model.shrunk_embedding import rows_of

MIN_WIDTH = 4


def mixed_widths(counts: list[int], width: int, budget: int) -> tuple[list[int], list[int]] | None:
    """(tier widths, values per tier) for a table of ``counts`` at most ``budget`` parameters
    (rows and projections), or None when the plain table of ``width`` already fits. Tiers are
    filled in the order of :func:`tier_order`; when even ``MIN_WIDTH`` for every value exceeds
    the budget, the table is that (the bound is then ``len(counts) · MIN_WIDTH`` + projections)."""
    if (len(counts) + 1) * width <= budget:
        return None
    widths = [width >> t for t in range(max(1, int(math.log2(max(width, 1) / MIN_WIDTH)) + 1))]
    widths = [w for w in widths if w >= min(MIN_WIDTH, width)] or [width]
    ordered = np.sort(np.asarray(counts, dtype=np.float64))[::-1]

    def tiers(scale: float) -> list[int]:
        # a value's tier: the first width not above scale·√n (the last tier takes the rest)
        fits = np.sqrt(ordered) * scale
        tier = np.searchsorted(-np.asarray(widths, dtype=np.float64), -fits, side="left").clip(max=len(widths) - 1)
        tier[0] = 0  # the most frequent value (and e_0) always in the widest tier
        return np.bincount(tier, minlength=len(widths)).tolist()

    def cost(sizes: list[int]) -> int:
        rows = (sizes[0] + 1) * widths[0] + sum(n * w for n, w in zip(sizes[1:], widths[1:], strict=True))
        return rows + sum(w * width for n, w in zip(sizes[1:], widths[1:], strict=True) if n)

    low, high = 0.0, float(width)  # at scale `width` every value with n ≥ 1 is full width
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if cost(tiers(middle)) <= budget else (low, middle)
    sizes = tiers(low)
    used = [i for i, n in enumerate(sizes) if n or i == 0]
    return [widths[i] for i in used], [sizes[i] for i in used]


def tier_order(counts: list[int]) -> np.ndarray:
    """Vocabulary values (1-based table rows) from most to least frequent, ties by index."""
    return np.argsort(-np.asarray(counts, dtype=np.int64), kind="stable") + 1


@keras.saving.register_keras_serializable(package="catembed")
class MixedEmbedding(keras.layers.Layer):
    """``counts``: training rows per vocabulary value (index 1 on); ``widths``/``sizes``: the
    tiers from :func:`mixed_widths`; ``rows``: all training rows (the batch penalty's N)."""

    def __init__(
        self,
        counts: list[int],
        output_dim: int,
        widths: list[int],
        sizes: list[int],
        k: float,
        l2: float = 0.0,
        rows: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.counts, self.output_dim = [int(n) for n in counts], int(output_dim)
        self.widths, self.sizes = [int(w) for w in widths], [int(n) for n in sizes]
        if sum(self.sizes) != len(self.counts) or self.widths[0] != self.output_dim:
            raise ValueError(f"tiers {self.sizes} × {self.widths} do not cover {len(self.counts)} values of width {output_dim}")
        self.k, self.l2, self.rows = float(k), float(l2), None if rows is None else int(rows)
        n = np.asarray([0.0, *self.counts], dtype=np.float64)
        self._scale = np.where(n > 0, n / (n + self.k), 0.0).astype(np.float32)
        self._scale[0] = 0.0
        # each table row's (tier, row within the tier); e_0 is row 0 of tier 0
        self._tier = np.zeros(len(n), dtype=np.int32)
        self._position = np.zeros(len(n), dtype=np.int32)
        start = 0
        for t, size in enumerate(self.sizes):
            members = tier_order(self.counts)[start : start + size]
            self._tier[members] = t
            self._position[members] = np.arange(size) + (1 if t == 0 else 0)
            start += size
        self._penalty = penalty_weights(self.counts, self.rows) if self.rows else None

    def build(self, input_shape: Any) -> None:
        uniform = keras.initializers.RandomUniform(-0.05, 0.05)  # Embedding's default
        self.tables = [
            self.add_weight(shape=(n + (1 if t == 0 else 0), w), initializer=uniform, name=f"rows_{t}")
            for t, (n, w) in enumerate(zip(self.sizes, self.widths, strict=True))
        ]
        self.projections = [
            self.add_weight(shape=(w, self.output_dim), initializer="glorot_uniform", name=f"projection_{t}")
            for t, w in enumerate(self.widths)
            if t
        ]
        self.built = True

    def deviations(self, index: Any) -> Any:
        """``d_c`` of every entry of ``index`` (its shape + the width): one gather per tier."""
        flat = tf.reshape(tf.cast(index, tf.int32), [-1])
        tier = tf.gather(tf.constant(self._tier), flat)
        position = tf.gather(tf.constant(self._position), flat)
        count = len(self.widths)
        where = tf.dynamic_partition(tf.range(tf.size(flat)), tier, count)
        rows = tf.dynamic_partition(position, tier, count)
        parts = [rows_of(self.tables[0], rows[0])]
        parts += [tf.matmul(rows_of(self.tables[t], rows[t]), self.projections[t - 1]) for t in range(1, count)]
        stitched = tf.dynamic_stitch(where, parts)
        return tf.reshape(stitched, tf.concat([tf.shape(index), [self.output_dim]], axis=0))

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        index = ops.cast(inputs, "int32")
        deviation = self.deviations(index)
        if training and self.l2 and self._penalty is not None:
            self.add_loss(batch_penalty(self.l2, self._penalty, index, deviation))
        scale = ops.take(ops.convert_to_tensor(self._scale), index, axis=0)
        unknown = rows_of(self.tables[0], ops.zeros((1,), "int32"))[0]
        return unknown + ops.expand_dims(scale, -1) * deviation

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape, self.output_dim)

    def row_variables(self) -> list[Any]:
        """The tiers' rows: a batch touches only its own (training/loop/table_optimizer.py)."""
        return list(self.tables)

    def parameters(self) -> int:
        return sum(int(np.prod(w.shape)) for w in self.weights)

    def table(self) -> np.ndarray:
        """The effective plain table ``e_0 + s_c · d_c`` (float32, D wide), row 0 = ``e_0``."""
        tables = [np.asarray(t.numpy(), dtype=np.float32) for t in self.tables]
        projections = [np.asarray(p.numpy(), dtype=np.float32) for p in self.projections]
        deviation = np.empty((len(self._tier), self.output_dim), dtype=np.float32)
        for t, rows in enumerate(tables):
            members = np.flatnonzero(self._tier == t)
            own = rows[self._position[members]]
            deviation[members] = own if t == 0 else own @ projections[t - 1]
        return (tables[0][0] + self._scale[:, None] * deviation).astype(np.float32)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "counts": self.counts,
            "output_dim": self.output_dim,
            "widths": self.widths,
            "sizes": self.sizes,
            "k": self.k,
            "l2": self.l2,
            "rows": self.rows,
        }
