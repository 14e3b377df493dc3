"""The maps of the embedding tables, and each category value's effect on the prediction.

What the explorer page draws: for one feature, a point per vocabulary value, its training count,
and the "model effect" of the value: how the prediction moves when only this feature takes this
value on a reference record (the manifest's example).

The coordinates come from the bundle's ``projections.npz`` when it has one (PCA with three axes
and t-SNE, computed at training time: training/export/projections.py), read once at load as plain
arrays. A bundle written before that file existed gets PCA computed here on the first request
(features.projection.pca, the same computation). Effects are NumPy, computed once per feature and
cached on this object, which lives as long as the served model version: a hot reload brings a
new, empty cache.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from app.embeddings import EmbeddingIndex
from app.predictor import Predictor
from features.errors import InvalidInput
from features.projection import PROJECTIONS, pca, read_projections


def pca_2d(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """The first two principal axes (features.projection.pca with two components)."""
    return pca(table, components=2)


class Projections:
    def __init__(self, predictor: Predictor, embeddings: EmbeddingIndex) -> None:
        self.predictor = predictor
        self.embeddings = embeddings
        entry = predictor.manifest.get("projections")
        # read at load, right after the checksums were verified; a malformed file refuses the bundle
        self.stored = (
            read_projections(predictor.bundle.path, entry, embeddings.tables)
            if isinstance(entry, dict) and entry.get("file") == PROJECTIONS
            else {}
        )
        self.about = entry.get("features", {}) if isinstance(entry, dict) else {}
        self._cache: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def methods(self, feature: str) -> list[str]:
        """The maps this bundle has for a feature: PCA always, t-SNE when training stored one."""
        return ["pca", *(m for m in self.stored.get(feature, {}) if m != "pca")]

    def projection(self, feature: str, method: str = "pca") -> dict[str, Any]:
        self.embeddings._feature(feature)  # NotFound (404) naming the features, before any work
        methods = self.methods(feature)
        if method not in methods:
            raise InvalidInput(
                f"feature {feature!r} has no {method!r} map in this bundle; it has {', '.join(methods)}",
                field="method",
                value=method,
                expected=" or ".join(map(repr, methods)),
            )
        with self._lock:
            if feature not in self._cache:
                self._cache[feature] = self._compute(feature)
            key = f"{feature}\0{method}"
            if key not in self._cache:
                self._cache[key] = self._coordinates(feature, method)
        base, coords = dict(self._cache[feature]), dict(self._cache[key])
        x, y, z = coords.pop("unknown_xyz")
        unknown = {"x": x, "y": y, "z": z, "effect": base.pop("unknown_effect")}
        return {**base, **coords, "unknown": unknown, "method": method, "methods": methods}

    def _coordinates(self, feature: str, method: str) -> dict[str, Any]:
        table = self.embeddings.tables[feature]
        dimension = int(table.shape[1])
        stored = self.stored.get(feature, {}).get(method)
        if method == "pca" and dimension == 2:  # raw vectors: no axes were chosen
            coords, projection, explained = table.astype(np.float64), "raw", []
        elif stored is not None:
            coords, projection = stored, method
            explained = list(self.about.get(feature, {}).get(method, {}).get("explained_variance", [])) if method == "pca" else []
        else:  # an older bundle: PCA now, as training would have stored it
            mean, axes, _, explained = pca(table[1:])
            coords, projection = (table.astype(np.float64) - mean) @ axes, "pca"
        three = coords.shape[1] >= 3 and projection == "pca" and dimension >= 3
        return {
            "projection": projection,
            "stored": stored is not None and projection != "raw",
            "explained_variance": explained[:3],
            "x": _rounded(coords[1:, 0]),
            "y": _rounded(coords[1:, 1]),
            "z": _rounded(coords[1:, 2]) if three else None,
            "unknown_xyz": [float(coords[0, 0]), float(coords[0, 1]), float(coords[0, 2]) if three else 0.0],
        }

    def _compute(self, feature: str) -> dict[str, Any]:
        encoder = self.predictor.encoder.categorical_[feature]
        table = self.embeddings.tables[feature]
        effect, reference, reference_output, effect_of = self._effects(feature)
        return {
            "feature": feature,
            "dimension": int(table.shape[1]),
            "size": len(encoder.vocabulary_),
            "values": list(encoder.vocabulary_),
            "counts": list(encoder.counts_),
            "effect": _rounded(effect[1:]),
            "effect_of": effect_of,
            "reference": reference,
            "reference_output": reference_output,
            "unknown_effect": float(effect[0]),
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
