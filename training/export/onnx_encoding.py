"""The encoding contract (features/) as ONNX ops: raw columns in, the network's inputs out.

Inputs are named and typed as the v2 metadata describes them (app/v2/codec.py): one 1-D tensor
per feature, categoricals ``tensor(string)``, numerics ``tensor(double)``.

- **Categories** (features.categorical): ``ai.onnx.ml.LabelEncoder`` maps each vocabulary value
  to its embedding row, everything else (unseen values, ``""`` = missing) to the trained unknown
  row 0. The keys are the canonical strings of features.canonical, plus the other spellings
  canonical() folds onto them that clients commonly send (``"7.0"`` for ``7``, ``"true"`` for
  ``1``): docs/onnx.md tells callers what to send.
- **Numbers** (features.numeric), in double as NumericEncoder computes them: NaN → the training
  median, a missing indicator for the features that had missing values, clipping to the training
  range, then the standardised value and/or the rank-gauss score: ``np.interp`` over the stored
  knots, rebuilt from standard ops (a two-level count finds each value's knot interval in
  2·√m comparisons instead of m), then cast to float32.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from onnx import TensorProto, helper

from features.canonical import canonical
from training.export.onnx_builder import ML_DOMAIN, GraphBuilder

_BOOLEAN_SPELLINGS = {"1": ("true", "True", "TRUE"), "0": ("false", "False", "FALSE")}


def spellings(value: str) -> list[str]:
    """``value`` and the other strings canonical() maps to it that clients send for numbers and
    booleans: an integer with ``.0``, ``true``/``false`` for 1/0. Each is checked against canonical()."""
    others: list[str] = []
    if value.lstrip("-").isdigit():
        others.append(f"{value}.0")
    others += _BOOLEAN_SPELLINGS.get(value, ())
    return [value, *(s for s in others if canonical(s) == value)]


def categorical_codes(builder: GraphBuilder, name: str, vocabulary: list[str]) -> str:
    """The input ``name`` (strings, N) → its embedding rows (int64; vocabulary value i → row i + 1)."""
    keys, rows = [], []
    for row, value in enumerate(vocabulary, start=1):
        for spelling in spellings(value):
            keys.append(spelling)
            rows.append(row)
    source = builder.input(name, TensorProto.STRING, ["N"])
    if not keys:  # a feature whose every training value was rare: every row is the unknown row
        zero = helper.make_tensor("zero", TensorProto.INT64, [1], [0])
        return builder.op("ConstantOfShape", [builder.op("Shape", [source])], f"{name}__row", value=zero)
    return builder.op(
        "LabelEncoder", [source], f"{name}__row", domain=ML_DOMAIN, keys_strings=keys, values_int64s=rows, default_int64=0
    )


def number_codes(builder: GraphBuilder, name: str, vocabulary: list[str]) -> str:
    """A column that is a number and a category: its one input (double, N, as v2 sends it) → its
    embedding rows, by exact comparison with the vocabulary's numbers (value i → row i + 1; NaN and
    unseen numbers → the unknown row 0). Exact in double, unlike a float-keyed LabelEncoder."""
    source = builder.input(name, TensorProto.DOUBLE, ["N"])
    try:
        keys = np.asarray([float(value) for value in vocabulary], dtype=np.float64)
    except ValueError:
        raise ValueError(f"feature {name!r} is numeric and categorical but has a value that is not a number") from None
    if not len(keys):
        zero = helper.make_tensor("zero", TensorProto.INT64, [1], [0])
        return builder.op("ConstantOfShape", [builder.op("Shape", [source])], f"{name}__row", value=zero)
    column = builder.op("Unsqueeze", [source, builder.const([1], "axis1", np.int64)])
    equal = builder.op("Equal", [column, builder.const(keys, f"{name}__numbers", np.float64)])
    rows = builder.op(
        "Where",
        [equal, builder.const(np.arange(1, len(keys) + 1), f"{name}__rows", np.int64), builder.const(0, "zero_row", np.int64)],
    )
    return builder.op("ReduceMax", [rows], f"{name}__row", axes=[1], keepdims=0)


def numeric_inputs(builder: GraphBuilder, encoder: Any) -> str:
    """The numeric inputs (double, one per feature) → the network's numeric input, float32 (N, width)."""
    names = list(encoder.names)
    columns = [
        builder.op("Unsqueeze", [builder.input(n, TensorProto.DOUBLE, ["N"]), builder.const([1], "axis1", np.int64)])
        for n in names
    ]
    x = columns[0] if len(columns) == 1 else builder.op("Concat", columns, "numbers", axis=1)
    missing = builder.op("IsNaN", [x], "missing")
    filled = builder.op("Where", [missing, builder.const(encoder.medians_, "medians", np.float64), x], "imputed")
    low = builder.op("Max", [filled, builder.const(encoder.mins_, "mins", np.float64)])
    clipped = builder.op("Min", [low, builder.const(encoder.maxs_, "maxs", np.float64)], "clipped")
    scaling = encoder.scaling_in_use
    parts = []
    if scaling != "quantile":
        centred = builder.op("Sub", [clipped, builder.const(encoder.means_, "means", np.float64)])
        parts.append(builder.op("Div", [centred, builder.const(encoder.scales_, "scales", np.float64)], "standardised"))
    if scaling in ("quantile", "both"):
        knots = zip(encoder.quantile_values_, encoder.quantile_scores_, strict=True)
        scores = [
            _interp(builder, _column(builder, clipped, j), np.asarray(xp), np.asarray(fp)) for j, (xp, fp) in enumerate(knots)
        ]
        parts.append(scores[0] if len(scores) == 1 else builder.op("Concat", scores, "rank_gauss", axis=1))
    flagged = np.flatnonzero(encoder.indicators_)
    if len(flagged):
        chosen = builder.op("Gather", [missing, builder.const(flagged, "flagged", np.int64)], axis=1)
        parts.append(builder.op("Cast", [chosen], "indicators", to=TensorProto.DOUBLE))
    joined = parts[0] if len(parts) == 1 else builder.op("Concat", parts, "encoded", axis=1)
    return builder.op("Cast", [joined], "numeric", to=TensorProto.FLOAT)


