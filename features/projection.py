"""Map coordinates of the embedding tables: the PCA both sides compute, and ``projections.npz``.

Training computes each categorical feature's coordinates once, where the heavy libraries already
are (PCA with three axes, and t-SNE: training/export/projections.py), and stores them in the bundle
as plain arrays. The service reads that file as data (``allow_pickle=False``, every array checked
against its table) and serves the coordinates; a bundle written before the file existed gets the
same PCA computed here, at request time. NumPy only: the service image gains nothing.

Row 0 of every stored array is the unknown vector, like row 0 of the embedding table: it is placed
on the map but does not shape the PCA axes (it is not a category).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from features.errors import BundleError

PROJECTIONS = "projections.npz"
PCA_COMPONENTS = 3  # the 3-D view's axes; the 2-D map uses the first two


def pca(table: np.ndarray, components: int = PCA_COMPONENTS) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """The first principal axes of a table's rows: (mean, axes (d, k), coordinates (n, k), share of
    variance per axis), k = ``components``; axes beyond the table's dimension are flat (zero).

    An eigh of the d x d covariance, not an SVD of the n x d table: 50,000 values of 30
    dimensions cost one 30x30 eigenproblem. Each axis' sign is fixed (its largest loading
    positive), so the same table always gives the same picture."""
    x = np.asarray(table, dtype=np.float64)
    d = x.shape[1]
    if len(x) == 0:  # every value was folded: an empty map
        return np.zeros(d), np.zeros((d, components)), np.zeros((0, components)), [0.0] * components
    mean = x.mean(axis=0)
    centred = x - mean
    covariance = centred.T @ centred / max(len(x) - 1, 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(-eigenvalues, kind="stable")[:components]
    axes = eigenvectors[:, order]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
    axes = axes * np.where(signs == 0, 1, signs)
    if axes.shape[1] < components:  # a narrower embedding: the missing axes are flat
        axes = np.column_stack([axes, np.zeros((d, components - axes.shape[1]))])
    total = float(eigenvalues.clip(min=0).sum()) or 1.0
    explained = [float(max(eigenvalues[i], 0) / total) for i in order] + [0.0] * (components - len(order))
    return mean, axes, centred @ axes, explained


def stored_key(method: str, position: int) -> str:
    """The array's name in projections.npz: by the feature's position, since a column name may be
    any string and an npz member is a file name."""
    return f"{method}_{position}"


def read_projections(path: Path, entry: dict[str, Any], tables: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """``{feature: {method: coordinates (rows, k)}}`` from a bundle's projections.npz, checked
    against the manifest's ``projections`` entry and the embedding tables. Nothing is unpickled."""
    file = Path(path) / PROJECTIONS
    found: dict[str, dict[str, np.ndarray]] = {}
    try:
        with np.load(file, allow_pickle=False) as stored:
            members = set(stored.files)
            for feature, methods in (entry.get("features") or {}).items():
                table = tables.get(feature)
                if table is None:
                    raise BundleError(f"{file}: coordinates for {feature!r}, which is not a categorical feature")
                for method, about in methods.items():
                    key = about.get("array") if isinstance(about, dict) else None
                    if key not in members:
                        raise BundleError(f"{file} has no array {key!r} for the {method} map of {feature!r}")
                    coords = stored[key]
                    if coords.dtype.kind != "f" or coords.ndim != 2 or coords.shape[0] != table.shape[0] or coords.shape[1] < 2:
                        raise BundleError(
                            f"{file}: the {method} map of {feature!r} has shape {coords.shape} ({coords.dtype}); "
                            f"expected ({table.shape[0]}, 2 or 3) floats, one row per table row"
                        )
                    if not np.isfinite(coords).all():
                        raise BundleError(f"{file}: the {method} map of {feature!r} holds NaN or infinite coordinates")
                    found.setdefault(feature, {})[method] = np.asarray(coords, dtype=np.float64)
    except BundleError:
        raise
    except (OSError, ValueError) as exc:  # missing, truncated, not an npz, or an object array
        raise BundleError(f"{file} could not be read as stored coordinates: {type(exc).__name__}: {exc}") from None
    return found
