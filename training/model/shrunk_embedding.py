"""An embedding table whose rare values are shrunk toward the unknown vector (empirical Bayes).

The vector of value ``c`` is ``e_0 + s_c · d_c`` with ``s_c = n_c / (n_c + k)`` from the value's
training count ``n_c``: a value seen a few times sits next to the shared unknown vector ``e_0``
and moves away only as its rows add up, like the smoothing of target encoding. ``d_c`` carries
an L2 penalty (the prior that keeps rare vectors home; under Adam the factor ``s_c`` alone only
slows them down). With ``rows`` (the training rows) the penalty covers only the rows of the
batch (training/model/batch_penalty.py), scaled so an epoch adds exactly the whole-table
penalty of every step, and the table's gradient stays row-sparse; without it (models saved
before) it is the whole table's (:class:`DeviationL2`). Row 0 of the weight *is* ``e_0``
(``s_0 = 0``), so the layer has exactly the parameters of a plain ``Embedding`` and ``e_0`` is
trained by every row of the feature, not only by missing, unseen and folded ones.

Optionally (``fold_k > 0``) value ``c`` is replaced by the unknown index during training with
probability ``fold_k / (n_c + fold_k)`` (stochastic folding), which trains ``e_0`` on the rows
of rare values as hard folding did.

At export :meth:`table` is the plain table ``e_0 + s_c · d_c``: the NumPy graph and the service
look up rows exactly as for an ``Embedding``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from training.model.batch_penalty import batch_penalty, penalty_weights


def rows_of(table: Any, index: Any) -> Any:
    """The rows ``index`` of a table variable, read by a gather on the variable itself: ``ops.take``
    reads the whole table first, and once a variable has been updated sparsely TensorFlow
    copies it whole on every such read (a step then costs the vocabulary, not the batch)."""
    return tf.gather(table.value if isinstance(table, keras.Variable) else table, index)


@keras.saving.register_keras_serializable(package="catembed")
class ShrunkEmbedding(keras.layers.Layer):
    """``counts``: training rows of each vocabulary value, index 1 onwards (encoder ``counts_``);
    ``rows``: all training rows (None: the whole-table penalty of models saved before)."""

    def __init__(
        self,
        counts: list[int],
        output_dim: int,
        k: float,
        l2: float = 0.0,
        fold_k: float = 0.0,
        seed: int | None = None,
        rows: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.counts = [int(n) for n in counts]
        self.rows = None if rows is None else int(rows)
        self.input_dim = len(self.counts) + 1
        self.output_dim = int(output_dim)
        self.k, self.l2, self.fold_k, self.seed = float(k), float(l2), float(fold_k), seed
        n = np.asarray([0.0, *self.counts], dtype=np.float64)
        self._scale = np.where(n > 0, n / (n + self.k), 0.0).astype(np.float32)  # s_0 = 0: row 0 is e_0
        self._scale[0] = 0.0
        fold = np.where(n > 0, self.fold_k / (n + self.fold_k), 0.0) if self.fold_k else np.zeros_like(n)
        self._fold = fold.astype(np.float32)
        self.seed_generator = keras.random.SeedGenerator(seed) if self.fold_k else None
        self._penalty = penalty_weights(self.counts, self.rows) if self.rows else None

    def build(self, input_shape: Any) -> None:
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=keras.initializers.RandomUniform(-0.05, 0.05),  # Embedding's default
            regularizer=DeviationL2(self.l2) if self.l2 and not self.rows else None,
            name="embeddings",
        )
        self.built = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        index = ops.cast(inputs, "int32")
        seen = index
        if training and self.fold_k:
            p = ops.take(ops.convert_to_tensor(self._fold), index, axis=0)
            folded = keras.random.uniform(ops.shape(p), seed=self.seed_generator) < p
            index = ops.where(folded, ops.zeros_like(index), index)
        scale = ops.take(ops.convert_to_tensor(self._scale), index, axis=0)
        deviation = rows_of(self.embeddings, index)
        if training and self.l2 and self._penalty is not None:
            penalised = deviation if not self.fold_k else rows_of(self.embeddings, seen)
            self.add_loss(batch_penalty(self.l2, self._penalty, seen, penalised))
        # e_0 by a gather, not a slice: a slice's gradient is a dense table, a gather's one row
        unknown = rows_of(self.embeddings, ops.zeros((1,), "int32"))[0]
        return unknown + ops.expand_dims(scale, -1) * deviation

    def row_variables(self) -> list[Any]:
        """The variables a batch touches only in its rows (training/loop/table_optimizer.py)."""
        return [self.embeddings]

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape, self.output_dim)

    def table(self) -> np.ndarray:
        """The effective embedding table ``e_0 + s_c · d_c`` (float32), row 0 = ``e_0``."""
        weights = np.asarray(self.embeddings.numpy(), dtype=np.float32)
        return (weights[0] + self._scale[:, None] * weights).astype(np.float32)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "counts": self.counts,
            "output_dim": self.output_dim,
            "k": self.k,
            "l2": self.l2,
            "fold_k": self.fold_k,
            "seed": self.seed,
            "rows": self.rows,
        }


@keras.saving.register_keras_serializable(package="catembed")
class DeviationL2(keras.regularizers.Regularizer):
    """``l2 · Σ_{c≥1} ‖d_c‖²``: the prior on the deviations; the unknown row 0 is not penalised."""

    def __init__(self, l2: float) -> None:
        self.l2 = float(l2)

    def __call__(self, weights: Any) -> Any:
        return self.l2 * ops.sum(ops.square(weights[1:]))

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}
