"""Keras model → the NumPy InferenceGraph the service runs, with a parity check."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from features.expansion import ExpansionChain
from features.graph import ACTIVATIONS, InferenceGraph
from training.model.batch_ensemble import MemberAdapter, MemberHead, MemberMean
from training.model.mixed_embedding import MixedEmbedding
from training.model.numeric_embedding import PeriodicEmbedding, PiecewiseLinearExpansion
from training.model.shrunk_embedding import ShrunkEmbedding

PARITY_TOLERANCE = 1e-5
_STRUCTURAL = (keras.layers.InputLayer, keras.layers.Flatten, keras.layers.Concatenate, keras.layers.Dropout)
_TABLES = (keras.layers.Embedding, ShrunkEmbedding, MixedEmbedding)


def to_graph(model: keras.Model, embedding_layers: list[str], numeric_width: int) -> InferenceGraph:
    """Read the weights out of the model built by training.model.network.build_model."""
    embeddings = [_table(model.get_layer(name)) for name in embedding_layers]
    ops: list[dict[str, Any]] = []
    expansion = []  # in the network's order: ramps, then periodic embeddings (features.expansion)
    adapter = None  # a batch ensemble's (K, d) input scales; the layers after it run per member
    for layer in model.layers:
        if isinstance(layer, (PiecewiseLinearExpansion, PeriodicEmbedding)):
            expansion.append(layer.expansion())
            continue
        if isinstance(layer, (*_STRUCTURAL, *_TABLES)):
            continue
        if isinstance(layer, MemberAdapter):
            adapter = layer.get_weights()[0]
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()
            ops.append(_member_dense(layer, kernel, bias, adapter, first=not ops))
        elif isinstance(layer, MemberHead):
            kernel, bias = layer.get_weights()
            ops.append({"op": "grouped_dense", "activation": _activation_name(layer.activation), "kernel": kernel, "bias": bias})
        elif isinstance(layer, MemberMean):
            ops.append({"op": "member_mean", "members": len(adapter) if adapter is not None else 1})
        elif isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            scale = gamma / np.sqrt(variance + layer.epsilon)
            shift = beta - mean * scale
            copies = len(adapter) if adapter is not None else 1  # per member: the flat (n, K·width) layout
            ops.append(
                {
                    "op": "affine",
                    "scale": np.tile(scale, copies).astype(np.float32),
                    "shift": np.tile(shift, copies).astype(np.float32),
                }
            )
        elif isinstance(layer, keras.layers.Activation):
            ops.append({"op": "activation", "activation": _activation_name(layer.activation)})
        else:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) has no NumPy export; serving would be wrong")
    return InferenceGraph(embeddings, ops, numeric_width, ExpansionChain(expansion) if expansion else None)


def check_parity(model: keras.Model, graph: InferenceGraph, inputs: list[np.ndarray], n_categorical: int) -> float:
    """Largest |keras − numpy| over the rows given; raises when above PARITY_TOLERANCE."""
    expected = np.asarray(model.predict(inputs, batch_size=4096, verbose=0))
    numeric = inputs[n_categorical] if len(inputs) > n_categorical else None
    got = graph([c.reshape(-1) for c in inputs[:n_categorical]], numeric)
    worst = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    if not worst <= PARITY_TOLERANCE:
        raise RuntimeError(f"exported NumPy model differs from Keras by {worst:.3g} (> {PARITY_TOLERANCE}); bundle not written")
    return worst


def _member_dense(
    layer: keras.layers.Dense, kernel: np.ndarray, bias: np.ndarray, adapter: np.ndarray | None, first: bool
) -> dict[str, Any]:
    """A dense layer; in a batch ensemble, the first one becomes member k's ``diag(r_k) · W`` side
    by side (one dense op, K·units wide) and the later ones K copies of the shared kernel."""
    activation = _activation_name(layer.activation)
    if adapter is None:
        return {"op": "dense", "activation": activation, "kernel": kernel, "bias": bias}
    members = len(adapter)
    if first:
        scaled = np.hstack([adapter[k][:, None] * kernel for k in range(members)]).astype(np.float32)
        return {"op": "dense", "activation": activation, "kernel": scaled, "bias": np.tile(bias, members).astype(np.float32)}
    copies = np.broadcast_to(kernel, (members, *kernel.shape)).astype(np.float32)
    return {
        "op": "grouped_dense",
        "activation": activation,
        "kernel": copies,
        "bias": np.tile(bias, (members, 1)).astype(np.float32),
    }


def _table(layer: keras.layers.Layer) -> np.ndarray:
    """A feature's lookup table: a shrunk or mixed table's effective e_0 + s_c·d_c, else the weights."""
    return layer.table() if isinstance(layer, (ShrunkEmbedding, MixedEmbedding)) else layer.get_weights()[0]


def _activation_name(function: Any) -> str:
    name = getattr(function, "__name__", str(function))
    name = {"swish": "silu"}.get(name, name)
    if name not in ACTIVATIONS:
        raise ValueError(f"activation {name!r} has no NumPy export; supported: {sorted(ACTIVATIONS)}")
    return name
