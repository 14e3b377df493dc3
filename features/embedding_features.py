"""EmbeddingFeatures: a trained catembed bundle as a scikit-learn transformer for other models.

Entity embeddings help other learners (Guo & Berkhahn 2016 cut a GBM's error by 42 % with
them). This transformer gives any scikit-learn-style model the same vectors the service's
``POST /embed`` returns — it runs the bundle's own encoder and ``InferenceGraph.features``,
so there is no second lookup to drift. By default only the embedding columns are returned
(the downstream model keeps its own raw numeric columns); ``numeric=True`` appends the
encoded numeric inputs, which makes each row exactly one ``/embed`` row.

``components=K`` gives each feature's K leading principal components instead of its whole
vector: the directions along which the feature's training rows' vectors vary most (the table's
rows weighted by their training counts; the unknown row by the rows folded into it or missing).
A tree model splits one column at a time, and a 170-wide vector spreads what it knows over 170
weak columns; on hotel_rates LightGBM gained with one component per feature and lost with the
whole vectors (docs/decisions.md: first-components). The projection is fitted from the bundle, not from ``X``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from features.artifacts import load_bundle
from features.graph import vector_columns
from features.params import ParamsMixin


class EmbeddingFeatures(ParamsMixin):
    """``fit`` loads (and verifies) the bundle at ``model_dir`` (newest version unless
    ``version``); ``transform(frame)`` → float32 (n, total embedding width [+ numeric]).

    Learned: ``bundle_``, ``feature_names_out_``; with ``components``, ``projected_`` (per
    feature, every table row's K coordinates).
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        version: int | None = None,
        numeric: bool = False,
        components: int | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.version = version
        self.numeric = numeric
        self.components = components

    def fit(self, X: Any = None, y: Any = None) -> EmbeddingFeatures:
        if self.model_dir is None:
            raise ValueError("EmbeddingFeatures needs model_dir: a folder written by `catembed train`")
        if self.components is not None and (
            isinstance(self.components, bool) or not isinstance(self.components, int) or self.components < 1
        ):
            raise ValueError(f"components must be a whole number ≥ 1 or None (whole vectors), not {self.components!r}")
        self.bundle_ = load_bundle(Path(self.model_dir), self.version)
        graph, encoder = self.bundle_.graph, self.bundle_.encoder
        if self.components is None:
            names = vector_columns(encoder.categorical, graph.vectors)
        else:
            self.projected_ = [
                principal_coordinates(table, row_weights(encoder.categorical_[feature]), self.components)
                for feature, table in zip(encoder.categorical, graph.vectors, strict=True)
            ]
            names = vector_columns(encoder.categorical, self.projected_, "pc")
        if self.numeric:
            names += list(self.bundle_.manifest.get("numeric_inputs", []))
        self.feature_names_out_ = np.asarray(names, dtype=object)
        return self

    def transform(self, X: Any) -> np.ndarray:
        self._check_fitted("bundle_")
        batch = self.bundle_.encoder.transform(X)
        numeric = batch.numeric if self.numeric else None
        if not batch.categorical and numeric is None:
            return np.zeros((len(X), 0), dtype=np.float32)
        if self.components is None:
            return np.asarray(self.bundle_.graph.features(batch.categorical, numeric), dtype=np.float32)
        parts = [table[codes] for table, codes in zip(self.projected_, batch.categorical, strict=True)]
        if numeric is not None:
            parts.append(numeric)
        return np.concatenate(parts, axis=1, dtype=np.float32) if parts else np.zeros((len(X), 0), dtype=np.float32)

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X, y).transform(X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        self._check_fitted("feature_names_out_")
        return self.feature_names_out_


def row_weights(categorical: Any) -> np.ndarray:
    """How many training rows each table row stood for: the values' counts, and for row 0 the
    rare values folded into it plus the missing ones."""
    unknown = getattr(categorical, "n_rare_rows_", 0) + getattr(categorical, "n_missing_rows_", 0)
    return np.asarray([unknown, *categorical.counts_], dtype=np.float64)


def principal_coordinates(table: np.ndarray, weights: np.ndarray, components: int) -> np.ndarray:
    """(rows, d) table → (rows, min(components, d)): each row's coordinates on the weighted
    principal axes, largest variance first. Signs are fixed (each axis' largest loading is
    positive) so a refit of the same bundle gives the same columns."""
    table = np.asarray(table, dtype=np.float64)
    weights = weights if weights.sum() > 0 else np.ones(len(table))
    mean = weights @ table / weights.sum()
    centred = table - mean
    covariance = (centred * weights[:, None]).T @ centred / weights.sum()
    _, vectors = np.linalg.eigh(covariance)  # eigenvalues ascending
    axes = vectors[:, ::-1][:, : min(components, table.shape[1])]
    axes *= np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
    return (centred @ axes).astype(np.float32)
