"""BatchScorer: Arrow record batches → the service's predictions, with its warnings counted.

The path is the service's: the bundle's fitted ``TabularEncoder.transform`` on columns of Python
values (categories) and float64 arrays (numbers), then its NumPy ``InferenceGraph`` and target
encoder. Warnings are counted per feature by ``features.tally``, as the service counts them. A batch that fails to convert is handed to ``scoring.rejects``,
which checks its rows one by one to say which ones and why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from features.arrow_batch import encode_batch
from features.artifacts import Bundle
from features.encoder import EncodedBatch
from features.errors import InvalidInput
from features.tally import WarningTally

GRAPH_ROWS = 4096


class BadBatch(Exception):
    """A batch with at least one value the encoder cannot take; the rows are found afterwards."""


class BatchScorer:
    def __init__(self, bundle: Bundle) -> None:
        self.name, self.version, self.task = bundle.name, bundle.version, bundle.manifest["task"]
        self.encoder, self.graph, self.target = bundle.encoder, bundle.graph, bundle.target
        self.categorical: list[str] = list(self.encoder.categorical)
        self.numeric: list[str] = list(self.encoder.numeric)
        self.features = self.encoder.features  # each column once: a "both" column is categorical and numeric
        self.labels: list[Any] = list(getattr(self.target, "classes_", []))
        self.counts = self.zero_counts()

    def zero_counts(self) -> WarningTally:
        return WarningTally.for_features(self.categorical, self.numeric)

    @property
    def output_fields(self) -> list[pa.Field]:
        if self.task == "regression":
            return [pa.field("prediction", pa.float64())]
        probabilities = [pa.field(f"p_{label}", pa.float64()) for label in self.labels]
        return [*probabilities, pa.field("label", pa.array(self.labels).type)]

    def predict(self, batch: pa.RecordBatch) -> list[pa.Array]:
        """The prediction columns of a batch, in ``output_fields`` order; BadBatch if a value cannot be encoded."""
        encoded = self._encode(batch)
        self.counts.count(encoded)
        output = self._forward(encoded)
        if self.task == "regression":
            return [pa.array(self.target.values(output), pa.float64())]
        proba = self.target.probabilities(output)
        labels = pa.array(self.labels).take(pa.array(proba.argmax(axis=1)))
        return [*(pa.array(proba[:, j]) for j in range(proba.shape[1])), labels]

    def _encode(self, batch: pa.RecordBatch) -> EncodedBatch:
        try:
            return encode_batch(self.encoder, batch)  # the shared Arrow half of the contract
        except InvalidInput as exc:
            raise BadBatch(exc.message) from None

    def _forward(self, encoded: Any) -> np.ndarray:
        """The graph over cache-sized slices: its (rows, 256) float32 intermediates stay in L2
        instead of streaming 64 MB arrays through memory (measured on the demo model: 232k rows/s
        with 4,096-row slices, 100k with 65,536-row products), while I/O keeps its larger batches."""
        n = encoded.n_rows
        if n <= GRAPH_ROWS:
            return self.graph(encoded.categorical, encoded.numeric)
        parts = []
        for start in range(0, n, GRAPH_ROWS):
            part = slice(start, start + GRAPH_ROWS)
            numeric = None if encoded.numeric is None else encoded.numeric[part]
            parts.append(self.graph([codes[part] for codes in encoded.categorical], numeric))
        return np.concatenate(parts)
