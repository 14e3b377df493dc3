"""The served model: a NumPy forward pass of the trained Keras network.

The Keras model (``model.keras``) stays the source of truth. At training time its weights are
exported to ``graph.npz`` plus a small layer list in the manifest, and training refuses to write
a bundle unless this forward pass matches Keras to 1e-5 on the validation rows. The service then
needs neither TensorFlow (533 MB and 4.6 s just to import here) nor a converter runtime: one row
costs a handful of NumPy calls, a batch is a few matrix products.

Supported ops are exactly what ``training.model.network`` builds: per-feature embedding lookup, the
numeric expansion (features.expansion: piecewise-linear ramps, periodic embeddings), concat,
then the layer ops of features.graph_ops: dense, folded batch normalisation (affine),
activation, and for an ensemble of K networks (training.loop.ensemble) grouped dense layers and the
members' mean.

Speed: the first dense layer is linear in its input, and its input is the concatenation of
embedding rows, so ``concat(E_i[c_i]) @ W + b == sum_i (E_i @ W_i)[c_i] + numeric @ W_num + b``.
The products ``E_i @ W_i`` are computed once at load (in float64, then float32), which turns the
widest matrix product of the network into a gather-and-add (10,000 rows: ~10 ms instead of ~20 ms
on one core here).

Batch invariance: a record gets the same bits alone, in any batch, at any position of it, from
one process or several. Rows are padded to a multiple of the row-block height and every product
is a stack of products of that height (features.row_blocks, which checks at build time that
this process' BLAS computes each row of such a block alike), a short batch or one record padded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from features import row_blocks
from features.expansion import Expansion, ExpansionChain
from features.graph_ops import ACTIVATIONS, compile_op
from features.row_blocks import one_blas_thread, stable_block_rows

# Batches above this many rows run chunk by chunk (see InferenceGraph.__call__): at 1,024 rows the
# widest intermediate (rows × 256 float32) is 1 MB, which stays in the L2 cache here. A multiple
# of every row-block height, so chunks need no padding but the last.
CHUNK_ROWS = 1024
PROJECT_ROWS = 16_384  # table rows per float64 block of the first layer's projection (~64 MB at 512 units)
# Up to this many rows the first layer gathers every feature's rows in one call (a request of a
# few records pays one NumPy call, not one per feature); above, feature by feature, in cache.
_GATHER_AT_ONCE = 64


def vector_columns(features: Sequence[str], tables: Sequence[np.ndarray], kind: str = "emb") -> list[str]:
    """``<feature>__<kind><j>`` for each column of each feature's table, in order: the names of the
    embedding columns of ``InferenceGraph.features`` (``emb``: POST /embed, ``EmbeddingFeatures``,
    out-of-fold vectors), and of their principal components (``pc``)."""
    return [f"{feature}__{kind}{j}" for feature, table in zip(features, tables, strict=True) for j in range(table.shape[1])]


class InferenceGraph:
    """embeddings (one table per categorical feature) → concat with numeric → layers."""

    def __init__(
        self,
        embeddings: Sequence[np.ndarray],
        layers: Sequence[dict[str, Any]],
        numeric_width: int,
        expansion: ExpansionChain | Expansion | None = None,
        vectors: Sequence[np.ndarray] | None = None,
    ) -> None:
        self.embeddings = [np.ascontiguousarray(e, dtype=np.float32) for e in embeddings]
        # the vectors served per value (GET /embeddings, POST /embed, maps): the network's own
        # tables, or for an ensemble of K networks one table per feature of the feature's own width
        # (features.alignment.aligned_mean) while the layers read the K members' tables side by side
        self.vectors = self.embeddings if vectors is None else [np.ascontiguousarray(v, dtype=np.float32) for v in vectors]
        # applied to the numeric input before everything else (features.expansion)
        self.expansion = expansion if expansion is None or isinstance(expansion, ExpansionChain) else ExpansionChain([expansion])
        self.layers = list(layers)
        self.numeric_width = numeric_width
        kernels = [layer["kernel"] for layer in self.layers if "kernel" in layer]
        # the row-block height this process' BLAS keeps every row of alike (features.row_blocks)
        self.block_rows = stable_block_rows(kernels + (self.expansion.kernels if self.expansion is not None else []))
        self._steps = [compile_op(layer, self.block_rows) for layer in self.layers]
        self._project_first_layer()

    @property
    def input_width(self) -> int:
        added = self.expansion.added_width if self.expansion is not None else 0
        return sum(e.shape[1] for e in self.embeddings) + self.numeric_width + added

    def _expand(self, numeric: np.ndarray | None) -> np.ndarray | None:
        return numeric if numeric is None or self.expansion is None else self.expansion(numeric, self.block_rows)

    def features(self, categorical: Sequence[np.ndarray], numeric: np.ndarray | None) -> np.ndarray:
        """The concatenated served vectors and encoded numeric inputs (POST /embed, and the
        features another model gets). The dense stack sees the network's tables (the same but
        for an ensemble) plus the numeric expansion."""
        return self._concat(self.vectors, categorical, numeric)

    @staticmethod
    def _concat(tables: Sequence[np.ndarray], categorical: Sequence[np.ndarray], numeric: np.ndarray | None) -> np.ndarray:
        parts = [table[index] for table, index in zip(tables, categorical, strict=True)]
        if numeric is not None:
            parts.append(numeric)
        return np.concatenate(parts, axis=1, dtype=np.float32) if len(parts) > 1 else parts[0]

    def __call__(self, categorical: Sequence[np.ndarray], numeric: np.ndarray | None) -> np.ndarray:
        n = len(categorical[0]) if len(categorical) else (0 if numeric is None else len(numeric))
        with one_blas_thread():
            if n <= CHUNK_ROWS:
                return self._forward(categorical, numeric)
            # Chunks whose intermediates stay in the CPU cache: every layer then reads and writes
            # cache, not memory (10,000 demo rows: 13 ms instead of 15–20 on one core). Rows are
            # independent and meet the same block products in any chunk, so chunking changes no bit.
            out: np.ndarray | None = None
            for start in range(0, n, CHUNK_ROWS):
                stop = start + CHUNK_ROWS
                part = self._forward([c[start:stop] for c in categorical], None if numeric is None else numeric[start:stop])
                if out is None:
                    out = np.empty((n, part.shape[1]), dtype=part.dtype)
                out[start:stop] = part
            assert out is not None
            return out

    def one(self, codes: Sequence[int], numeric: np.ndarray | None) -> np.ndarray:
        """One row, given as one index per categorical feature: the single-record path. The same
        float32 operations in the same order as a batch (its products padded to a block), so
        the same bits, with the per-feature gathers done as one."""
        numeric = None if numeric is None else numeric.reshape(1, -1)
        with one_blas_thread():
            if self._projected is None:
                return self._forward([np.asarray([c], dtype=np.intp) for c in codes], numeric)
            x = self._numeric_and_bias(numeric, 1)
            rows = self._projected.take([c + o for c, o in zip(codes, self._offset_list, strict=True)], axis=0)
            # a reduction down axis 0 adds row after row, as the batch path's loop does
            x = np.add.reduce(np.concatenate([x, rows]), axis=0, keepdims=True)
            x = self._first_activation(x)
            for step in self._steps[1:]:
                x = step(x)
            return x

    def _forward(self, categorical: Sequence[np.ndarray], numeric: np.ndarray | None) -> np.ndarray:
        if self._projected is None:
            x = self._concat(self.embeddings, categorical, self._expand(numeric))
            steps = self._steps
        else:
            x = self._first_layer(categorical, numeric)
            steps = self._steps[1:]
        for step in steps:
            x = step(x)
        return x

    def _project_first_layer(self) -> None:
        self._projected: np.ndarray | None = None
        if not self.embeddings or not self.layers or self.layers[0]["op"] != "dense":
            return
        kernel = np.asarray(self.layers[0]["kernel"], dtype=np.float64)
        # float64 products in blocks of rows, each rounded once into the float32 result: the
        # same numbers as one product per table, without a float64 copy of every table (a
        # 100,000-value table × 512 units is 400 MB in float64)
        self._projected = np.empty((sum(len(t) for t in self.embeddings), kernel.shape[1]), dtype=np.float32)
        row = start = 0
        for table in self.embeddings:
            width = table.shape[1]
            for first in range(0, len(table), PROJECT_ROWS):
                block = table[first : first + PROJECT_ROWS].astype(np.float64) @ kernel[row : row + width]
                self._projected[start + first : start + first + len(block)] = block
            row += width
            start += len(table)
        self._offset_list: list[int] = np.cumsum([0] + [len(t) for t in self.embeddings[:-1]]).tolist()
        self._numeric_kernel = np.ascontiguousarray(self.layers[0]["kernel"][row:], dtype=np.float32)
        self._bias = np.asarray(self.layers[0]["bias"], dtype=np.float32)
        self._first_activation = ACTIVATIONS[self.layers[0].get("activation", "linear")]

    def _numeric_and_bias(self, numeric: np.ndarray | None, n: int) -> np.ndarray:
        """The first layer's numeric part plus its bias, before the embedding rows are added."""
        numeric = self._expand(numeric)
        if numeric is None:
            return np.broadcast_to(self._bias, (n, len(self._bias))).copy()
        x = row_blocks.matmul(numeric.astype(np.float32, copy=False), self._numeric_kernel, self.block_rows)
        x += self._bias
        return x

    def _first_layer(self, categorical: Sequence[np.ndarray], numeric: np.ndarray | None) -> np.ndarray:
        assert self._projected is not None
        n = len(categorical[0])
        x = self._numeric_and_bias(numeric, n)
        if n <= _GATHER_AT_ONCE:  # one gather, then row after row down axis 0: the loop's additions, in its order
            index = np.add(categorical, np.asarray(self._offset_list)[:, None])
            rows = self._projected.take(index, axis=0)
            return self._first_activation(np.add.reduce(np.concatenate([x[None], rows]), axis=0))
        for codes, offset in zip(categorical, self._offset_list, strict=True):
            x += self._projected.take(codes + offset if offset else codes, axis=0)  # (take with out= is 3x slower)
        return self._first_activation(x)

    # ---- persistence: arrays in an .npz (no pickle), the layer list in the manifest ----

    def save(self, path: Path) -> dict[str, Any]:
        arrays: dict[str, np.ndarray] = {f"embedding_{i}": e for i, e in enumerate(self.embeddings)}
        described = []
        for j, layer in enumerate(self.layers):
            entry = {k: v for k, v in layer.items() if not isinstance(v, np.ndarray)}
            for key, value in layer.items():
                if isinstance(value, np.ndarray):
                    arrays[f"layer{j}_{key}"] = value
            described.append(entry)
        description: dict[str, Any] = {"numeric_width": self.numeric_width, "n_embeddings": len(self.embeddings)}
        if self.vectors is not self.embeddings:
            arrays.update({f"vectors_{i}": v for i, v in enumerate(self.vectors)})
            description["served_vectors"] = True
        if self.expansion is not None:
            arrays.update(self.expansion.arrays())
            description["numeric_expansion"] = self.expansion.kind
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        return {**description, "layers": described}

    @classmethod
    def load(cls, path: Path, description: dict[str, Any]) -> InferenceGraph:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        embeddings = [arrays[f"embedding_{i}"] for i in range(description["n_embeddings"])]
        layers = []
        for j, entry in enumerate(description["layers"]):
            layer = dict(entry)
            prefix = f"layer{j}_"
            layer.update({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
            layers.append(layer)
        kind = description.get("numeric_expansion")
        expansion = None if kind is None else ExpansionChain.load(kind, arrays)
        vectors = [arrays[f"vectors_{i}"] for i in range(len(embeddings))] if description.get("served_vectors") else None
        return cls(embeddings, layers, description["numeric_width"], expansion, vectors)
