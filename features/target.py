"""Target encoders: class labels for classification, standardisation for regression."""

from __future__ import annotations

from typing import Any

import numpy as np

from features.categorical import as_list
from features.params import ParamsMixin


def python_scalar(value: Any) -> Any:
    """numpy scalars → plain Python, so labels survive JSON unchanged."""
    return value.item() if hasattr(value, "item") else value


class LabelTarget(ParamsMixin):
    """Class labels of any JSON-able type ↔ integer class indices. ``classes_`` keeps their order."""

    def fit(self, y: Any) -> LabelTarget:
        values = {python_scalar(v) for v in as_list(y)}
        try:
            self.classes_ = sorted(values)
        except TypeError:  # mixed types: order by text, still deterministic
            self.classes_ = sorted(values, key=lambda v: (type(v).__name__, str(v)))
        self.index_ = {c: i for i, c in enumerate(self.classes_)}
        return self

    def transform(self, y: Any) -> np.ndarray:
        self._check_fitted("classes_")
        try:
            return np.asarray([self.index_[python_scalar(v)] for v in as_list(y)], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"label {exc.args[0]!r} was not seen in training; labels are {self.classes_}") from None

    def inverse_transform(self, indices: np.ndarray) -> list[Any]:
        return [self.classes_[int(i)] for i in indices]

    def probabilities(self, output: np.ndarray) -> np.ndarray:
        """The network's output as one probability column per class (a sigmoid head has one)."""
        output = np.asarray(output, dtype=np.float64)
        if output.shape[1] == 1 and len(self.classes_) == 2:
            return np.column_stack([1.0 - output[:, 0], output[:, 0]])
        return output


class ScaledTarget(ParamsMixin):
    """Regression target standardised for training; ``inverse_transform`` restores its units exactly."""

    def fit(self, y: Any) -> ScaledTarget:
        values = np.asarray(as_list(y), dtype=np.float64)
        self.mean_ = float(values.mean())
        std = float(values.std())
        self.scale_ = std if std > 0 else 1.0
        return self

    def transform(self, y: Any) -> np.ndarray:
        self._check_fitted("mean_")
        return (np.asarray(as_list(y), dtype=np.float64) - self.mean_) / self.scale_

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        self._check_fitted("mean_")
        return np.asarray(z, dtype=np.float64) * self.scale_ + self.mean_

    def values(self, output: np.ndarray) -> np.ndarray:
        """The network's (n, 1) output in the target's own units."""
        return self.inverse_transform(np.asarray(output)[:, 0])
