"""2-D maps of the embedding tables, and each category value's effect on the prediction.

What the explorer page draws: for one feature, a point per vocabulary value (PCA of its learned
vectors, or the raw vectors when they already have two dimensions), its training count, and the
"model effect" of the value: how the prediction moves when only this feature takes this value on
a reference record (the manifest's example). All of it is NumPy, deterministic (PCA signs are
fixed), computed once per feature and cached on this object, which lives as long as the served
model version: a hot reload brings a new, empty cache.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from app.embeddings import EmbeddingIndex
from app.predictor import Predictor


def pca_2d(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """The first two principal axes of a table's rows: (mean, axes (d, 2), coordinates (n, 2),
    share of variance per axis).

    An eigh of the d x d covariance, not an SVD of the n x d table: 50,000 values of 30
    dimensions cost one 30x30 eigenproblem. Each axis' sign is fixed (its largest loading
    positive), so the same table always gives the same picture."""
    x = np.asarray(table, dtype=np.float64)
    if len(x) == 0:  # every value was folded: an empty map
        return np.zeros(x.shape[1]), np.zeros((x.shape[1], 2)), np.zeros((0, 2)), [0.0, 0.0]
    mean = x.mean(axis=0)
    centred = x - mean
    covariance = centred.T @ centred / max(len(x) - 1, 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(-eigenvalues, kind="stable")[:2]
    axes = eigenvectors[:, order]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
    axes = axes * np.where(signs == 0, 1, signs)
    if axes.shape[1] < 2:  # a 1-dimensional embedding: the second axis is flat
        axes = np.column_stack([axes, np.zeros(len(axes))])
    total = float(eigenvalues.clip(min=0).sum()) or 1.0
    explained = [float(max(eigenvalues[i], 0) / total) for i in order] + [0.0] * (2 - len(order))
    return mean, axes, centred @ axes, explained


class Projections:
    def __init__(self, predictor: Predictor, embeddings: EmbeddingIndex) -> None:
        self.predictor = predictor
        self.embeddings = embeddings
        self._cache: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def projection(self, feature: str, method: str = "pca") -> dict[str, Any]:
        self.embeddings._feature(feature)  # NotFound (404) naming the features, before any work
        with self._lock:
            if feature not in self._cache:
                self._cache[feature] = self._compute(feature)
        return {**self._cache[feature], "method": method}

    def _compute(self, feature: str) -> dict[str, Any]:
        encoder = self.predictor.encoder.categorical_[feature]
        table = self.embeddings.tables[feature]
        dimension = int(table.shape[1])
        # the unknown row is placed with the same axes but does not shape them: it is not a category
        explained: list[float] = []  # raw vectors: no axes were chosen
        if dimension == 2:
            coords, projection = table[1:].astype(np.float64), "raw"
            unknown_xy = table[0].astype(np.float64)
        else:
            mean, axes, coords, explained = pca_2d(table[1:])
            projection = "pca"
            unknown_xy = (table[0] - mean) @ axes
        effect, reference, reference_output, effect_of = self._effects(feature)
        return {
            "feature": feature,
            "projection": projection,
            "dimension": dimension,
            "explained_variance": explained,
            "size": len(encoder.vocabulary_),
            "values": list(encoder.vocabulary_),
            "counts": list(encoder.counts_),
            "x": _rounded(coords[:, 0]),
            "y": _rounded(coords[:, 1]),
            "effect": _rounded(effect[1:]),
            "effect_of": effect_of,
            "reference": reference,
            "reference_output": reference_output,
            "unknown": {"x": float(unknown_xy[0]), "y": float(unknown_xy[1]), "effect": float(effect[0])},
        }

    def _effects(self, feature: str) -> tuple[np.ndarray, dict[str, Any], float, str]:
        """Prediction change per table row (row 0 = unknown) when only ``feature`` varies on the
        reference record: one graph call over the whole vocabulary, not one request per value."""
        predictor = self.predictor
        reference = dict(predictor.manifest.get("example") or {})
        columns = {name: [reference.get(name)] for name in predictor.encoder.features}
        batch = predictor.encoder.transform(columns)
        n = self.embeddings.tables[feature].shape[0]
        position = predictor.categorical.index(feature)
        codes = [np.repeat(c, n) for c in batch.categorical]
        codes[position] = np.arange(n, dtype=np.int32)
        numeric = None if batch.numeric is None else np.repeat(batch.numeric, n, axis=0)
        scores, effect_of = self._scores(predictor.graph(codes, numeric), batch)
        base = float(self._scores(predictor.graph(batch.categorical, batch.numeric), batch)[0][0])
        return scores - base, reference, base, effect_of

    def _scores(self, output: np.ndarray, reference: Any) -> tuple[np.ndarray, str]:
        """One number per row: P(positive class), P(reference's predicted class), or the value."""
        predictor = self.predictor
        if predictor.task == "regression":
            return np.asarray(
                predictor.target.values(output), dtype=np.float64
            ), f"predicted {predictor.manifest['target']['name']}"
        proba = predictor.target.probabilities(output)
        if proba.shape[1] == 2:
            return proba[:, 1], f"P({predictor.manifest['target']['name']} = {predictor.labels[1]})"
        base = predictor.target.probabilities(predictor.graph(reference.categorical, reference.numeric))
        label = int(base[0].argmax())
        return proba[:, label], f"P({predictor.manifest['target']['name']} = {predictor.labels[label]})"


def _rounded(column: np.ndarray) -> list[float]:
    """Six decimals: a 50,000-value map is half the JSON, and nothing a screen could show is lost."""
    rounded: list[float] = np.round(np.asarray(column, dtype=np.float64), 6).tolist()
    return rounded
