"""The joint entity-embedding network, in the spirit of the original write-up: one Embedding per
categorical feature → Flatten → Concatenate with the numeric input → dense stack → head."""

from __future__ import annotations

import re

import keras
from keras import layers, regularizers

from features.encoder import TabularEncoder
from features.schema import FeatureSpec
from training.loop.config import NetworkSettings, TrainConfig
from training.model.batch_ensemble import MEAN, BatchEnsembleModel, MemberAdapter, MemberHead, MemberMean
from training.model.numeric_embedding import PeriodicEmbedding, PiecewiseLinearExpansion
from training.model.shrunk_embedding import ShrunkEmbedding


def embedding_size(n_indices: int) -> int:
    """Default width of a feature's embedding, from the rows of its table (vocabulary + unknown):
    fastai's min(600, round(1.6 · n^0.56)), which grows slowly with cardinality (12 → 6, 4k →
    170) and beat a half-the-cardinality rule (docs/decisions.md: embedding-size)."""
    return max(1, min(600, round(1.6 * n_indices**0.56)))


def input_names(features: list[str]) -> list[str]:
    """Keras names for the categorical inputs: no '/' or spaces allowed, and unique."""
    names: list[str] = []
    for feature in features:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", feature)
        while safe in names or safe == "numeric":
            safe += "_"
        names.append(safe)
    return names


def embedding_dims(encoder: TabularEncoder, spec: FeatureSpec, network: NetworkSettings) -> dict[str, int]:
    dims = {}
    for name in encoder.categorical:
        size = embedding_size(encoder.categorical_[name].n_indices)
        if network.embedding_cap:
            size = min(size, network.embedding_cap)
        dims[name] = spec.embedding_dims.get(name) or network.embedding_dim or size
    return dims


def output_units(task: str, n_classes: int, network: NetworkSettings, link: str = "identity") -> tuple[int, str]:
    if task == "regression":
        return 1, "exponential" if link == "log" else "linear"
    if task == "binary" and network.binary_head == "sigmoid":
        return 1, "sigmoid"
    return n_classes, "softmax"


def build_model(
    vocab_sizes: dict[str, int],
    dims: dict[str, int],
    numeric_width: int,
    task: str,
    n_classes: int,
    config: TrainConfig,
    counts: dict[str, list[int]] | None = None,
    shrinkage: dict[str, float] | None = None,
    link: str = "identity",
    score_columns: list[int] | None = None,
    periodic_columns: list[int] | None = None,
) -> keras.Model:
    """vocab_sizes: rows of each embedding table (vocabulary + 1), in model-input order.

    counts: training rows of each vocabulary value per feature (the encoder's ``counts_``); with
    a shrinkage k > 0 (per feature in ``shrinkage``, else ``config.encoding.shrinkage``) they make each
    table a ShrunkEmbedding (same parameters as an Embedding). link: the regression target's
    link (features.target.ScaledTarget.link_); "log" makes the head ``exp``. score_columns: where
    the scores that get a piecewise-linear expansion (training/model/numeric_embedding.py) when
    ``config.encoding.numeric_encoding`` is "ple" (every feature's) or "auto"/"auto+plr"
    (training/model/step_features.py); periodic_columns: those that get periodic embeddings under
    "plr" and "auto+plr" (every score).
    """
    network, encoding, seed = config.network, config.encoding, config.fitting.seed
    inputs, parts = [], []
    for i, ((feature, n_indices), safe) in enumerate(zip(vocab_sizes.items(), input_names(list(vocab_sizes)), strict=True)):
        categorical = keras.Input(shape=(1,), dtype="int32", name=safe)
        table: layers.Layer
        k = shrinkage[feature] if shrinkage is not None else encoding.shrinkage
        if k and counts is not None:
            if len(counts[feature]) + 1 != n_indices:
                raise ValueError(f"feature {feature!r}: {len(counts[feature])} counts for a table of {n_indices} rows")
            table = ShrunkEmbedding(
                counts[feature],
                dims[feature],
                k,
                l2=encoding.deviation_l2,
                fold_k=encoding.fold_k,
                seed=seed * 1000 + i,
                name=f"embedding_{safe}",
            )
        else:
            table = layers.Embedding(n_indices, dims[feature], name=f"embedding_{safe}")
        vectors = table(categorical)
        parts.append(layers.Flatten(name=f"flatten_{safe}")(vectors))
        inputs.append(categorical)
    if numeric_width:
        numeric = keras.Input(shape=(numeric_width,), dtype="float32", name="numeric")
        inputs.append(numeric)
        expanded = numeric
        if encoding.numeric_encoding in ("ple", "auto", "auto+plr") and score_columns:
            expanded = PiecewiseLinearExpansion(score_columns, encoding.ple_bins, name="numeric_expansion")(expanded)
        if encoding.numeric_encoding in ("plr", "auto+plr") and periodic_columns:
            # after the ramps, which keep the numeric input in front: the columns still point at it
            periodic = PeriodicEmbedding(
                periodic_columns,
                encoding.plr_frequencies,
                encoding.plr_dims,
                encoding.plr_sigma,
                seed=seed * 1000 + 999,
                sharp=score_columns if encoding.numeric_encoding == "auto+plr" else None,
                sharp_sigma=encoding.plr_step_sigma,
                name="periodic_embedding",
            )
            expanded = periodic(expanded)
        parts.append(expanded)
    x = layers.Concatenate(name="concatenate")(parts) if len(parts) > 1 else parts[0]
    if network.input_dropout:  # a Dropout is the identity at inference: the NumPy export skips it
        x = layers.Dropout(network.input_dropout, name="input_dropout")(x)
    members = config.ensembling.batch_ensemble
    if members > 1:  # (n, K, width) from here on: the dense layers are shared, applied per member
        x = MemberAdapter(members, seed=seed * 1000 + 998, name="member_adapter")(x)
    regularizer = regularizers.l2(network.l2) if network.l2 else None
    if network.hidden_units is None:  # the orchestrator resolves the config once the training rows are counted
        raise TypeError("build_model needs concrete hidden_units: pass training.loop.auto.resolve_auto(config, task, rows)")
    for i, (units, rate) in enumerate(zip(network.hidden_units, network.dropout, strict=True), start=1):
        x = layers.Dense(units, activation=network.activation, kernel_regularizer=regularizer, name=f"dense_{i}")(x)
        if network.batch_norm:
            x = layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        if rate:
            x = layers.Dropout(rate, name=f"dropout_{i}")(x)
    units, activation = output_units(task, n_classes, network, link)
    if members > 1:
        heads = MemberHead(units, activation, None, seed=seed * 1000 + 997, name="head")(x)
        return BatchEnsembleModel(inputs=inputs, outputs=MemberMean(name=MEAN)(heads), name="catembed")
    output = layers.Dense(units, activation=activation, name="head")(x)
    return keras.Model(inputs=inputs, outputs=output, name="catembed")
