"""The parts of fitting both routes share (in memory and streamed, one or many workers): the
compiled network, its loss and metrics, the target's encoding, callbacks and class weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from features.encoder import TabularEncoder
from features.errors import DataError
from features.schema import FeatureSpec
from features.target import LabelTarget, ScaledTarget
from training.loop.config import TrainConfig, auto_batch_size, auto_shrinkage
from training.model.network import build_model, embedding_dims
from training.model.step_features import one_hot, step_features

FIT_LOSS = "fit_loss"
MONITOR = f"val_{FIT_LOSS}"  # early stopping and the best epoch: the holdout loss without penalties


def label_target(spec: FeatureSpec, labels: list[Any]) -> LabelTarget:
    target = LabelTarget().fit(labels)
    n_classes = len(target.classes_)
    if n_classes < 2:
        raise DataError(f"target {spec.target!r} has one class ({target.classes_[0]!r}); nothing to learn", field=spec.target)
    if spec.task == "binary" and n_classes != 2:
        raise DataError(f"task is binary but target {spec.target!r} has {n_classes} classes", field=spec.target)
    return target


def compiled_model(
    encoder: TabularEncoder,
    spec: FeatureSpec,
    config: TrainConfig,
    task: str,
    target: LabelTarget | ScaledTarget,
    train_rows: int,
    expanded: list[int] | None = None,
) -> tuple[keras.Model, dict[str, int], dict[str, float]]:
    """(the compiled network, embedding sizes, shrinkage k per feature). expanded: the numeric
    features (by position) that ``numeric_encoding="auto"`` expands (see ``ple_features``)."""
    n_classes = len(target.classes_) if isinstance(target, LabelTarget) else 1
    vocab = {f: encoder.categorical_[f].n_indices for f in spec.categorical}
    dims = embedding_dims(encoder, spec, config)
    numeric_width = encoder.numeric_.n_outputs if encoder.numeric_ is not None else 0
    counts = {f: encoder.categorical_[f].counts_ for f in spec.categorical}
    shrinkage = _shrinkage(config, vocab, train_rows)
    link = getattr(target, "link_", "identity")
    every = encoder.numeric_.score_columns().tolist() if encoder.numeric_ is not None else None
    scores = every
    if every is not None and config.numeric_encoding in ("auto", "auto+plr"):
        scores = [every[j] for j in expanded or []]
    model = build_model(vocab, dims, numeric_width, task, n_classes, config, counts, shrinkage, link, scores, every)
    model.compile(
        optimizer=keras.optimizers.Adam(
            config.learning_rate, use_ema=config.weight_average > 0, ema_momentum=average_momentum(config, train_rows)
        ),
        loss=loss_name(task, config),
        metrics=[curve_metric(task, config), fit_metric(task, config)],
    )
    return model, dims, shrinkage


def average_momentum(config: TrainConfig, train_rows: int) -> float:
    """The EMA momentum whose horizon (1 / (1 − momentum) steps) is ``weight_average`` epochs:
    a fixed momentum would average 1.5 epochs of diamonds but 5 of hotel_rates (batches per
    epoch differ), and 0.998 (26 hotel_rates epochs) cost it 33 % RMSE (docs/coverage.md)."""
    steps = max(1.0, train_rows / (config.batch_size or auto_batch_size(train_rows)))
    horizon = max(1.0, config.weight_average * steps)
    return 1.0 - 1.0 / horizon


def ple_features(
    encoder: TabularEncoder,
    spec: FeatureSpec,
    config: TrainConfig,
    inputs: list[np.ndarray],
    y: np.ndarray,
    target: LabelTarget | ScaledTarget,
    judged_on: str,
    log: Callable[[str], None],
) -> tuple[list[int], dict[str, Any]]:
    """(the numeric features, by position, that ``numeric_encoding="auto"`` expands because
    their effect on y is a staircase (training/model/step_features.py); the manifest entry naming the
    expanded features: every one under "ple", auto's pick, none under "none"; every one gets a
    periodic embedding under "plr"). inputs: the
    model inputs of the rows to judge on, y: their encoded target. Auto's pick is logged."""
    if config.numeric_encoding == "ple":
        return [], {"ple_features": list(spec.numeric)}
    periodic = {"plr_features": list(spec.numeric)} if config.numeric_encoding in ("plr", "auto+plr") else {}
    if config.numeric_encoding == "plr":
        return [], {"ple_features": [], **periodic}
    if config.numeric_encoding not in ("auto", "auto+plr") or encoder.numeric_ is None:
        return [], {"ple_features": []}
    y = np.asarray(y)
    if isinstance(target, LabelTarget) and (y.ndim == 1 or y.shape[1] == 1) and len(target.classes_) > 2:
        y = one_hot(y, len(target.classes_))
    expanded = step_features(inputs[-1][:, encoder.numeric_.score_columns()], y)  # numeric is the last input
    names = [spec.numeric[j] for j in expanded]
    log(f"piecewise-linear encoding (auto, judged on {judged_on}): {', '.join(names) if names else 'no numeric feature'}")
    return expanded, {"ple_features": names, **periodic}


