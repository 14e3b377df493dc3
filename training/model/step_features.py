"""Which numeric features get the piecewise-linear encoding under ``--numeric-encoding auto``.

PLE on every numeric feature helped where an effect steps and lost where effects are smooth
(docs/decisions.md: numeric-encoding): the ramps add inputs to fit and noise to overfit. So the
choice is made per feature, from the training rows, by the question PLE answers: how much of
the target's variance do equal-mass bins of the feature explain that a smooth curve in it does not?

    step_j = adjusted η²(target | 16 bins of score_j) − adjusted R²(target | cubic spline in score_j)

η² is the share of variance between the bins' means (the one-feature tree with 16 leaves),
the spline (knots at −1, 0, 1) is what a small ReLU network fits easily. Both are adjusted for
their degrees of freedom, so a pure-noise feature scores about 0 at any sample size; its spread
is what the noise margin covers. A feature with ``step_j ≥ STEP_THRESHOLD + noise_margin(n)`` is
encoded: the threshold separates the two staircase features of the bench sets from all the
others (docs/decisions.md: staircase-threshold). The scores use the rank-gauss score the
network sees, so they are invariant to the feature's units and robust to outliers.
"""

from __future__ import annotations

import numpy as np

from features.piecewise_linear import normal_edges

STEP_THRESHOLD = 0.05
SELECTION_BINS = 16
SPLINE_KNOTS = (-1.0, 0.0, 1.0)
MAX_SELECTION_ROWS = 200_000  # enough for three decimals of η²; keeps the cost at a second


def step_scores(scores: np.ndarray, target: np.ndarray, bins: int = SELECTION_BINS) -> np.ndarray:
    """(n, f) rank-gauss scores, (n, k) encoded target (a column per output) → step_j per feature.

    A class label target arrives as one-hot columns: η² and R² are then summed over classes
    (the share of the total variance of the indicator vectors)."""
    scores = np.asarray(scores, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64).reshape(len(scores), -1)
    if len(scores) > MAX_SELECTION_ROWS:
        pick = np.random.default_rng(0).choice(len(scores), MAX_SELECTION_ROWS, replace=False)
        scores, target = scores[pick], target[pick]
    n = len(scores)
    centred = target - target.mean(axis=0)
    total = float((centred**2).sum())
    if n <= bins + 1 or total <= 0.0:
        return np.zeros(scores.shape[1])
    inner = normal_edges(bins)[1:-1].astype(np.float64)
    result = np.empty(scores.shape[1])
    for j in range(scores.shape[1]):
        z = scores[:, j]
        leaf = np.searchsorted(inner, z)
        used = np.unique(leaf).size
        within = _within_bins(leaf, centred, bins)
        eta = _adjusted(within, total, n, used)
        design = _smooth_basis(z)
        coef, *_ = np.linalg.lstsq(design, centred, rcond=None)
        residual = float(((centred - design @ coef) ** 2).sum())
        result[j] = eta - _adjusted(residual, total, n, design.shape[1])
    return result


def step_features(scores: np.ndarray, target: np.ndarray, threshold: float = STEP_THRESHOLD) -> list[int]:
    """Indices of the features whose step score reaches ``threshold`` plus the noise margin."""
    required = threshold + noise_margin(min(len(scores), MAX_SELECTION_ROWS))
    return [int(j) for j in np.flatnonzero(step_scores(scores, target) >= required)]


def noise_margin(rows: int, bins: int = SELECTION_BINS) -> float:
    """Three standard deviations of the step score of a pure-noise feature (about √(2·bins)/n):
    on a small table 16 bin means fit noise visibly (0.035 at 300 rows, measured), so the bar
    rises there; from 10k rows on it adds less than 0.002."""
    return 3.0 * float(np.sqrt(2.0 * bins)) / max(rows, 1)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer class labels → indicator columns (the target a softmax head is trained on)."""
    return np.eye(n_classes)[np.asarray(labels, dtype=np.intp).reshape(-1)]


def _smooth_basis(z: np.ndarray) -> np.ndarray:
    """A cubic spline in the score with knots at −1, 0 and 1 (truncated power basis, 7 columns):
    the bends a small ReLU network fits without help, a parabola in the raw value included."""
    columns = [np.ones_like(z), z, z**2, z**3, *(np.maximum(z - knot, 0.0) ** 3 for knot in SPLINE_KNOTS)]
    return np.column_stack(columns)


def _within_bins(leaf: np.ndarray, centred: np.ndarray, bins: int) -> float:
    """Σ over bins and target columns of the squared deviations from the bin's mean."""
    counts = np.bincount(leaf, minlength=bins).astype(np.float64)
    sums = np.stack([np.bincount(leaf, weights=centred[:, k], minlength=bins) for k in range(centred.shape[1])], axis=1)
    squares = float((centred**2).sum())
    between = float((sums[counts > 0] ** 2 / counts[counts > 0, None]).sum())
    return squares - between


def _adjusted(residual: float, total: float, n: int, parameters: int) -> float:
    """1 − (residual / (n − p)) / (total / (n − 1)): explained variance net of what p free
    parameters explain in noise."""
    return 1.0 - (residual / max(n - parameters, 1)) / (total / (n - 1))
