"""TabularEncoder: the one fitted object that turns raw records into the model's inputs.

Like Keras' FeatureSpace it is fitted once in training, saved in the bundle, and applied
unchanged by the service — there is no second implementation to drift. Columns may come as a
pandas DataFrame (training) or as a mapping of name → list (the service's parsed JSON).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.categorical import UNKNOWN_INDEX, CategoricalEncoder, as_list
from features.cells import BadCell, check_categories, numbers, where
from features.errors import InvalidInput
from features.numeric import NumericEncoder
from features.params import ParamsMixin
from features.statistics import TableStatistics

Columns = Mapping[str, Any]  # a DataFrame or {name: sequence}


@dataclass
class EncodedBatch:
    """Model inputs for n rows, plus what the service reports about them."""

    categorical: list[np.ndarray]  # int32 (n,), one per categorical feature, in spec order
    numeric: np.ndarray | None  # float32 (n, width)
    unknown: list[np.ndarray]  # bool (n,) per categorical: value not in the vocabulary
    missing: list[np.ndarray]  # bool (n,) per categorical: value was missing
    imputed: np.ndarray | None  # bool (n, k) per numeric feature
    clipped: np.ndarray | None  # bool (n, k) per numeric feature

    @property
    def n_rows(self) -> int:
        if self.categorical:
            return len(self.categorical[0])
        return 0 if self.numeric is None else len(self.numeric)

    def model_inputs(self) -> list[np.ndarray]:
        """Arrays in the Keras model's input order: one (n, 1) per categorical, then numeric."""
        inputs = [c.reshape(-1, 1) for c in self.categorical]
        if self.numeric is not None:
            inputs.append(self.numeric)
        return inputs


class TabularEncoder(ParamsMixin):
    """Fits a CategoricalEncoder per categorical column and one NumericEncoder for the numeric ones.

    Learned: ``categorical_`` (name → CategoricalEncoder), ``numeric_`` (NumericEncoder or None).
    """

    def __init__(
        self,
        categorical: tuple[str, ...] = (),
        numeric: tuple[str, ...] = (),
        min_frequency: int = 1,
        max_categories: int | None = None,
        numeric_transform: str = "standard",
    ) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.numeric_transform = numeric_transform

    @property
    def features(self) -> list[str]:
        """The raw columns read, each once: a column may be categorical and numeric ("both")."""
        return list(dict.fromkeys([*self.categorical, *self.numeric]))

    def fit(self, X: Columns, y: Any = None) -> TabularEncoder:
        self._check_columns(X)
        self.categorical_ = {
            name: CategoricalEncoder(self.min_frequency, self.max_categories).fit(X[name]) for name in self.categorical
        }
        transform = getattr(self, "numeric_transform", "standard")
        self.numeric_ = NumericEncoder(tuple(self.numeric), transform).fit(self._numeric_matrix(X)) if self.numeric else None
        return self

    def fit_statistics(self, statistics: TableStatistics) -> TabularEncoder:
        """Fit from a statistics pass over data too big to load (``features.statistics``):
        the same vocabularies, and the same numeric encoder when the sample is the whole table."""
        self.categorical_ = {
            name: CategoricalEncoder(self.min_frequency, self.max_categories).fit_counts(statistics.counts[name])
            for name in self.categorical
        }
        transform = getattr(self, "numeric_transform", "standard")
        self.numeric_ = (
            NumericEncoder(tuple(self.numeric), transform).fit(statistics.numeric_sample, moments=statistics.moments)
            if self.numeric
            else None
        )
        return self

    def transform(self, X: Columns) -> EncodedBatch:
        self._check_fitted("categorical_")
        self._check_columns(X)
        codes, unknown, missing = [], [], []
        for name in self.categorical:
            values = X[name]
            values = values if isinstance(values, Sequence) else as_list(values)
            try:
                index = self.categorical_[name].transform(values)
            except TypeError:  # an unhashable value: features.cells names it
                try:
                    check_categories(values)
                except BadCell as exc:
                    raise exc.named(f"feature {name!r}", name) from None
                raise
            is_missing = self.categorical_[name].missing_mask(values, index)
            codes.append(index)
            missing.append(is_missing)
            unknown.append((index == UNKNOWN_INDEX) & ~is_missing)
        numeric = imputed = clipped = None
        if self.numeric_ is not None:
            numeric, imputed, clipped = self.numeric_.transform_with_report(self._numeric_matrix(X))
        return EncodedBatch(codes, numeric, unknown, missing, imputed, clipped)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the model's inputs: each categorical feature, then the numeric columns."""
        self._check_fitted("categorical_")
        numeric = list(self.numeric_.get_feature_names_out()) if self.numeric_ is not None else []
        return np.asarray([*self.categorical, *numeric], dtype=object)

    def _check_columns(self, X: Columns) -> None:
        present = set(X.keys()) if hasattr(X, "keys") else set()
        absent = [name for name in self.features if name not in present]
        if absent:
            raise InvalidInput(
                f"missing column {absent[0]!r}; the model needs {', '.join(map(repr, self.features))}",
                field=absent[0],
                expected="a column for every feature",
            )

    def _numeric_matrix(self, X: Columns) -> np.ndarray:
        return np.column_stack([to_float(name, X[name]) for name in self.numeric])


def to_float(name: str, values: Any) -> np.ndarray:
    """A numeric column as float64 with NaN for missing (the rules of ``features.cells``); a bad
    value raises InvalidInput naming the column and its row. A column of a table read from a file
    (``training.data.tables.read_table`` records it in ``attrs["source"]``) is named by the file's
    row and line, which its index still holds."""
    try:
        return numbers(values)
    except BadCell as exc:
        source = getattr(values, "attrs", {}).get("source")
        if source is not None and values.index.dtype.kind in "iu":
            raise exc.named(f"{where(source, int(values.index[exc.row]))}, field {name!r}", name) from None
        raise exc.named(f"numeric column {name!r}, row {exc.row}", name) from None
