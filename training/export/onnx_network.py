"""The served network (features.graph.InferenceGraph) as ONNX ops, op for op.

The embedding gathers, the numeric expansion chain (features.expansion: piecewise-linear ramps,
periodic embeddings), the concatenation, then each layer of the graph's list
(features.graph_ops): ``dense``, ``affine`` (folded batch norm), ``activation``, and for
ensembles ``grouped_dense`` (K members' kernels side by side, one batched MatMul) and
``member_mean`` (their average, inside the graph). The first dense layer takes the concatenated
rows as Keras does, not the NumPy graph's pre-multiplied tables: the file keeps each table once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from features.expansion import ExpansionChain
from features.graph import InferenceGraph
from features.periodic import PeriodicExpansion
from features.piecewise_linear import NumericExpansion
from training.export.onnx_builder import GraphBuilder

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805  # as features.graph_ops


def gather_rows(builder: GraphBuilder, graph: InferenceGraph, codes: list[str], names: list[str]) -> list[str]:
    """Each categorical feature's embedding rows (N, d), float32: the trained tables, gathered."""
    return [
        builder.op("Gather", [builder.const(table, f"{name}__table", np.float32), code], f"{name}__vector", axis=0)
        for table, code, name in zip(graph.embeddings, codes, names, strict=True)
    ]


def network(builder: GraphBuilder, graph: InferenceGraph, rows: list[str], numeric: str | None) -> str:
    """The network's output (N, units of the head), float32, as ``graph(codes, numeric)``."""
    parts = list(rows)
    if numeric is not None:
        parts.append(numeric if graph.expansion is None else _expansion(builder, graph.expansion, numeric))
    x = parts[0] if len(parts) == 1 else builder.op("Concat", parts, "features", axis=1)
    for j, layer in enumerate(graph.layers):
        x = _layer(builder, layer, x, f"layer{j}")
    return x


def _layer(builder: GraphBuilder, layer: dict[str, Any], x: str, hint: str) -> str:
    op = layer["op"]
    if op == "dense":
        product = builder.op("MatMul", [x, builder.const(layer["kernel"], f"{hint}_kernel", np.float32)])
        y = builder.op("Add", [product, builder.const(layer["bias"], f"{hint}_bias", np.float32)], hint)
        return _activation(builder, layer.get("activation", "linear"), y)
    if op == "affine":
        scaled = builder.op("Mul", [x, builder.const(layer["scale"], f"{hint}_scale", np.float32)])
        return builder.op("Add", [scaled, builder.const(layer["shift"], f"{hint}_shift", np.float32)], hint)
    if op == "activation":
        return _activation(builder, layer.get("activation", "linear"), x)
    if op == "grouped_dense":
        kernel = np.asarray(layer["kernel"], dtype=np.float32)
        members, width = kernel.shape[0], kernel.shape[1]
        blocks = builder.op("Reshape", [x, builder.const([0, members, width], "shape", np.int64)])
        members_first = builder.op("Transpose", [blocks], perm=[1, 0, 2])  # (K, N, in)
        product = builder.op("MatMul", [members_first, builder.const(kernel, f"{hint}_kernel")])
        bias = np.asarray(layer["bias"], dtype=np.float32)[:, None, :]
        y = _activation(
            builder, layer.get("activation", "linear"), builder.op("Add", [product, builder.const(bias, f"{hint}_bias")])
        )
        rows_first = builder.op("Transpose", [y], perm=[1, 0, 2])
        return builder.op("Reshape", [rows_first, builder.const([0, -1], "shape", np.int64)], hint)
    if op == "member_mean":
        members = builder.op("Reshape", [x, builder.const([0, int(layer["members"]), -1], "shape", np.int64)])
        return builder.op("ReduceMean", [members], hint, axes=[1], keepdims=0)
    raise ValueError(f"unsupported op {op!r}")


def _activation(builder: GraphBuilder, name: str, x: str) -> str:
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "exponential": "Exp"}
    if name == "linear":
        return x
    if name in simple:
        return builder.op(simple[name], [x])
    if name == "softmax":
        return builder.op("Softmax", [x], axis=-1)
    if name == "elu":
        return builder.op("Elu", [x], alpha=1.0)
    if name == "selu":
        return builder.op("Selu", [x], alpha=_SELU_ALPHA, gamma=_SELU_SCALE)
    if name == "silu":
        return builder.op("Mul", [x, builder.op("Sigmoid", [x])], "silu")
    raise ValueError(f"unsupported activation {name!r}")


def _expansion(builder: GraphBuilder, chain: ExpansionChain, numeric: str) -> str:
    """The chain appends each op's columns to the numeric input, which stays in front."""
    x = numeric
    for part in chain.parts:
        added = _ramps(builder, part, x) if isinstance(part, NumericExpansion) else _periodic(builder, part, x)
        x = builder.op("Concat", [x, added], part.kind, axis=1)
    return x


def _ramps(builder: GraphBuilder, part: NumericExpansion, x: str) -> str:
    """features.piecewise_linear.encode: clip((score − low) / width, 0, 1) per bin, in float32."""
    edges = part.edges.astype(np.float32)
    low, width = edges[:-1], (edges[1:] - edges[:-1]).astype(np.float32)
    scores = builder.op("Gather", [x, builder.const(part.columns, "ple_columns", np.int64)], axis=1)
    shifted = builder.op(
        "Sub", [builder.op("Unsqueeze", [scores, builder.const([2], "axis2", np.int64)]), builder.const(low, "ple_low")]
    )
    ramps = builder.op("Div", [shifted, builder.const(width, "ple_width")])
    clipped = builder.op("Clip", [ramps, builder.const(np.float32(0), "zero"), builder.const(np.float32(1), "one")])
    return builder.op("Reshape", [clipped, builder.const([0, -1], "shape", np.int64)], "ple")


def _periodic(builder: GraphBuilder, part: PeriodicExpansion, x: str) -> str:
    """features.periodic: ReLU(W_j · [sin(a_j x), cos(a_j x)] + b_j) per feature j, one batched MatMul."""
    scores = builder.op("Gather", [x, builder.const(part.columns, "plr_columns", np.int64)], axis=1)
    angles = builder.op(
        "Mul",
        [builder.op("Unsqueeze", [scores, builder.const([2], "axis2", np.int64)]), builder.const(part.angular, "plr_angular")],
    )
    waves = builder.op("Concat", [builder.op("Sin", [angles]), builder.op("Cos", [angles])], axis=2)  # (N, C, 2k)
    features_first = builder.op("Transpose", [waves], perm=[1, 0, 2])
    product = builder.op("MatMul", [features_first, builder.const(part.kernel, "plr_kernel")])  # (C, N, d)
    y = builder.op("Relu", [builder.op("Add", [product, builder.const(part.bias[:, None, :], "plr_bias")])])
    rows_first = builder.op("Transpose", [y], perm=[1, 0, 2])
    return builder.op("Reshape", [rows_first, builder.const([0, -1], "shape", np.int64)], "plr")
