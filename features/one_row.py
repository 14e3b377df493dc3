"""The commonest request — one clean record — encoded without columns, masks or a batch around it.

It takes a record with exactly the model's features, every category a value the encoder has seen
before (known, or already found unknown or missing: those come back as warnings), and every
number present and inside the training range. A dict probe per category and a few float
operations build the model input for ``InferenceGraph.one``. Anything else returns None and the
general path (the service's record parser → ``TabularEncoder.transform``) decides, so
imputation, clipping and every error keep one implementation. It lives beside the encoders
because it reproduces their arithmetic, and is checked against them when built.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from operator import itemgetter, le
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from features.encoder import TabularEncoder

_NUMBER_TYPES = frozenset({int, float})  # not bool, not None: those take the general path


# what encode() returns: the embedding row per categorical feature, the scaled numeric inputs
# (None without numeric features), and (position, missing?) of each category that took row 0
OneRow = tuple[list[int], np.ndarray | None, list[tuple[int, bool]]]


class OneRowEncoder:
    """The single-record fast path of a fitted TabularEncoder; ``encode(record)`` gives the model
    input or None."""

    def __init__(self, encoder: TabularEncoder, max_string_length: int) -> None:
        # a record holds each column once (len(features)); a "both" column is read twice by position
        inputs = [*encoder.categorical, *encoder.numeric]
        self.n_features, self.n_categorical = len(encoder.features), len(encoder.categorical)
        self.getter = itemgetter(*inputs)
        self.caches = [encoder.categorical_[name].value_codes() for name in encoder.categorical]
        # raw value → missing (True) or unknown (False), filled by CategoricalEncoder.missing_mask
        self.missing = [encoder.categorical_[name].missing_verdicts() for name in encoder.categorical]
        # a vocabulary value longer than the request limit must still be refused by the general path
        self.enabled = len(inputs) > 1 and all(
            len(value) <= max_string_length for name in encoder.categorical for value in encoder.categorical_[name].vocabulary_
        )
        numeric = encoder.numeric_
        self.has_numeric = numeric is not None
        self.numeric = numeric
        self.standard = False
        if numeric is not None:
            self.mins, self.maxs = numeric.mins_.tolist(), numeric.maxs_.tolist()
            self.means, self.scales = numeric.means_.tolist(), numeric.scales_.tolist()
            self.indicators = [0.0] * int(numeric.indicators_.sum())  # nothing was imputed
            scaling = numeric.scaling_in_use
            self.scaling = scaling if scaling in ("standard", "quantile", "both") else "standard"
            knots = zip(getattr(numeric, "quantile_values_", []), getattr(numeric, "quantile_scores_", []), strict=True)
            self.knots = [(xp.tolist(), fp.tolist()) for xp, fp in knots]
            # Scaling is a few float operations here. Whether they reproduce the encoder is checked
            # against the encoder itself, not read from its options: if not, it is used directly.
            self.standard = all(
                np.array_equal(self._standardised(probe.tolist()), numeric.transform_with_report(probe.reshape(1, -1))[0][0])
                for probe in (numeric.mins_, numeric.maxs_, numeric.medians_, (numeric.mins_ + numeric.maxs_) / 2)
            )

    def _standardised(self, numbers: Sequence[float]) -> np.ndarray:
        # Python floats are IEEE doubles: the same (x - mean) / scale and np.interp arithmetic as
        # NumericEncoder's float64 arrays, without NumPy calls that cost more than 4 values do
        scaled = []
        if self.scaling != "quantile":
            scaled = [(x - m) / s for x, m, s in zip(numbers, self.means, self.scales, strict=True)]
        if self.scaling != "standard":
            scaled += [_interp(float(x), xp, fp) for x, (xp, fp) in zip(numbers, self.knots, strict=True)]
        return np.array(scaled + self.indicators, dtype=np.float32)

    def encode(self, payload: Any) -> OneRow | None:
        """Codes, numeric inputs and, for each categorical feature that took the unknown row,
        (its position, whether it was missing); None when the general path must decide."""
        if not self.enabled or type(payload) is not dict or len(payload) != self.n_features:
            return None
        try:
            values = self.getter(payload)
            codes: list[Any] = list(map(dict.get, self.caches, values[: self.n_categorical]))
        except (KeyError, TypeError):  # a wrong key, or an unhashable value
            return None
        if None in codes:  # a value not seen since start-up: the general path learns it
            return None
        zeros: list[tuple[int, bool]] = []
        if 0 in codes:  # unknown or missing: the verdict the general path cached for this raw value
            for j in [j for j, code in enumerate(codes) if code == 0]:
                missing = self.missing[j].get(values[j])
                if missing is None:
                    return None
                zeros.append((j, missing))
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
            else:
                numeric = self._standardised(numbers)
        return codes, numeric, zeros


def _interp(x: float, xp: list[float], fp: list[float]) -> float:
    """np.interp for one value, step for step (NumPy's C loop uses the same double arithmetic)."""
    if x <= xp[0]:
        return fp[0]
    if x >= xp[-1]:
        return fp[-1]
    j = bisect_right(xp, x) - 1
    if xp[j] == x:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    return slope * (x - xp[j]) + fp[j]