def _shrinkage(config: TrainConfig, vocab: dict[str, int], rows: int) -> dict[str, float]:
    """Each feature's k of s_c = n_c / (n_c + k); 0 (a plain table) below shrinkage_min_values."""
    k = config.shrinkage if config.shrinkage is not None else auto_shrinkage(rows)
    return {f: float(k) if n - 1 >= config.shrinkage_min_values else 0.0 for f, n in vocab.items()}


def target_array(target: LabelTarget | ScaledTarget, y: Any, task: str, config: TrainConfig) -> np.ndarray:
    encoded = target.transform(y)
    if task == "regression" or (task == "binary" and config.binary_head == "sigmoid"):
        return encoded.astype(np.float32).reshape(-1, 1)
    return encoded


def curve_metric(task: str, config: TrainConfig) -> keras.metrics.Metric:
    """The metric compiled next to the loss so the history has a curve people read: it is only
    measured, never optimised, so the trained weights are the same with or without it."""
    if task == "regression":
        return keras.metrics.MeanAbsoluteError(name="mae")
    if task == "binary" and config.binary_head == "sigmoid":
        return keras.metrics.AUC(name="auc")
    return keras.metrics.SparseCategoricalAccuracy(name="accuracy")


def fit_metric(task: str, config: TrainConfig) -> keras.metrics.Metric:
    """The loss without the penalties: Keras' val_loss includes the L2 terms, so a growing
    deviation penalty would stop training (and pick the epoch) on the prior, not the fit."""
    loss = loss_name(task, config)
    if loss == "mean_squared_error":
        return keras.metrics.MeanSquaredError(name=FIT_LOSS)
    if loss == "binary_crossentropy":
        return keras.metrics.BinaryCrossentropy(name=FIT_LOSS)
    return keras.metrics.SparseCategoricalCrossentropy(name=FIT_LOSS)


def loss_name(task: str, config: TrainConfig) -> str:
    if task == "regression":
        return "mean_squared_error"
    if task == "binary" and config.binary_head == "sigmoid":
        return "binary_crossentropy"
    return "sparse_categorical_crossentropy"


def callbacks(config: TrainConfig) -> list[keras.callbacks.Callback]:
    chosen: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(monitor=MONITOR, patience=config.patience, restore_best_weights=True)
    ]
    if config.weight_average > 0:
        # first, so the callbacks after it (early stopping's best weights, the plateau) and the
        # holdout evaluation see the averaged weights: the epoch is chosen on what is served
        chosen.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    if config.lr_schedule == "plateau":
        # cut the step size before early stopping gives up, so the last epochs refine instead of stop
        chosen.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=MONITOR,
                factor=config.lr_factor,
                patience=max(1, config.patience // 2),
                min_lr=config.learning_rate * 1e-3,
            )
        )
    elif config.lr_schedule != "constant":
        raise DataError(f"unknown lr_schedule {config.lr_schedule!r}; use 'constant' or 'plateau'", field="lr_schedule")
    return chosen


def class_weight(class_rows: np.ndarray) -> dict[int, float]:
    """'balanced' weights from the training rows per class."""
    total, n_classes = float(class_rows.sum()), len(class_rows)
    return {i: total / (n_classes * max(float(c), 1.0)) for i, c in enumerate(class_rows)}
