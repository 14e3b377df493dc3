"""Training on a table held in memory: fit the encoders and the joint embedding network, then
hand over to ``training.export.bundle``. Tables too big for memory take ``training.loop.stream_trainer``;
both fit the encoders through the same statistics (``features.statistics``)."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.model_selection import train_test_split

from features.encoder import TabularEncoder, to_float
from features.errors import DataError
from features.schema import FeatureSpec
from features.target import LabelTarget, ScaledTarget
from training.export.bundle import Fitted, TrainResult, example_row, train_summary, write_trained
from training.loop.config import TrainConfig, auto_batch_size, member_seed, sized
from training.loop.ensemble import combine, member_folds
from training.loop.fitting import (
    callbacks,
    class_weight,
    compiled_model,
    label_target,
    ple_features,
    target_array,
)

__all__ = ["TrainResult", "holdout_split", "train", "usable_rows"]

MIN_ROWS = 10


def train(
    frame: pd.DataFrame,
    spec: FeatureSpec,
    config: TrainConfig,
    *,
    name: str,
    out: str | Path,
    valid: pd.DataFrame | None = None,
    source: str | None = None,
    log: Callable[[str], None] = print,
    verbose: int | None = None,
) -> TrainResult:
    started = time.perf_counter()
    ignored = spec.ignored_columns(frame.columns)
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    frame = usable_rows(frame, spec, log)
    if valid is None:
        train_rows, valid_rows = holdout_split(frame, spec, config)
        train_frame, valid_frame = frame.iloc[train_rows].reset_index(drop=True), frame.iloc[valid_rows].reset_index(drop=True)
    else:
        train_frame, valid_frame = frame, usable_rows(valid, spec, log)
    task = spec.task or "regression"
    config = sized(config, len(train_frame), task)
    networks = config.ensemble or 1  # concrete once sized
    crossed = valid is None and config.crosses_folds
    if crossed:  # every row trains K − 1 members and is the holdout of the other (member_folds)
        train_frame = valid_frame = frame

    encoder = TabularEncoder(
        tuple(spec.categorical),
        tuple(spec.numeric),
        config.min_frequency,
        config.max_categories,
        numeric_transform=config.numeric_transform,
    ).fit(train_frame)
    target: LabelTarget | ScaledTarget
    if task == "regression":
        target = ScaledTarget(config.target_scale).fit(train_frame[spec.target])
    else:
        labels = frame[spec.target] if valid is None else pd.concat([frame[spec.target], valid_frame[spec.target]])
        target = label_target(spec, list(pd.unique(labels)))

    train_x = encoder.transform(train_frame).model_inputs()
    valid_x = train_x if crossed else encoder.transform(valid_frame).model_inputs()
    train_y = target_array(target, train_frame[spec.target], task, config)
    valid_y = train_y if crossed else target_array(target, valid_frame[spec.target], task, config)
    labels = train_y.reshape(-1) if task != "regression" else None
    folds = member_folds(len(train_frame), networks, config.seed, labels) if crossed else None
    fit_rows = len(train_frame) - (len(folds[0]) if folds else 0)
    batch_size = config.batch_size or auto_batch_size(fit_rows)
    weights = None
    if config.class_weight == "balanced" and isinstance(target, LabelTarget):
        weights = class_weight(np.bincount(train_y.reshape(-1).astype(int), minlength=len(target.classes_)))
    expanded, extra = ple_features(encoder, spec, config, train_x, train_y, target, "the training rows", log)
    fit_started = time.perf_counter()
    members, histories = [], []
    held_out: np.ndarray | None = None  # crossed: each row's output from the member that held it out
    for k in range(networks):  # with a shared holdout, member 0 is exactly the single network of this seed
        seed = member_seed(config.seed, k)
        keras.utils.set_random_seed(seed)
        model, dims, shrinkage = compiled_model(encoder, spec, config, task, target, fit_rows, expanded)
        fit_x, fit_y, hold_x, hold_y = train_x, train_y, valid_x, valid_y
        if folds is not None:
            keep = np.ones(len(train_y), dtype=bool)
            keep[folds[k]] = False
            fit_x, fit_y = [a[keep] for a in train_x], train_y[keep]
            hold_x, hold_y = [a[folds[k]] for a in train_x], train_y[folds[k]]
        member = f" (member {k + 1} of {networks})" if networks > 1 else ""
        log(f"training {name}{member}: {len(fit_y):,} rows, {len(hold_y):,} holdout rows, {model.count_params():,} parameters")
        history = model.fit(
            _dataset(fit_x, fit_y, batch_size, shuffle=True, seed=seed),
            validation_data=_dataset(hold_x, hold_y, 4096, shuffle=False, seed=0),
            epochs=config.epochs,
            shuffle=False,  # the tf.data pipeline shuffles
            class_weight=weights,
            callbacks=callbacks(config),
            verbose=(1 if sys.stdout.isatty() else 2) if verbose is None else verbose,
        )
        members.append(model)
        histories.append(history.history)
        if folds is not None:
            output = np.asarray(model.predict(hold_x, batch_size=4096, verbose=0))
            held_out = np.zeros((len(train_y), *output.shape[1:]), output.dtype) if held_out is None else held_out
            held_out[folds[k]] = output
    fitted = Fitted(
        model=combine(members),
        members=members,
        encoder=encoder,
        target=target,
        spec=spec,
        config=config,
        history=histories[0],
        member_histories=histories,
        fit_seconds=time.perf_counter() - fit_started,
        train_rows=len(train_frame),
        valid_frame=valid_frame,
        valid_x=valid_x,
        held_out=held_out,
        train_summary=train_summary(target, train_frame[spec.target]),
        dims={f: d * networks for f, d in dims.items()},  # the served vector: every member's, side by side
        shrinkage=shrinkage,
        batch_size=batch_size,
        ignored=ignored,
        example=example_row(train_frame, spec),
        fingerprint=_fingerprint(frame),
        source=source,
        extra=extra,
    )
    return write_trained(fitted, name=name, out=out, started=started, log=log)


def usable_rows(frame: pd.DataFrame, spec: FeatureSpec, log: Callable[[str], None]) -> pd.DataFrame:
    frame = frame[[*spec.features, spec.target]]
    labelled = frame[spec.target].notna()
    if not labelled.all():
        log(f"dropping {int((~labelled).sum()):,} rows whose target {spec.target!r} is missing")
        frame = frame[labelled]
    if len(frame) < MIN_ROWS:
        raise DataError(f"only {len(frame)} labelled rows; catembed needs at least {MIN_ROWS}", field=spec.target)
    for name in spec.numeric:  # fail on text in a numeric column before any work, naming the row (the index: the file's)
        to_float(name, frame[name])
    if spec.task == "regression":
        to_float(spec.target, frame[spec.target])
    return frame.reset_index(drop=True)


def holdout_split(frame: pd.DataFrame, spec: FeatureSpec, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the training and holdout rows of ``frame`` (its usable rows), stratified
    by class when every class has two rows; ``training.loop.out_of_fold`` folds the same training rows."""
    stratify = None
    if spec.task != "regression":
        counts = frame[spec.target].value_counts()
        stratify = frame[spec.target] if counts.min() >= 2 else None
    train_rows, valid_rows = train_test_split(
        np.arange(len(frame)), test_size=config.valid_fraction, random_state=config.seed, stratify=stratify
    )
    return np.asarray(train_rows), np.asarray(valid_rows)


def _dataset(x: list[np.ndarray], y: np.ndarray, batch_size: int, *, shuffle: bool, seed: int) -> tf.data.Dataset:
    # Row indices are shuffled and each batch is gathered in one op: shuffling the (inputs,
    # target) rows one element at a time made the pipeline, not the network, the bottleneck
    # (2.4x fewer rows/s on NYC flights; bench/training.py).
    inputs, target = tuple(tf.constant(a) for a in x), tf.constant(y)
    order = tf.data.Dataset.range(len(y))
    if shuffle:
        order = order.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    batches = order.batch(batch_size).map(
        lambda rows: (tuple(tf.gather(a, rows) for a in inputs), tf.gather(target, rows)), num_parallel_calls=tf.data.AUTOTUNE
    )
    return batches.prefetch(tf.data.AUTOTUNE)


def _fingerprint(frame: pd.DataFrame) -> str:
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return "sha256:" + hashlib.sha256(hashes.tobytes() + ",".join(frame.columns).encode()).hexdigest()