def _column(builder: GraphBuilder, matrix: str, j: int) -> str:
    """Column j of (N, k) as (N, 1)."""
    return builder.op("Gather", [matrix, builder.const([j], "column", np.int64)], axis=1)


def _interp(builder: GraphBuilder, x: str, xp: np.ndarray, fp: np.ndarray) -> str:
    """``np.interp(x, xp, fp)`` for x (N, 1) double, xp increasing: fp[0] left of xp[0], fp[-1]
    from xp[-1] on, else ``slope · (x − xp[j]) + fp[j]`` on the interval [xp[j], xp[j+1])."""
    m = len(xp)
    if m == 1:
        return builder.op(
            "Add", [builder.op("Mul", [x, builder.const(0.0, "zero", np.float64)]), builder.const(fp[0], "score", np.float64)]
        )
    count = _knots_at_or_below(builder, x, xp)  # (N, 1) int64
    j = builder.op(
        "Clip",
        [
            builder.op("Sub", [count, builder.const(1, "one", np.int64)]),
            builder.const(0, "lo", np.int64),
            builder.const(m - 2, "hi", np.int64),
        ],
    )
    j1 = builder.op("Add", [j, builder.const(1, "one", np.int64)])
    xp_, fp_ = builder.const(xp, "knots", np.float64), builder.const(fp, "scores", np.float64)
    x0, x1 = builder.op("Gather", [xp_, j]), builder.op("Gather", [xp_, j1])
    y0, y1 = builder.op("Gather", [fp_, j]), builder.op("Gather", [fp_, j1])
    slope = builder.op("Div", [builder.op("Sub", [y1, y0]), builder.op("Sub", [x1, x0])], "slope")
    inside = builder.op("Add", [builder.op("Mul", [slope, builder.op("Sub", [x, x0])]), y0])
    left = builder.op("Equal", [count, builder.const(0, "none", np.int64)])
    right = builder.op("Equal", [count, builder.const(m, "all", np.int64)])
    y = builder.op("Where", [right, builder.const(fp[-1], "last", np.float64), inside])
    return builder.op("Where", [left, builder.const(fp[0], "first", np.float64), y], "score")


def _knots_at_or_below(builder: GraphBuilder, x: str, xp: np.ndarray) -> str:
    """How many knots are ≤ x, for x (N, 1): first against every block's first knot, then
    inside the one block x falls in (knots padded with +inf to whole blocks)."""
    m = len(xp)
    size = max(1, math.isqrt(m - 1) + 1)
    blocks = -(-m // size)
    padded = np.full(blocks * size, np.inf)
    padded[:m] = xp
    table = padded.reshape(blocks, size)
    at_or_below = builder.op("LessOrEqual", [builder.const(table[:, 0][None, :], "block_starts", np.float64), x])
    started = builder.op(
        "ReduceSum", [builder.op("Cast", [at_or_below], to=TensorProto.INT64), builder.const([1], "axis1", np.int64)], keepdims=1
    )
    block = builder.op(
        "Max", [builder.op("Sub", [started, builder.const(1, "one", np.int64)]), builder.const(0, "zero", np.int64)]
    )
    knots = builder.op(
        "Gather",
        [builder.const(table, "blocks", np.float64), builder.op("Squeeze", [block, builder.const([1], "axis1", np.int64)])],
    )  # (N, size)
    inside = builder.op("LessOrEqual", [knots, x])
    counted = builder.op(
        "ReduceSum", [builder.op("Cast", [inside], to=TensorProto.INT64), builder.const([1], "axis1", np.int64)], keepdims=1
    )
    # left of the first knot the search clamps to block 0, where no knot is ≤ x either: 0
    return builder.op("Add", [builder.op("Mul", [block, builder.const(size, "block_size", np.int64)]), counted], "knots_below")
