"""Column types by a stated rule: each column of a table → categorical, numeric, both or dropped,
with the reason, and whether it is a guess the user should check (``catembed train`` prints them).

The rule (what it rests on: docs/decisions.md: column-types):

- text and booleans are categories; fractional numbers are numbers;
- a column with one value, no values or (text, integers) one value per row is dropped;
- integers (also whole-numbered float columns: pandas stores an integer column with blanks as
  float) with at most ``CATEGORY_VALUES`` distinct values are categories, one vector per value
  (month, hour, number of adults, an industry code);
- with up to ``FEW_VALUES`` values they are **both**: the number feeds the numeric input and the
  value gets its own embedding (years of experience, age, day of the month), so a value never
  seen in training still has its number;
- integers with more values are numbers, unless they behave as **codes**: labels whose order says
  little about the target (area codes, user or product ids). That is judged on the rows: the
  per-value means of the target (shrunk, fitted on one half of the rows, scored on the other)
  must beat the means of ``ORDER_BINS`` bins in value order by at least ``CODE_SHARE`` of what
  they explain, and by ``CODE_T`` standard errors. A code is both too (the number stays, the
  value gets its own vector), and that guess is flagged for the user to check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

ROLES = ("categorical", "numeric", "both", "dropped")
CATEGORY_VALUES = 20  # integers with at most this many distinct values are categories
FEW_VALUES = 50  # and with at most this many, both a number and a category
# the code test: per-value means against means of bins in value order, cross-fitted on halves
ORDER_BINS, CODE_SHRINKAGE, CODE_REPEATS, CODE_SHARE, CODE_T = 16, 10.0, 5, 0.5, 4.0
CODE_TEST_ROWS = 200_000  # a larger table is tested on a sample of this many rows
ID_LIKE_MIN_ROWS = 50  # with fewer rows, one value per row is no sign of an id


@dataclass(frozen=True)
class ColumnType:
    name: str
    role: str  # one of ROLES
    reason: str
    check: bool = False  # a guess from the values that the user should look at


def infer_types(
    frame: pd.DataFrame,
    target: pd.Series | None = None,
    task: str | None = None,
    *,
    few_values: str = "split",
    codes: bool = True,
) -> list[ColumnType]:
    """Every column of ``frame`` (the target left out) typed by the rule above. ``target`` (of
    ``task``) drives the code test; without it, many-valued integers are numbers. ``few_values``
    and ``codes`` name the rule's alternatives, kept for the measurements that chose it."""
    y = _numeric_target(target, task)
    return [_column_type(str(name), frame[name], y, few_values, codes) for name in frame.columns]


def _column_type(name: str, column: pd.Series, y: np.ndarray | None, few_values: str, codes: bool) -> ColumnType:
    values = column.dropna()
    distinct = int(values.nunique())
    rows = len(column)
    if distinct == 0:
        return ColumnType(name, "dropped", "all values missing")
    if distinct == 1:
        return ColumnType(name, "dropped", "constant: a single value")
    if pd.api.types.is_bool_dtype(values):
        return ColumnType(name, "categorical", "true/false")
    if pd.api.types.is_datetime64_any_dtype(values):
        return ColumnType(name, "dropped", "datetime: derive features such as month or weekday first")
    if not pd.api.types.is_numeric_dtype(values):
        if distinct == rows and rows > ID_LIKE_MIN_ROWS:
            return ColumnType(name, "dropped", "id-like: one value per row")
        return ColumnType(name, "categorical", f"text, {distinct:,} values")
    if not _whole(values):
        return ColumnType(name, "numeric", "fractional numbers")
    if distinct == rows and rows > ID_LIKE_MIN_ROWS and pd.api.types.is_integer_dtype(values):
        return ColumnType(name, "dropped", "id-like: one value per row")
    if distinct <= FEW_VALUES:
        role = few_values if few_values != "split" else "categorical" if distinct <= CATEGORY_VALUES else "both"
        detail = {"both": ": a number and a category", "categorical": ": a category each", "numeric": ""}[role]
        return ColumnType(name, role, f"integers, {distinct} values{detail}")
    if not codes or y is None:
        return ColumnType(name, "numeric", f"integers, {distinct:,} values")
    scores = code_scores(column.to_numpy(dtype=np.float64, na_value=np.nan), y)
    if is_code(scores):
        return ColumnType(name, "both", f"integers, {distinct:,} values that act as a code ({scores})", check=True)
    # per-value means well ahead of the order, but on too few rows to be sure: a code, perhaps
    looks_like_code = scores.by_value - max(scores.by_order, 0.0) >= CODE_SHARE * scores.by_value > 0
    return ColumnType(name, "numeric", f"integers, {distinct:,} values ({scores})", check=looks_like_code)


