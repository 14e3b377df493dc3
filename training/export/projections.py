"""The explorer's maps, computed when the bundle is written: ``projections.npz``.

Per categorical feature, two maps of its embedding table (row 0, the unknown vector, included):

- ``pca``: the first three principal axes (features.projection.pca, the computation the service
  falls back to for older bundles), so the 3-D view needs nothing at request time;
- ``tsne``: openTSNE with the cosine metric (the metric of the service's nearest values), so the
  clusters on the map agree with a value's card. Features with fewer than ``TSNE_MIN_VALUES``
  values get only PCA: a neighbourhood embedding of a handful of points says nothing PCA does not.

openTSNE was picked over umap-learn and scikit-learn's t-SNE by bench/projection_methods.py
(docs/explorer.md has the numbers). It lives in the ``train`` extra; the service reads the arrays.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from features.projection import PCA_COMPONENTS, pca, stored_key

TSNE_MIN_VALUES = 16
PERPLEXITY = 30.0


def tsne(table: np.ndarray, seed: int) -> np.ndarray:
    """2-D openTSNE of the rows of ``table``; the perplexity shrinks for small tables (openTSNE needs
    3 × perplexity < rows)."""
    from openTSNE import TSNE

    rows = len(table)
    perplexity = min(PERPLEXITY, max((rows - 1) / 3.0 - 1.0, 2.0))
    # cosine as Euclidean distance between unit rows (|a - b|² = 2 - 2 cos): the same neighbours,
    # found by Annoy (compiled C++) instead of pynndescent, whose numba compilation alone took
    # longer than a 3,000-value map here
    x = np.asarray(table, dtype=np.float64)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    model = TSNE(
        n_components=2,
        perplexity=perplexity,
        metric="euclidean",
        neighbors="exact" if rows <= 1000 else "annoy",
        # Barnes-Hut is the faster of openTSNE's two below ~10,000 points, the FFT interpolation above
        negative_gradient_method="bh" if rows < 10_000 else "fft",
        initialization="pca",
        random_state=seed,
        n_jobs=1,  # the training process' other threads are done; a loaded machine gains little from 2
        verbose=False,
    )
    return np.asarray(model.fit(unit), dtype=np.float64)


def compute_projections(
    names: Sequence[str], tables: Sequence[np.ndarray], seed: int, log: Callable[[str], None]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays of projections.npz and the manifest's ``projections`` entry."""
    arrays: dict[str, np.ndarray] = {}
    features: dict[str, dict[str, Any]] = {}
    for position, (name, table) in enumerate(zip(names, tables, strict=True)):
        table = np.asarray(table, dtype=np.float64)
        mean, axes, _, explained = pca(table[1:])
        key = stored_key("pca", position)
        arrays[key] = ((table - mean) @ axes).astype(np.float32)  # the unknown row placed with the values' axes
        entry: dict[str, Any] = {"pca": {"array": key, "explained_variance": [round(e, 6) for e in explained]}}
        values = len(table) - 1
        if values >= TSNE_MIN_VALUES:
            started = time.perf_counter()
            key = stored_key("tsne", position)
            arrays[key] = tsne(table, seed).astype(np.float32)
            seconds = time.perf_counter() - started
            entry["tsne"] = {"array": key, "metric": "cosine", "seconds": round(seconds, 3)}
            if seconds > 5:
                log(f"t-SNE map of {name}: {values:,} values in {seconds:.1f} s")
        features[name] = entry
    about = {"components": {"pca": PCA_COMPONENTS, "tsne": 2}, "library": _versions(), "features": features}
    return arrays, about


def _versions() -> dict[str, str]:
    from importlib import metadata

    return {"openTSNE": metadata.version("openTSNE")}
