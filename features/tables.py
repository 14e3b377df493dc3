"""Embedding tables of a bundle, row by row: shared by the export command and the service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

UNKNOWN_LABEL = "<unknown>"


def embedding_rows(bundle: Any) -> Iterator[tuple[str, str, int, np.ndarray]]:
    """(feature, value, index, vector) for every row of every table; row 0 is the unknown vector."""
    for feature, table in zip(bundle.encoder.categorical, bundle.graph.vectors, strict=True):
        vocabulary = bundle.encoder.categorical_[feature].vocabulary_
        yield feature, UNKNOWN_LABEL, 0, table[0]
        for i, value in enumerate(vocabulary, start=1):
            yield feature, value, i, table[i]
