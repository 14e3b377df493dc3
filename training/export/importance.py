"""Permutation importance on the holdout: how much the main metric drops when one feature's column
is shuffled, five times per feature, through the exported NumPy graph (the network the service runs).

A feature the model leans on loses a lot when its values are dealt out to the wrong rows; a feature
it ignores loses nothing. That is what exposed the demo's ``air_time`` (measured after the flight)
as the model's strongest input. The numbers go into the manifest (``importance``), ``GET /model``
and the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from features.encoder import TabularEncoder
from features.graph import InferenceGraph
from training.loop import metrics

SHUFFLES = 5
MAX_ROWS = 50_000  # a bigger holdout is sampled: 50,000 rows × 5 shuffles × features stays seconds
LOWER_IS_BETTER = {"log_loss", "rmse", "mae"}


def main_metric(task: str, n_classes: int, truth: np.ndarray) -> str:
    """ROC AUC for classification when every class is in the holdout (else log loss), RMSE for regression."""
    if task == "regression":
        return "rmse"
    return "roc_auc" if len(np.unique(truth)) == n_classes else "log_loss"


def permutation_importance(
    graph: InferenceGraph,
    encoder: TabularEncoder,
    target: Any,
    task: str,
    inputs: Sequence[np.ndarray],
    y_valid: Any,
    *,
    seed: int = 0,
    shuffles: int = SHUFFLES,
    max_rows: int = MAX_ROWS,
) -> dict[str, Any]:
    """``inputs``: the holdout's model inputs (one (n, 1) code column per categorical feature, then
    the numeric block); ``y_valid``: its raw targets."""
    rng = np.random.default_rng(seed)
    n_cat = len(encoder.categorical)
    codes = [np.asarray(c).reshape(-1) for c in inputs[:n_cat]]
    numeric = np.asarray(inputs[n_cat]) if len(inputs) > n_cat else None
    truth = np.asarray(y_valid, dtype=np.float64) if task == "regression" else np.asarray(target.transform(y_valid))
    rows = len(truth)
    if rows > max_rows:  # the same sample for every feature and shuffle
        keep = np.sort(rng.choice(rows, max_rows, replace=False))
        codes, truth = [c[keep] for c in codes], truth[keep]
        numeric = None if numeric is None else numeric[keep]
        rows = max_rows
    metric = main_metric(task, len(getattr(target, "classes_", [])), truth)

    def score(cat: list[np.ndarray], num: np.ndarray | None) -> float:
        output = graph(cat, num)
        if task == "regression":
            return metrics.regression_metrics(truth, np.asarray(target.values(output), dtype=np.float64))[metric]
        return metrics.classification_metrics(truth, np.asarray(target.probabilities(output)))[metric]

    base = score(codes, numeric)
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0  # a drop is always "how much worse"
    found: list[dict[str, Any]] = []
    for name, columns in _feature_columns(encoder):
        drops = []
        for _ in range(shuffles):
            order = rng.permutation(rows)
            cat, num = list(codes), numeric
            if columns is None:
                j = encoder.categorical.index(name)
                cat[j] = codes[j][order]
            else:
                assert numeric is not None
                num = numeric.copy()
                num[:, columns] = numeric[order][:, columns]  # the value and its missing flag travel together
            drops.append(sign * (base - score(cat, num)))
        found.append(
            {
                "name": name,
                "kind": "numeric" if columns is not None else "categorical",
                "drop": float(np.mean(drops)),
                "sd": float(np.std(drops, ddof=1)) if len(drops) > 1 else 0.0,
                "drops": [round(float(d), 6) for d in drops],
            }
        )
    found.sort(key=lambda f: -float(f["drop"]))
    return {"metric": metric, "score": base, "shuffles": shuffles, "rows": rows, "features": found}


def _feature_columns(encoder: TabularEncoder) -> list[tuple[str, list[int] | None]]:
    """Each feature with its columns of the numeric block (None: a categorical code column)."""
    found: list[tuple[str, list[int] | None]] = [(name, None) for name in encoder.categorical]
    if encoder.numeric_ is not None:
        names = list(encoder.numeric_.get_feature_names_out())
        for name in encoder.numeric:
            own = {name, f"{name}__quantile", f"{name}__missing"}
            found.append((name, [j for j, column in enumerate(names) if column in own]))
    return found
