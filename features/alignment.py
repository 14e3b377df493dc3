"""Orthogonal Procrustes: turning one embedding table onto another.

An embedding is defined up to a rotation: two networks trained on the same rows learn the same
geometry in different coordinates. ``rotation(a, b)`` is the orthogonal R minimising ‖a − b R‖
(R = U Vᵀ from the SVD of bᵀ a); the service's version comparison measures what is left after it
(app/comparison.py), and an ensemble of K networks serves one vector per value, the members'
tables turned onto member 0's and averaged (``aligned_mean``): the feature's own width, in the
coordinates of one network, so neighbours, maps and ``/embed`` see one space.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The orthogonal matrix R (b's width × a's width, equal here) that minimises ‖a − b R‖."""
    u, _, vt = np.linalg.svd(np.asarray(b, np.float64).T @ np.asarray(a, np.float64))
    return u @ vt


def aligned_mean(tables: Sequence[np.ndarray]) -> np.ndarray:
    """The members' tables of one feature (rows alike, width d each) as one d-wide table: each
    rotated onto the first (its rows centred for the fit, so a shared offset does not pull the
    rotation) and the rotated tables averaged; float32."""
    first = np.asarray(tables[0], np.float64)
    centre = first.mean(axis=0)
    turned = [first]
    for table in tables[1:]:
        table = np.asarray(table, np.float64)
        shift = table.mean(axis=0)
        r = rotation(first - centre, table - shift)
        turned.append((table - shift) @ r + centre)
    return np.mean(turned, axis=0).astype(np.float32)
