"""Two versions of a model side by side: which category values moved between them.

Two trainings never give the same coordinates, even on the same data: an embedding is defined up
to a rotation. So the tables are first aligned on the values both versions have: each centred
and scaled to a root-mean-square row length of 1, then the older one rotated onto the newer one by
orthogonal Procrustes (R = U Vᵀ from the SVD of Bᵀ A, the rotation that minimises ‖A − B R‖; a
narrower table is padded with zero columns). What is left per value, ‖a_i − b_i R‖ in units of a
typical vector's length, is how far the value moved: a value the two versions agree on stays put,
one they learned differently stands out.

The cost is bounded by the vocabulary: one d × d SVD and a pass over the shared rows (a 50,000-value
table of 32 dimensions is milliseconds). The other version's bundle is loaded from disk (checksums
verified, as any load) and a few are kept, keyed by folder and graph checksum.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from app.serving import ServedModel
from features.alignment import rotation
from features.artifacts import list_versions, load_bundle, read_manifest
from features.errors import NotFound

KEEP_BUNDLES = 3


def procrustes_distances(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """Per shared row, the distance left after rotating ``b`` onto ``a`` (both centred, scaled to
    RMS row length 1); and the disparity, the mean squared distance (0: the same map up to
    rotation, 2: unrelated)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    width = max(a.shape[1], b.shape[1])
    a = np.pad(a, ((0, 0), (0, width - a.shape[1])))
    b = np.pad(b, ((0, 0), (0, width - b.shape[1])))
    a, b = _standardised(a), _standardised(b)
    residual = a - b @ rotation(a, b)
    distance = np.linalg.norm(residual, axis=1)
    return distance, float(np.mean(distance**2)) if len(distance) else 0.0


def _standardised(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=0) if len(x) else x
    scale = np.sqrt(np.mean(np.sum(centred**2, axis=1))) if len(x) else 1.0
    return centred / (scale or 1.0)


class Comparisons:
    """Loaded versions (encoder vocabularies and tables), a few at a time."""

    def __init__(self) -> None:
        self._loaded: OrderedDict[tuple[str, str], tuple[Any, dict[str, np.ndarray]]] = OrderedDict()
        self._lock = threading.Lock()

    def compare(self, served: ServedModel, feature: str, before: int | None, after: int | None) -> dict[str, Any]:
        served.embeddings._feature(feature)  # 404 naming the features of the served version
        folder = Path(served.predictor.bundle.path).parent
        versions = list_versions(folder)
        after = served.predictor.version if after is None else after
        if before is None:  # the newest version older than `after`, if there is one
            before = max((v for v in versions if v < after), default=None)
        found: dict[str, Any] = {"feature": feature, "versions": versions, "from": before, "to": after}
        for version in (after, before):
            if version is not None and version not in versions:
                raise NotFound(
                    f"model {served.predictor.name!r} has no version {version} on disk",
                    field="version",
                    value=version,
                    expected="one of " + ", ".join(map(str, versions)),
                )
        if before is None or before == after:
            return {
                **found,
                "from": None,
                "shared": 0,
                "only_from": 0,
                "only_to": 0,
                "disparity": None,
                "values": [],
                "distance": [],
            }
        new_encoder, new_tables = self._version(served, folder, after)
        old_encoder, old_tables = self._version(served, folder, before)
        if feature not in old_tables or feature not in new_tables:
            missing = before if feature not in old_tables else after
            raise NotFound(
                f"version {missing} of {served.predictor.name!r} has no categorical feature {feature!r}",
                field="feature",
                value=feature,
            )
        new_values = new_encoder.categorical_[feature].vocabulary_
        old_index = old_encoder.categorical_[feature].index_
        rows_new = [i for i, v in enumerate(new_values) if v in old_index]
        rows_old = [old_index[new_values[i]] for i in rows_new]  # table row = vocabulary position + 1
        a = new_tables[feature][1:][rows_new]
        b = old_tables[feature][np.asarray(rows_old, dtype=np.int64)]
        distance, disparity = procrustes_distances(a, b)
        order = np.argsort(-distance, kind="stable")
        counts_new = new_encoder.categorical_[feature].counts_
        counts_old = old_encoder.categorical_[feature].counts_
        return {
            **found,
            "shared": len(rows_new),
            "only_from": len(old_index) - len(rows_new),
            "only_to": len(new_values) - len(rows_new),
            "disparity": round(disparity, 6),
            "dimensions": {"from": int(old_tables[feature].shape[1]), "to": int(new_tables[feature].shape[1])},
            "values": [new_values[rows_new[i]] for i in order],
            "distance": np.round(distance[order], 6).tolist(),
            "counts_from": [int(counts_old[rows_old[i] - 1]) for i in order],
            "counts_to": [int(counts_new[rows_new[i]]) for i in order],
        }

    def _version(self, served: ServedModel, folder: Path, version: int) -> tuple[Any, dict[str, np.ndarray]]:
        if version == served.predictor.version and Path(served.predictor.bundle.path).parent == folder:
            return served.predictor.encoder, served.embeddings.tables
        path = folder / str(version)
        key = (str(path), read_manifest(path).get("files", {}).get("graph.npz", ""))  # a rewritten folder is another key
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
        bundle = load_bundle(folder, version)
        loaded = (bundle.encoder, dict(zip(bundle.encoder.categorical, bundle.graph.vectors, strict=True)))
        with self._lock:
            self._loaded[key] = loaded
            while len(self._loaded) > KEEP_BUNDLES:
                self._loaded.popitem(last=False)
        return loaded
