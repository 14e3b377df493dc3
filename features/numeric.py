"""Numeric features: median imputation, missing indicators, clipping, standardisation."""

from __future__ import annotations

from typing import Any

import numpy as np

from features.params import ParamsMixin


class NumericEncoder(ParamsMixin):
    """Turns an (n, k) float array with NaN for missing values into the model's numeric input.

    - missing → the training median, plus an indicator column for every feature that had
      missing values in training (a feature that never had any gets none: it would be constant)
    - values are clipped to the training range, so an outlier at serving time cannot push the
      network far outside what it was fitted on (the service reports the clip as a warning)
    - then standardised with the training mean and standard deviation

    Learned: ``medians_``, ``means_``, ``scales_``, ``mins_``, ``maxs_``, ``indicators_``.
    """

    def __init__(self, names: tuple[str, ...] = ()) -> None:
        self.names = names

    def fit(self, X: np.ndarray, y: Any = None) -> NumericEncoder:
        X = np.asarray(X, dtype=np.float64)
        observed = ~np.isnan(X)
        k = X.shape[1]
        self.medians_ = np.zeros(k)
        self.means_ = np.zeros(k)
        self.scales_ = np.ones(k)
        self.mins_ = np.zeros(k)
        self.maxs_ = np.zeros(k)
        for j in range(k):
            column = X[observed[:, j], j]
            if column.size == 0:
                continue  # all-missing columns are refused earlier, with a message
            self.medians_[j] = np.median(column)
            self.mins_[j] = column.min()
            self.maxs_[j] = column.max()
            self.means_[j] = column.mean()
            std = column.std()
            self.scales_[j] = std if std > 0 else 1.0
        self.indicators_ = ~observed.all(axis=0)
        return self

    @property
    def n_outputs(self) -> int:
        self._check_fitted("indicators_")
        return len(self.names) + int(self.indicators_.sum())

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
        parts = [scaled]
        if self.indicators_.any():
            parts.append(imputed[:, self.indicators_].astype(np.float64))
        out = np.concatenate(parts, axis=1).astype(np.float32)
        return out, imputed, clipped

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        self._check_fitted("indicators_")
        names = list(self.names)
        names += [f"{n}__missing" for n, flag in zip(self.names, self.indicators_, strict=True) if flag]
        return np.asarray(names, dtype=object)
