"""How every network is fitted, by ``model.fit`` (in memory and streamed) or by the distributed
loop: the one place that compiles it (optimizer, loss, metrics) and says how an epoch ends
(the weight average swapped in, early stopping, the plateau schedule), as Keras callbacks and,
for the hand-written loop of ``training.distributed.strategy``, as ``HandLoopSchedule``."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from features.encoder import TabularEncoder
from features.schema import FeatureSpec
from features.target import LabelTarget, ScaledTarget
from training.loop.auto import average_momentum
from training.loop.config import TrainConfig
from training.model.network import build_model, embedding_dims

FIT_LOSS = "fit_loss"
MONITOR = f"val_{FIT_LOSS}"  # early stopping and the best epoch: the holdout loss without penalties
PLATEAU_MIN_DELTA = 1e-4  # Keras' ReduceLROnPlateau default, which the hand-written loop repeats


def compiled_model(
    encoder: TabularEncoder,
    spec: FeatureSpec,
    config: TrainConfig,
    task: str,
    target: LabelTarget | ScaledTarget,
    train_rows: int,
    expanded: list[int] | None = None,
) -> tuple[keras.Model, dict[str, int], dict[str, float]]:
    """(the compiled network, embedding sizes, shrinkage k per feature) of a resolved config
    (``training.loop.auto.resolve_auto``). train_rows: the rows it fits on (an epoch's steps set
    the weight average's momentum); expanded: the numeric features (by position) that
    ``numeric_encoding="auto"`` expands (``training.loop.expansions.numeric_expansions``)."""
    n_classes = len(target.classes_) if isinstance(target, LabelTarget) else 1
    vocab = {f: encoder.categorical_[f].n_indices for f in spec.categorical}
    dims = embedding_dims(encoder, spec, config.network)
    numeric_width = encoder.numeric_.n_outputs if encoder.numeric_ is not None else 0
    counts = {f: encoder.categorical_[f].counts_ for f in spec.categorical}
    shrinkage = _shrinkage(config, vocab)
    link = getattr(target, "link_", "identity")
    every = encoder.numeric_.score_columns().tolist() if encoder.numeric_ is not None else None
    scores = every
    if every is not None and config.encoding.numeric_encoding in ("auto", "auto+plr"):
        scores = [every[j] for j in expanded or []]
    model = build_model(vocab, dims, numeric_width, task, n_classes, config, counts, shrinkage, link, scores, every)
    fitting = config.fitting
    model.compile(
        optimizer=keras.optimizers.Adam(
            fitting.learning_rate, use_ema=fitting.weight_average > 0, ema_momentum=average_momentum(config, train_rows)
        ),
        loss=loss_name(task, config),
        metrics=[curve_metric(task, config), fit_metric(task, config)],
    )
    return model, dims, shrinkage


def _shrinkage(config: TrainConfig, vocab: dict[str, int]) -> dict[str, float]:
    """Each feature's k of s_c = n_c / (n_c + k); 0 (a plain table) below shrinkage_min_values."""
    encoding = config.encoding
    if encoding.shrinkage is None:
        raise TypeError("compiled_model needs a resolved config: pass training.loop.auto.resolve_auto(config, ...)")
    return {f: float(encoding.shrinkage) if n - 1 >= encoding.shrinkage_min_values else 0.0 for f, n in vocab.items()}


def sigmoid_head(task: str, config: TrainConfig) -> bool:
    return task == "binary" and config.network.binary_head == "sigmoid"


def target_array(target: LabelTarget | ScaledTarget, y: Any, task: str, config: TrainConfig) -> np.ndarray:
    encoded = target.transform(y)
    if task == "regression" or sigmoid_head(task, config):
        return encoded.astype(np.float32).reshape(-1, 1)
    return encoded


def curve_metric(task: str, config: TrainConfig) -> keras.metrics.Metric:
    """The metric compiled next to the loss so the history has a curve people read: it is only
    measured, never optimised, so the trained weights are the same with or without it."""
    if task == "regression":
        return keras.metrics.MeanAbsoluteError(name="mae")
    if sigmoid_head(task, config):
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
    if sigmoid_head(task, config):
        return "binary_crossentropy"
    return "sparse_categorical_crossentropy"


def plateau_settings(config: TrainConfig) -> dict[str, float]:
    """ReduceLROnPlateau's arguments: cut the step size before early stopping gives up, so the
    last epochs refine instead of stop."""
    fitting = config.fitting
    return {"factor": fitting.lr_factor, "patience": max(1, fitting.patience // 2), "min_lr": fitting.learning_rate * 1e-3}


def callbacks(config: TrainConfig) -> list[keras.callbacks.Callback]:
    """How an epoch of ``model.fit`` ends; ``HandLoopSchedule`` repeats it for the distributed loop."""
    fitting = config.fitting
    chosen: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(monitor=MONITOR, patience=fitting.patience, restore_best_weights=True)
    ]
    if fitting.weight_average > 0:
        # first, so the callbacks after it (early stopping's best weights, the plateau) and the
        # holdout evaluation see the averaged weights: the epoch is chosen on what is served
        chosen.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    if fitting.lr_schedule == "plateau":
        chosen.append(keras.callbacks.ReduceLROnPlateau(monitor=MONITOR, **plateau_settings(config)))
    return chosen


def served_weights(model: keras.Model) -> list[np.ndarray]:
    """The weights the holdout judges and the bundle serves: with the optimizer's weight average
    (``use_ema``), each trainable variable's average in its place, as SwapEMAWeights swaps them
    in under ``fit`` (whose private pairing of variables and averages it reads too)."""
    optimizer = model.optimizer
    if not getattr(optimizer, "use_ema", False) or not optimizer.built:
        return model.get_weights()
    averages = dict(zip(map(id, optimizer._trainable_variables), optimizer._model_variables_moving_average, strict=True))
    return [keras.ops.convert_to_numpy(averages.get(id(w), w)) for w in model.weights]


class HandLoopSchedule:
    """``callbacks(config)`` for a loop that is not ``model.fit``: after each epoch it keeps the
    best served weights (EarlyStopping with restore_best_weights, mode min) and says whether
    to stop, or the new learning rate (ReduceLROnPlateau)."""

    def __init__(self, config: TrainConfig) -> None:
        fitting = config.fitting
        self.patience, self.plateau = fitting.patience, fitting.lr_schedule == "plateau"
        self.wait, self.best, self.best_epoch = 0, np.inf, 0
        self.best_weights: list[np.ndarray] | None = None
        settings = plateau_settings(config)
        self.factor, self.lr_patience, self.min_lr = settings["factor"], int(settings["patience"]), settings["min_lr"]
        self.lr_best, self.lr_wait = np.inf, 0

    def should_stop(self, value: float, epoch: int, weights: list[np.ndarray]) -> bool:
        self.wait += 1
        if self.best_weights is None or value < self.best:
            self.best, self.best_epoch, self.best_weights, self.wait = value, epoch, weights, 0
            return False
        return self.wait >= self.patience and epoch > 0

    def new_learning_rate(self, value: float, lr: float) -> float | None:
        if not self.plateau:
            return None
        if value < self.lr_best - PLATEAU_MIN_DELTA:
            self.lr_best, self.lr_wait = value, 0
            return None
        self.lr_wait += 1
        if self.lr_wait >= self.lr_patience and lr > self.min_lr:
            self.lr_wait = 0
            return max(lr * self.factor, self.min_lr)
        return None


def class_weight(class_rows: np.ndarray) -> dict[int, float]:
    """'balanced' weights from the training rows per class."""
    total, n_classes = float(class_rows.sum()), len(class_rows)
    return {i: total / (n_classes * max(float(c), 1.0)) for i, c in enumerate(class_rows)}
