"""An ensemble's NumPy graph: the K members' graphs (training/export/graph.py) stitched into one
graph that computes their mean, as the Keras model built by ``training.loop.ensemble.combine`` does.

- each feature's table is the members' tables side by side (K·d wide), what the first layer
  reads; the vector served per value (``GET /embeddings``, ``/embed``, the maps) is one d-wide
  table per feature, the members' tables turned onto member 0's and averaged
  (features.alignment.aligned_mean);
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

import numpy as np

from features.alignment import aligned_mean
from features.graph import InferenceGraph
from features.periodic import PeriodicExpansion


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
    vectors = [aligned_mean([g.embeddings[i] for g in graphs]) for i in range(len(first.embeddings))]
    return InferenceGraph(embeddings, layers, first.numeric_width, expansion, vectors)


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
