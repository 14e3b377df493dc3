"""How rows are split: the stratified holdout and folds of a table in memory, and the
deterministic holdout of streamed rows, a hash of (file, row position).

In memory, splits are stratified by class whenever every class has a row for each side (the
holdout) or each fold, and plain otherwise: one rule for the trainer's holdout, an ensemble's
member folds and the out-of-fold networks.

Streamed, a row's side never depends on how the files are read (batch size, order, worker count) or on
anything held in memory, so the statistics pass, every epoch and every worker agree on it
without a materialised list of holdout rows. The file part is the file's path relative to the
data root, so moving the folder keeps the split.
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Any

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

_BUCKETS = 1 << 20
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def stratified_holdout(rows: int, fraction: float, seed: int, labels: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(training positions, holdout positions) of ``rows`` rows; ``labels``: their classes, or
    None (regression)."""
    stratify = labels if _each_class_has(labels, 2) else None
    train, valid = train_test_split(np.arange(rows), test_size=fraction, random_state=seed, stratify=stratify)
    return np.asarray(train), np.asarray(valid)


def stratified_folds(rows: int, folds: int, seed: int, labels: Any = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(the other rows, the fold) for each of ``folds`` disjoint folds covering every row."""
    if _each_class_has(labels, folds):
        return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(rows), labels))
    return list(KFold(folds, shuffle=True, random_state=seed).split(np.arange(rows)))


def _each_class_has(labels: Any, rows: int) -> bool:
    return labels is not None and min(Counter(labels).values()) >= rows  # a Counter: labels of mixed types too


def file_key(name: str) -> int:
    """A stable 32-bit key for a file (CRC-32 of its relative path)."""
    return zlib.crc32(name.encode())


def holdout_mask(key: int, first_row: int, n: int, fraction: float) -> np.ndarray:
    """True for the rows ``first_row .. first_row+n-1`` of a file that belong to the holdout."""
    if fraction <= 0:
        return np.zeros(n, dtype=bool)
    rows = np.arange(first_row, first_row + n, dtype=np.uint64)
    mixed = _splitmix64((np.uint64(key) << np.uint64(40)) ^ rows)
    return (mixed % np.uint64(_BUCKETS)) < np.uint64(round(fraction * _BUCKETS))


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every input bit reaches every output bit, so consecutive rows
    land in independent buckets (wrap-around multiplication is the point, hence errstate)."""
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