def is_code(scores: CodeScores) -> bool:
    gain = scores.by_value - max(scores.by_order, 0.0)
    return gain >= CODE_SHARE * scores.by_value > 0 and scores.t >= CODE_T


@dataclass(frozen=True)
class CodeScores:
    by_value: float  # share of the target's variance that per-value means explain
    by_order: float  # the same for means of ORDER_BINS bins in value order
    t: float  # the per-row gain of by_value over max(by_order, 0), in standard errors

    def __str__(self) -> str:
        return f"per-value means explain {100 * self.by_value:.1f} % of the target, ordered bins {100 * self.by_order:.1f} %"


def code_scores(x: np.ndarray, y: np.ndarray) -> CodeScores:
    """Per-value and ordered-bin means, each fitted on one half of the rows and scored on the
    other, both ways, over CODE_REPEATS random halvings; t from each row's mean squared-error gain."""
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) > CODE_TEST_ROWS:
        chosen = np.random.default_rng(0).choice(len(x), CODE_TEST_ROWS, replace=False)
        x, y = x[chosen], y[chosen]
    n = len(x)
    by_value, by_order, by_mean = np.zeros(n), np.zeros(n), np.zeros(n)
    for repeat in range(CODE_REPEATS):
        order = np.random.default_rng(repeat).permutation(n)
        for fit, scored in ((order[: n // 2], order[n // 2 :]), (order[n // 2 :], order[: n // 2])):
            value_pred, order_pred, mean = _half_predictions(x, y, fit, scored)
            by_value[scored] += (y[scored] - value_pred) ** 2
            by_order[scored] += (y[scored] - order_pred) ** 2
            by_mean[scored] += (y[scored] - mean) ** 2
    total = by_mean.sum()
    if total == 0.0:
        return CodeScores(0.0, 0.0, 0.0)
    # against the ordered bins, or the plain mean where the bins do worse than it (a small table)
    baseline = by_order if by_order.sum() <= total else by_mean
    gain = baseline - by_value
    spread = gain.std()
    t = float(gain.mean() / (spread / np.sqrt(n))) if spread > 0 else 0.0
    return CodeScores(1.0 - by_value.sum() / total, 1.0 - by_order.sum() / total, t)


def _half_predictions(x: np.ndarray, y: np.ndarray, fit: np.ndarray, scored: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Predictions for the scored rows from the fitted ones: shrunk per-value means, means of
    ordered bins, and the plain mean."""
    mean = float(y[fit].mean())
    sums = pd.DataFrame({"x": x[fit], "y": y[fit]}).groupby("x")["y"].agg(["sum", "count"])
    shrunk = (sums["sum"] + CODE_SHRINKAGE * mean) / (sums["count"] + CODE_SHRINKAGE)
    per_value = pd.Series(x[scored]).map(shrunk).fillna(mean).to_numpy()
    edges = np.unique(np.quantile(x[fit], np.linspace(0, 1, ORDER_BINS + 1)[1:-1]))
    bin_means = pd.Series(y[fit]).groupby(np.searchsorted(edges, x[fit], side="right")).mean()
    per_bin = pd.Series(np.searchsorted(edges, x[scored], side="right")).map(bin_means).fillna(mean).to_numpy()
    return per_value, per_bin, mean


def _whole(values: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(values):
        return True
    numbers = values.to_numpy(dtype=np.float64)
    return bool(np.isfinite(numbers).all() and (numbers == np.round(numbers)).all())


def _numeric_target(target: pd.Series | None, task: str | None) -> np.ndarray | None:
    """The target as numbers for the code test: a regression target itself, a class target as
    1 for its most frequent class and 0 otherwise; None when there is none."""
    if target is None:
        return None
    values = target.dropna()
    if values.nunique() < 2:
        return None
    if task == "regression":
        return target.to_numpy(dtype=np.float64, na_value=np.nan)
    common = values.mode().iloc[0]
    return np.where(target.isna(), np.nan, (target == common).to_numpy(dtype=np.float64, na_value=0.0))


def type_table(types: Sequence[ColumnType]) -> str:
    """The printed table: column, type, reason; guesses to check are marked."""
    width = max([len("column"), *(len(t.name) for t in types)])
    lines = [f"  {'column':<{width}}  {'type':<11}  reason"]
    for t in types:
        mark = "  ← check" if t.check else ""
        lines.append(f"  {t.name:<{width}}  {t.role:<11}  {t.reason}{mark}")
    return "\n".join(lines)
