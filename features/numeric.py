"""Numeric features: median imputation, missing indicators, clipping, standardisation."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np

from features.params import ParamsMixin
from features.statistics import NumericMoments

TRANSFORMS = ("standard", "quantile", "both")
_QUANTILES = 1000  # knots of the quantile map; more buys nothing measurable
_TAIL = 1e-3  # outermost quantile levels map to ±3.09 standard normal scores


class NumericEncoder(ParamsMixin):
    """Turns an (n, k) float array with NaN for missing values into the model's numeric input.

    - missing → the training median, plus an indicator column for every feature that had
      missing values in training (a feature that never had any gets none: it would be constant)
    - values are clipped to the training range, so an outlier at serving time cannot push the
      network far outside what it was fitted on (the service reports the clip as a warning)
    - then standardised with the training mean and standard deviation (``scaling="standard"``),
      or mapped through the training quantiles onto standard normal scores (``"quantile"``,
      rank-gauss): skewed columns such as prices or lead times then reach the network evenly
      spread instead of as a few huge outliers. The map is piecewise linear (np.interp over
      stored knots), so serving needs no extra library. ``"both"`` feeds the standardised value
      and the normal score side by side: the rank spreads skewed values, the linear value keeps
      proportions (a price that scales with a historical price) easy to fit.

    Learned: ``medians_``, ``means_``, ``scales_``, ``mins_``, ``maxs_``, ``indicators_``, and for
    ``quantile`` the knots ``quantile_values_`` / ``quantile_scores_`` per feature.
    """

    def __init__(self, names: tuple[str, ...] = (), scaling: str = "standard") -> None:
        self.names = names
        self.scaling = scaling

    def fit(self, X: np.ndarray, y: Any = None, *, moments: NumericMoments | None = None) -> NumericEncoder:
        """``X``: the training rows, or (streaming) a uniform sample of them with ``moments``
        computed exactly over all rows. Medians and quantile knots come from ``X``; range,
        mean, scale and which features had missing values from the moments."""
        X = np.asarray(X, dtype=np.float64)
        observed = ~np.isnan(X)
        if moments is None:
            moments = NumericMoments.of(X)
        k = X.shape[1]
        self.medians_ = np.asarray([np.median(X[observed[:, j], j]) if observed[:, j].any() else 0.0 for j in range(k)])
        self.mins_ = moments.min.astype(np.float64)
        self.maxs_ = moments.max.astype(np.float64)
        self.means_ = moments.mean.astype(np.float64)
        self.scales_ = np.where(moments.std > 0, moments.std, 1.0).astype(np.float64)
        self.indicators_ = moments.missing > 0  # all-missing columns are refused earlier, with a message
        if self._scaling in ("quantile", "both"):
            knots = [_quantile_knots(X[observed[:, j], j]) for j in range(k)]
            self.quantile_values_ = [values for values, _ in knots]
            self.quantile_scores_ = [scores for _, scores in knots]
        if self._scaling not in TRANSFORMS:
            raise ValueError(f"unknown numeric scaling {self.scaling!r}; choices are {', '.join(TRANSFORMS)}")
        return self

    @property
    def _scaling(self) -> str:
        return getattr(self, "scaling", "standard")  # bundles written before the option existed

    @property
    def scaling_in_use(self) -> str:
        """The scaling transform applies: 'standard', 'quantile' or 'both' (old bundles: 'standard')."""
        return self._scaling

    @property
    def n_outputs(self) -> int:
        self._check_fitted("indicators_")
        return len(self.names) * (2 if self._scaling == "both" else 1) + int(self.indicators_.sum())

    def score_columns(self) -> np.ndarray:
        """Where each feature's value sits in the output: its rank-gauss score (``quantile`` and
        ``both``), else its standardised value. The piecewise-linear expansion reads these."""
        self._check_fitted("indicators_")
        start = len(self.names) if self._scaling == "both" else 0
        return np.arange(start, start + len(self.names), dtype=np.intp)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return self.transform_with_report(X)[0]

    def transform_with_report(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(model input float32, imputed mask, clipped mask)."""
        self._check_fitted("indicators_")
        X = np.asarray(X, dtype=np.float64)
        imputed = np.isnan(X)
        filled = np.where(imputed, self.medians_, X)
        clipped_values = np.clip(filled, self.mins_, self.maxs_)
        clipped = clipped_values != filled
        scaled = (clipped_values - self.means_) / self.scales_
        parts = [] if self._scaling == "quantile" else [scaled]
        if self._scaling in ("quantile", "both"):
            knots = zip(self.quantile_values_, self.quantile_scores_, strict=True)
            parts.append(np.column_stack([np.interp(clipped_values[:, j], xp, fp) for j, (xp, fp) in enumerate(knots)]))
        if self.indicators_.any():
            parts.append(imputed[:, self.indicators_].astype(np.float64))
        out = np.concatenate(parts, axis=1).astype(np.float32)
        return out, imputed, clipped

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        self._check_fitted("indicators_")
        names = list(self.names)
        if self._scaling == "both":
            names += [f"{n}__quantile" for n in self.names]
        names += [f"{n}__missing" for n, flag in zip(self.names, self.indicators_, strict=True) if flag]
        return np.asarray(names, dtype=object)


def _quantile_knots(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct training quantiles and the normal score of each; tied quantiles (a value that
    fills many levels, e.g. zero in a count) share the mean of their levels."""
    if column.size == 0:
        return np.zeros(1), np.zeros(1)
    levels = np.linspace(0.0, 1.0, min(_QUANTILES, column.size))
    values, inverse = np.unique(np.quantile(column, levels), return_inverse=True)
    mean_levels = np.bincount(inverse, weights=levels) / np.bincount(inverse)
    if len(values) == 1:
        return values, np.zeros(1)
    normal = NormalDist()
    scores = np.asarray([normal.inv_cdf(p) for p in np.clip(mean_levels, _TAIL, 1 - _TAIL)])
    return values, scores
