"""Holdout metrics next to a trivial baseline, so a number always comes with its yardstick."""

from __future__ import annotations

import numpy as np
from sklearn import metrics


def classification_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    n_classes = proba.shape[1]
    clipped = np.clip(proba, 1e-7, 1 - 1e-7)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    result = {
        "accuracy": float(metrics.accuracy_score(y, proba.argmax(axis=1))),
        "log_loss": float(metrics.log_loss(y, clipped, labels=list(range(n_classes)))),
    }
    present = np.unique(y)
    if len(present) == n_classes and n_classes == 2:
        result["roc_auc"] = float(metrics.roc_auc_score(y, proba[:, 1]))
    elif len(present) == n_classes:
        result["roc_auc"] = float(metrics.roc_auc_score(y, clipped, multi_class="ovr", average="macro"))
    return result


def classification_baseline(prior: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Always predict the training class frequencies ``prior`` (majority class for accuracy)."""
    proba = np.tile(prior, (len(y), 1))
    baseline = classification_metrics(y, proba)
    baseline["accuracy"] = float(np.mean(y == prior.argmax()))
    if "roc_auc" in baseline:
        baseline["roc_auc"] = 0.5
    return baseline


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(np.sqrt(metrics.mean_squared_error(y, predicted))),
        "mae": float(metrics.mean_absolute_error(y, predicted)),
        "r2": float(metrics.r2_score(y, predicted)),
    }


def regression_baseline(train_mean: float, y: np.ndarray) -> dict[str, float]:
    """Always predict the training mean."""
    return regression_metrics(y, np.full(len(y), train_mean))
