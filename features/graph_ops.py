"""The NumPy ops of the served graph (features.graph), one function per op the exporter writes.

Every product is a stack of fixed-height row blocks (features.row_blocks), so a row's result does
not depend on the batch around it; ``block`` is the graph's block height.

- ``dense``: ``activation(x @ kernel + bias)``.
- ``affine``: folded batch normalisation, ``x * scale + shift``.
- ``activation``: a standalone activation.
- ``grouped_dense``: K independent dense layers side by side (an ensemble's members after
  their first layer): the input holds K blocks, block k goes through ``kernel[k]``. One einsum
  instead of a block-diagonal matrix K times the size, mostly zeros.
- ``member_mean``: the average of the K members' outputs (probabilities or values), which is
  what the ensemble answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from features import row_blocks

Op = Callable[[np.ndarray], np.ndarray]


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805

ACTIVATIONS: dict[str, Op] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": _sigmoid,
    "softmax": _softmax,
    "tanh": np.tanh,
    "elu": _elu,
    "selu": lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0))),
    "silu": lambda x: x * _sigmoid(x),
    "exponential": np.exp,  # the head of a log-link regression (features.target.ScaledTarget)
}
OPS = ("dense", "affine", "activation", "grouped_dense", "member_mean")


def dense(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, activation: Op, block: int) -> np.ndarray:
    y = row_blocks.matmul(x, kernel, block)
    y += bias  # in place: a 10,000-row batch allocates one array per layer, not three
    if activation is ACTIVATIONS["relu"]:
        return np.maximum(y, 0, out=y)
    return activation(y)


def grouped_dense(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, activation: Op, block: int) -> np.ndarray:
    """x: (n, K·in); kernel (K, in, out), bias (K, out) → (n, K·out)."""
    members, width = kernel.shape[0], kernel.shape[1]
    members_first = x.reshape(-1, members, width).transpose(1, 0, 2)  # (K, n, in): one batched matmul
    y = row_blocks.matmul(members_first, kernel, block)  # (einsum's planning alone costs a single record ~25 µs)
    y += bias[:, None, :]
    return activation(y).transpose(1, 0, 2).reshape(y.shape[1], -1)  # activations (softmax too) apply per member


def member_mean(x: np.ndarray, members: int) -> np.ndarray:
    return x.reshape(len(x), members, -1).mean(axis=1)


def compile_op(layer: dict[str, Any], block: int = 1) -> Op:
    """The op described by one manifest entry (arrays from graph.npz), or ValueError. ``block``:
    the row-block height of its products (1, one product per row, is right for any BLAS)."""
    if layer["op"] not in OPS:
        raise ValueError(f"unsupported op {layer['op']!r}")
    name = layer.get("activation", "linear")
    if name not in ACTIVATIONS:
        raise ValueError(f"unsupported activation {name!r}; supported: {sorted(ACTIVATIONS)}")
    activation = ACTIVATIONS[name]
    if layer["op"] == "dense":
        kernel, bias = layer["kernel"], layer["bias"]
        return lambda x: dense(x, kernel, bias, activation, block)
    if layer["op"] == "grouped_dense":
        kernel, bias = layer["kernel"], layer["bias"]
        return lambda x: grouped_dense(x, kernel, bias, activation, block)
    if layer["op"] == "affine":
        scale, shift = layer["scale"], layer["shift"]
        return lambda x: x * scale + shift
    if layer["op"] == "member_mean":
        members = int(layer["members"])
        return lambda x: member_mean(x, members)
    return activation
