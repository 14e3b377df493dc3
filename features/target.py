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


# Non-negative targets more skewed than this are learned in log space (auto mode): prices,
# counts and durations are multiplicative (hotel_rates: skew 1.16, 0.20 after log1p; the
# default is linear, docs/decisions.md: target-scale).
LOG_SKEW_THRESHOLD = 1.0
TARGET_SCALES = ("auto", "linear", "log", "loglink")


def skewness(values: np.ndarray) -> float:
    centred = values - values.mean()
    spread = float(np.sqrt(np.mean(centred**2)))
    return float(np.mean(centred**3) / spread**3) if spread > 0 else 0.0


class ScaledTarget(ParamsMixin):
    """Regression target standardised for training; ``inverse_transform`` restores its units exactly.

    ``scale``: ``"linear"``, ``"log"`` (log1p before standardising, expm1 after; needs y ≥ 0),
    ``"loglink"`` (y / mean(y), learned by a network whose head is ``exp``: multiplicative in
    the features, yet the squared error is taken in the target's own units, so the model fits
    the mean and not the geometric mean a log target fits; needs y ≥ 0) or ``"auto"``.
    Learned: ``mean_``, ``scale_``, ``log_`` (whether log space was used), ``link_``
    (``"identity"``, or ``"log"`` when the network's head must be ``exp``).
    """

    def __init__(self, scale: str = "linear") -> None:
        self.scale = scale

    def fit(self, y: Any) -> ScaledTarget:
        if self.scale not in TARGET_SCALES:
            raise ValueError(f"unknown target scale {self.scale!r}; scales are {TARGET_SCALES}")
        values = np.asarray(as_list(y), dtype=np.float64)
        non_negative = bool(values.min() >= 0)
        if self.scale == "log" and not non_negative:
            raise ValueError("a log target needs values ≥ 0")
        if self.scale == "loglink":
            if not non_negative or values.mean() <= 0:
                raise ValueError("a log-link target needs values ≥ 0 with a positive mean")
            self.log_, self.link_ = False, "log"
            self.mean_, self.scale_ = 0.0, float(values.mean())  # the head's exp(0) starts at the mean
            return self
        self.link_ = "identity"
        self.log_ = self.scale == "log" or (self.scale == "auto" and non_negative and skewness(values) > LOG_SKEW_THRESHOLD)
        values = np.log1p(values) if self.log_ else values
        self.mean_ = float(values.mean())
        std = float(values.std())
        self.scale_ = std if std > 0 else 1.0
        return self

    def transform(self, y: Any) -> np.ndarray:
        self._check_fitted("mean_")
        values = np.asarray(as_list(y), dtype=np.float64)
        return ((np.log1p(values) if self.log_ else values) - self.mean_) / self.scale_

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        self._check_fitted("mean_")
        values = np.asarray(z, dtype=np.float64) * self.scale_ + self.mean_
        return np.expm1(values) if self.log_ else values

    def values(self, output: np.ndarray) -> np.ndarray:
        """The network's (n, 1) output in the target's own units."""
        return self.inverse_transform(np.asarray(output)[:, 0])

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("scale", "linear")  # bundles written before the option existed
        state.setdefault("log_", False)
        state.setdefault("link_", "identity")
        self.__dict__.update(state)
