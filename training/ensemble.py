"""An ensemble of K networks in one bundle: trained apart, served as one graph.

Each member is the default network trained from its own seed (its own initialisation, dropout
masks and batch order) on the same rows, with its own early stopping: K seeds averaged, the
plainest ensemble and the one measured (docs/coverage.md). The bundle holds one Keras model
whose output is the members' mean (the source of truth) and one NumPy graph computing the same:

- each feature's table is the members' tables side by side (K·d wide), which is also the
  vector ``GET /embeddings`` serves: every member's view of the value;
- the first dense layers of the K members are one dense layer whose kernel routes each
  member's slice of the input to that member's units (so the graph's first-layer projection,
  a gather-and-add, still applies);
- periodic numeric embeddings are weights, so each member has its own: the stitched expansion
  computes all K side by side after the shared numeric input, and member k's first layer reads
  its own block;
- later layers are ``grouped_dense`` (K kernels side by side), and ``member_mean`` averages the
  outputs, probabilities or values, as the Keras model does.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from features.graph import InferenceGraph
from features.periodic import PeriodicExpansion


def member_folds(rows: int, members: int, seed: int, labels: np.ndarray | None = None) -> list[np.ndarray]:
    """The rows each member holds out (``ensemble_holdout="folds"``): K disjoint folds covering
    every row, stratified by class when every class has K rows. Member k trains on the other
    rows and early-stops on its fold, so every row trains K − 1 members and the ensemble as a
    whole learns from all of them, where a shared holdout leaves 20 % of the table unused. It
    did not beat the shared holdout on the bench (docs/coverage.md), so it is an option."""
    if labels is not None and np.unique(labels, return_counts=True)[1].min() >= members:
        splitter = StratifiedKFold(members, shuffle=True, random_state=seed).split(np.zeros(rows), labels)
    else:
        splitter = KFold(members, shuffle=True, random_state=seed).split(np.arange(rows))
    return [held for _, held in splitter]


def combine(members: list[keras.Model]) -> keras.Model:
    """One model on the members' inputs whose output is the mean of theirs."""
    if len(members) == 1:
        return members[0]
    inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name.split(":")[0]) for t in members[0].inputs]
    wrapped = [keras.Model(m.inputs, m.outputs[0], name=f"member_{k}") for k, m in enumerate(members)]
    outputs = [member(inputs) for member in wrapped]
    return keras.Model(inputs, keras.layers.Average(name="member_mean")(outputs), name="catembed_ensemble")


def stitch(graphs: list[InferenceGraph]) -> InferenceGraph:
    """The members' NumPy graphs (identical architectures) as one graph computing their mean."""
    if len(graphs) == 1:
        return graphs[0]
    first = graphs[0]
    kinds = [[layer["op"] for layer in g.layers] for g in graphs]
    if any(k != kinds[0] for k in kinds) or not kinds[0] or kinds[0][0] != "dense":
        raise ValueError("ensemble members must share one architecture starting with a dense layer")
    embeddings = [np.hstack([g.embeddings[i] for g in graphs]) for i in range(len(first.embeddings))]
    layers = [_first_dense(graphs)]
    for j in range(1, len(first.layers)):
        layers.append(_side_by_side([g.layers[j] for g in graphs]))
    layers.append({"op": "member_mean", "members": len(graphs)})
    expansion = first.expansion
    if expansion is not None and expansion.periodic is not None:
        expansion = expansion.with_periodic(PeriodicExpansion.stacked([_periodic(g) for g in graphs]))
    return InferenceGraph(embeddings, layers, first.numeric_width, expansion)


def _periodic(graph: InferenceGraph) -> PeriodicExpansion:
    assert graph.expansion is not None and graph.expansion.periodic is not None
    return graph.expansion.periodic


def _first_dense(graphs: list[InferenceGraph]) -> dict[str, Any]:
    """Member k reads its own d-wide slice of every feature's K·d-wide vector, the numeric input
    and, with periodic embeddings, its own block of them; its rows of the stitched kernel are
    zero everywhere else."""
    members = len(graphs)
    widths = [e.shape[1] for e in graphs[0].embeddings]
    units = graphs[0].layers[0]["kernel"].shape[1]
    numeric_rows = graphs[0].layers[0]["kernel"].shape[0] - sum(widths)
    periodic = graphs[0].expansion.periodic if graphs[0].expansion is not None else None
    own = periodic.added_width if periodic is not None else 0  # the periodic op comes last in the chain
    shared = numeric_rows - own  # the numeric input (and any piecewise-linear ramps: constants, the same for all)
    kernel = np.zeros((members * sum(widths) + shared + members * own, members * units), dtype=np.float32)
    for k, graph in enumerate(graphs):
        source = graph.layers[0]["kernel"]
        columns = slice(k * units, (k + 1) * units)
        row_in, row_out = 0, 0
        for width in widths:
            kernel[row_out + k * width : row_out + (k + 1) * width, columns] = source[row_in : row_in + width]
            row_in, row_out = row_in + width, row_out + members * width
        kernel[row_out : row_out + shared, columns] = source[row_in : row_in + shared]
        block = row_out + shared + k * own
        kernel[block : block + own, columns] = source[row_in + shared :]
    bias = np.concatenate([g.layers[0]["bias"] for g in graphs]).astype(np.float32)
    return {"op": "dense", "activation": graphs[0].layers[0].get("activation", "linear"), "kernel": kernel, "bias": bias}


def _side_by_side(layers: list[dict[str, Any]]) -> dict[str, Any]:
    op = layers[0]["op"]
    if op == "dense":
        kernel = np.stack([layer["kernel"] for layer in layers]).astype(np.float32)
        bias = np.stack([layer["bias"] for layer in layers]).astype(np.float32)
        return {"op": "grouped_dense", "activation": layers[0].get("activation", "linear"), "kernel": kernel, "bias": bias}
    if op == "affine":  # element-wise: the members' blocks lie in order along the one axis
        scale = np.concatenate([layer["scale"] for layer in layers]).astype(np.float32)
        shift = np.concatenate([layer["shift"] for layer in layers]).astype(np.float32)
        return {"op": "affine", "scale": scale, "shift": shift}
    if op == "activation" and layers[0]["activation"] != "softmax":
        return dict(layers[0])  # element-wise too
    raise ValueError(f"no ensemble form for a {op!r} layer")
