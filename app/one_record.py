"""The commonest request — one clean record — without columns, masks or a batch around it.

A "clean" record has exactly the model's features, every category in the vocabulary and every
number present and inside the training range: nothing to warn about, nothing to refuse. For
those, a dict probe per category and a few arithmetic calls build the model input, and the graph's
one-row path predicts it (≈ 15 µs in all). Anything else returns None and the general path
(records.RecordParser → TabularEncoder) decides, so warnings and errors have one implementation.
"""

from __future__ import annotations

from operator import itemgetter, le
from typing import Any

import numpy as np

from features.encoder import TabularEncoder
from features.graph import InferenceGraph

_NUMBER_TYPES = frozenset({int, float})  # not bool, not None: those take the general path


class OneRecordPath:
    def __init__(self, encoder: TabularEncoder, graph: InferenceGraph, max_string_length: int) -> None:
        features = encoder.features
        self.n_features, self.n_categorical = len(features), len(encoder.categorical)
        self.getter = itemgetter(*features)
        self.caches = [encoder.categorical_[name]._lookup() for name in encoder.categorical]
        # a vocabulary value longer than the request limit must still be refused by the general path
        self.enabled = len(features) > 1 and all(
            len(value) <= max_string_length for name in encoder.categorical for value in encoder.categorical_[name].vocabulary_
        )
        self.graph = graph
        numeric = encoder.numeric_
        self.has_numeric = numeric is not None
        self.numeric = numeric
        # the standard transform is a few arithmetic calls here; others (quantile) use the encoder itself
        # (read from the instance: bundles older than the option have no such attribute)
        self.standard = numeric is not None and vars(numeric).get("transform", "standard") == "standard"
        if numeric is not None:
            self.mins, self.maxs = numeric.mins_.tolist(), numeric.maxs_.tolist()
            self.means, self.scales = numeric.means_.tolist(), numeric.scales_.tolist()
            self.indicators = [0.0] * int(numeric.indicators_.sum())  # nothing was imputed

    def output(self, payload: Any) -> np.ndarray | None:
        """The network's output (1, k) for a clean record, else None."""
        if not self.enabled or type(payload) is not dict or len(payload) != self.n_features:
            return None
        try:
            values = self.getter(payload)
            codes: list[Any] = list(map(dict.get, self.caches, values[: self.n_categorical]))
        except (KeyError, TypeError):  # a wrong key, or an unhashable value
            return None
        if None in codes or 0 in codes:  # unseen so far, unknown or missing: warnings to give
            return None
        if float in map(type, values[: self.n_categorical]):  # the parser has rules for float categories
            return None
        numeric = None
        if self.has_numeric:
            numbers = values[self.n_categorical :]
            if not set(map(type, numbers)) <= _NUMBER_TYPES:
                return None
            # NaN and ±inf fail these comparisons too; Python floats and ints compare exactly
            if not (all(map(le, self.mins, numbers)) and all(map(le, numbers, self.maxs))):
                return None
            if not self.standard:
                assert self.numeric is not None
                numeric = self.numeric.transform_with_report(np.array([numbers], dtype=np.float64))[0][0]
                return self.graph.one(codes, numeric)
            # Python floats are IEEE doubles: the same (x - mean) / scale as NumericEncoder's float64
            # arrays, without five NumPy calls that cost more than the arithmetic on 4 values
            scaled = [(x - m) / s for x, m, s in zip(numbers, self.means, self.scales, strict=True)]
            numeric = np.array(scaled + self.indicators, dtype=np.float32)
        return self.graph.one(codes, numeric)
