"""Fit the encoders and the joint embedding network, evaluate, export, write the bundle."""

from __future__ import annotations

import contextlib
import hashlib
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.model_selection import train_test_split

from features.artifacts import write_bundle
from features.encoder import TabularEncoder, to_float
from features.errors import DataError
from features.schema import FeatureSpec
from features.target import LabelTarget, ScaledTarget, python_scalar
from training import metrics
from training.config import TrainConfig, auto_batch_size, auto_shrinkage
from training.distributed import cluster_from_env, fit_distributed
from training.export import check_parity, to_graph
from training.model import build_model, embedding_dims, input_names
from training.report import curve_metric, write_report
from training.spec import dump_spec

MIN_ROWS = 10
FIT_LOSS = "fit_loss"
MONITOR = f"val_{FIT_LOSS}"  # early stopping and the best epoch: the holdout loss without penalties
PARITY_ROWS = 20_000


@dataclass
class TrainResult:
    path: Path
    manifest: dict[str, Any]
    model: keras.Model
    encoder: TabularEncoder
    target: LabelTarget | ScaledTarget
    valid: pd.DataFrame  # the raw holdout rows the metrics were computed on


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
) -> TrainResult | None:
    """The bundle's TrainResult; None on a TF_CONFIG worker other than the chief (which writes it)."""
    started = time.perf_counter()
    ignored = spec.ignored_columns(frame.columns)
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    frame = _usable_rows(frame, spec, log)
    if valid is None:
        train_frame, valid_frame = _split(frame, spec, config)
    else:
        train_frame, valid_frame = frame, _usable_rows(valid, spec, log)
    task = spec.task or "regression"

    min_frequency = config.min_frequency
    encoder = TabularEncoder(
        tuple(spec.categorical),
        tuple(spec.numeric),
        min_frequency,
        config.max_categories,
        numeric_transform=config.numeric_transform,
    ).fit(train_frame)
    target: LabelTarget | ScaledTarget
    if task == "regression":
        target = ScaledTarget(config.target_scale).fit(train_frame[spec.target])
        n_classes = 1
    else:
        target = LabelTarget().fit(
            frame[spec.target] if valid is None else pd.concat([frame[spec.target], valid_frame[spec.target]])
        )
        n_classes = len(target.classes_)
        if n_classes < 2:
            raise DataError(f"target {spec.target!r} has one class ({target.classes_[0]!r}); nothing to learn", field=spec.target)
        if task == "binary" and n_classes != 2:
            raise DataError(f"task is binary but target {spec.target!r} has {n_classes} classes", field=spec.target)

    train_x = encoder.transform(train_frame).model_inputs()
    valid_x = encoder.transform(valid_frame).model_inputs()
    train_y = _target_array(target, train_frame[spec.target], task, config)
    valid_y = _target_array(target, valid_frame[spec.target], task, config)

    vocab = {f: encoder.categorical_[f].n_indices for f in spec.categorical}
    dims = embedding_dims(encoder, spec, config)
    numeric_width = encoder.numeric_.n_outputs if encoder.numeric_ is not None else 0
    counts = {f: encoder.categorical_[f].counts_ for f in spec.categorical}
    shrinkage = _shrinkage(config, vocab, len(train_frame))

    def build() -> keras.Model:
        built = build_model(vocab, dims, numeric_width, task, n_classes, config, counts, shrinkage)
        built.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=_loss(task, config),
            metrics=[curve_metric(task, config), _fit_metric(task, config)],
        )
        return built

    cluster = cluster_from_env()
    model = build()
    log(f"training {name}: {len(train_frame):,} rows, {len(valid_frame):,} holdout rows, {model.count_params():,} parameters")

    batch_size = config.batch_size or auto_batch_size(len(train_frame))
    weights = _class_weight(train_y, n_classes) if config.class_weight == "balanced" and task != "regression" else None
    fit_started = time.perf_counter()
    history: dict[str, list[float]]
    if cluster is None:
        history = model.fit(
            _dataset(train_x, train_y, batch_size, shuffle=True, seed=config.seed),
            validation_data=_dataset(valid_x, valid_y, 4096, shuffle=False, seed=0),
            epochs=config.epochs,
            shuffle=False,  # the tf.data pipeline shuffles
            class_weight=weights,
            callbacks=_callbacks(config),
            verbose=(1 if sys.stdout.isatty() else 2) if verbose is None else verbose,
        ).history
    else:
        # the global batch stays batch_size: each of the N workers takes 1/N of it, from its 1/N of the rows
        per_worker = max(1, batch_size // cluster.workers)
        steps = (len(train_y) // cluster.workers) // per_worker
        if steps < 1:
            raise DataError(f"{len(train_y)} training rows are too few for {cluster.workers} workers", field="data")
        log(f"worker {cluster.index + 1} of {cluster.workers}: {steps} steps of {per_worker} rows per epoch")
        batches = _sharded_batches(train_x, train_y, per_worker, steps, config.seed)
        model, history = fit_distributed(
            cluster, build, batches, steps, valid_x, valid_y, config, monitor=MONITOR, class_weight=weights, log=log
        )
        if not cluster.is_chief:
            return None
    fit_seconds = time.perf_counter() - fit_started
    epochs_run = len(history["loss"])

    output = np.asarray(model.predict(valid_x, batch_size=4096, verbose=0))
    holdout, baseline = _evaluate(target, output, train_frame[spec.target], valid_frame[spec.target], task)
    log("holdout: " + _fmt(holdout) + "   baseline: " + _fmt(baseline))

    embedding_layers = [f"embedding_{safe}" for safe in input_names(spec.categorical)]
    graph = to_graph(model, embedding_layers, numeric_width)
    parity = check_parity(model, graph, [x[:PARITY_ROWS] for x in valid_x], len(vocab))

    manifest: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": task,
        "target": _target_manifest(spec.target, target),
        "features": _features_manifest(encoder, dims, embedding_layers, shrinkage),
        "numeric_inputs": list(encoder.numeric_.get_feature_names_out()) if encoder.numeric_ is not None else [],
        "ignored_columns": ignored,  # the service accepts and ignores these fields of a record
        "example": _example(train_frame, spec),
        "metrics": {"holdout": holdout, "baseline": baseline},
        "training": {
            "rows": {"train": len(train_frame), "valid": len(valid_frame)},
            "epochs_run": epochs_run,
            "best_epoch": int(np.argmin(history[MONITOR])) + 1,
            "history": {k: [round(float(v), 6) for v in vs] for k, vs in history.items()},
            "fit_seconds": round(fit_seconds, 3),
            "rows_per_second": round(len(train_frame) * epochs_run / fit_seconds),
            "data_fingerprint": _fingerprint(frame),
            "source": source,
            "config": config.to_dict(),
            "min_frequency": min_frequency,
            "batch_size": batch_size,
            "workers": cluster.workers if cluster is not None else 1,
        },
        "model": {"parameters": int(model.count_params()), "layers": [layer.name for layer in model.layers]},
        "parity": {"max_abs_diff": parity, "rows": int(min(len(valid_frame), PARITY_ROWS))},
        "versions": _versions(),
    }

    def write_files(folder: Path) -> None:
        model.save(folder / "model.keras")
        manifest["graph"] = graph.save(folder / "graph.npz")
        joblib.dump({"encoder": encoder, "target": target}, folder / "encoders.joblib")
        (folder / "spec.yaml").write_text(dump_spec(spec))
        seconds = write_report(folder, name, manifest, spec, encoder, graph.embeddings, target, valid_frame[spec.target], output)
        manifest["training"]["report_seconds"] = round(seconds, 3)

    try:
        path = write_bundle(Path(out), name, manifest, write_files)
    except OSError as exc:
        raise DataError(f"could not write the model under {out}: {exc.strerror or exc}", field="out", value=str(out)) from None
    manifest["training"]["total_seconds"] = round(time.perf_counter() - started, 3)
    log(f"wrote {path}  ({time.perf_counter() - started:.1f} s)")
    return TrainResult(path, manifest, model, encoder, target, valid_frame)


def _shrinkage(config: TrainConfig, vocab: dict[str, int], rows: int) -> dict[str, float]:
    """Each feature's k of s_c = n_c / (n_c + k); 0 (a plain table) below shrinkage_min_values."""
    k = config.shrinkage if config.shrinkage is not None else auto_shrinkage(rows)
    return {f: float(k) if n - 1 >= config.shrinkage_min_values else 0.0 for f, n in vocab.items()}


def _usable_rows(frame: pd.DataFrame, spec: FeatureSpec, log: Callable[[str], None]) -> pd.DataFrame:
    frame = frame[[*spec.features, spec.target]]
    labelled = frame[spec.target].notna()
    if not labelled.all():
        log(f"dropping {int((~labelled).sum()):,} rows whose target {spec.target!r} is missing")
        frame = frame[labelled]
    if len(frame) < MIN_ROWS:
        raise DataError(f"only {len(frame)} labelled rows; catembed needs at least {MIN_ROWS}", field=spec.target)
    for name in spec.numeric:  # fail on text in a numeric column before any work, naming the row
        to_float(name, frame[name].reset_index(drop=True))
    if spec.task == "regression":
        to_float(spec.target, frame[spec.target].reset_index(drop=True))
    return frame.reset_index(drop=True)


def _split(frame: pd.DataFrame, spec: FeatureSpec, config: TrainConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    stratify = None
    if spec.task != "regression":
        counts = frame[spec.target].value_counts()
        stratify = frame[spec.target] if counts.min() >= 2 else None
    train_frame, valid_frame = train_test_split(
        frame, test_size=config.valid_fraction, random_state=config.seed, stratify=stratify
    )
    return train_frame.reset_index(drop=True), valid_frame.reset_index(drop=True)


def _target_array(target: LabelTarget | ScaledTarget, y: pd.Series, task: str, config: TrainConfig) -> np.ndarray:
    encoded = target.transform(y)
    if task == "regression" or (task == "binary" and config.binary_head == "sigmoid"):
        return encoded.astype(np.float32).reshape(-1, 1)
    return encoded


def _fit_metric(task: str, config: TrainConfig) -> keras.metrics.Metric:
    """The loss without the penalties: Keras' val_loss includes the L2 terms, so a growing
    deviation penalty would stop training (and pick the epoch) on the prior, not the fit."""
    loss = _loss(task, config)
    if loss == "mean_squared_error":
        return keras.metrics.MeanSquaredError(name=FIT_LOSS)
    if loss == "binary_crossentropy":
        return keras.metrics.BinaryCrossentropy(name=FIT_LOSS)
    return keras.metrics.SparseCategoricalCrossentropy(name=FIT_LOSS)


def _loss(task: str, config: TrainConfig) -> str:
    if task == "regression":
        return "mean_squared_error"
    if task == "binary" and config.binary_head == "sigmoid":
        return "binary_crossentropy"
    return "sparse_categorical_crossentropy"


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


def _sharded_batches(
    x: list[np.ndarray], y: np.ndarray, batch_size: int, steps: int, seed: int
) -> Callable[[int, int, int], tf.data.Dataset]:
    """Worker i of N trains on rows i::N, reshuffled each epoch: exactly ``steps`` full batches."""

    def batches(worker: int, workers: int, epoch: int) -> tf.data.Dataset:
        rows = np.random.default_rng([seed, worker, epoch]).permutation(np.arange(worker, len(y), workers))[: steps * batch_size]
        return _dataset([a[rows] for a in x], y[rows], batch_size, shuffle=False, seed=0).take(steps)

    return batches


def _callbacks(config: TrainConfig) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(monitor=MONITOR, patience=config.patience, restore_best_weights=True)
    ]
    if config.lr_schedule == "plateau":
        # cut the step size before early stopping gives up, so the last epochs refine instead of stop
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=MONITOR,
                factor=config.lr_factor,
                patience=max(1, config.patience // 2),
                min_lr=config.learning_rate * 1e-3,
            )
        )
    elif config.lr_schedule != "constant":
        raise DataError(f"unknown lr_schedule {config.lr_schedule!r}; use 'constant' or 'plateau'", field="lr_schedule")
    return callbacks


def _class_weight(y: np.ndarray, n_classes: int) -> dict[int, float]:
    counts = np.bincount(y.reshape(-1).astype(int), minlength=n_classes)
    return {i: float(len(y) / (n_classes * max(c, 1))) for i, c in enumerate(counts)}


def _evaluate(
    target: Any, output: np.ndarray, y_train: pd.Series, y_valid: pd.Series, task: str
) -> tuple[dict[str, float], dict[str, float]]:
    if task == "regression":
        truth = np.asarray(y_valid, dtype=np.float64)
        return metrics.regression_metrics(truth, target.values(output)), metrics.regression_baseline(
            np.asarray(y_train, dtype=np.float64), truth
        )
    truth = target.transform(y_valid)
    n_classes = len(target.classes_)
    return metrics.classification_metrics(truth, target.probabilities(output)), metrics.classification_baseline(
        target.transform(y_train), truth, n_classes
    )


def _target_manifest(name: str, target: LabelTarget | ScaledTarget) -> dict[str, Any]:
    if isinstance(target, LabelTarget):
        return {"name": name, "labels": list(target.classes_)}
    return {"name": name, "mean": target.mean_, "scale": target.scale_, "log": target.log_}


def _features_manifest(
    encoder: TabularEncoder, dims: dict[str, int], layers: list[str], shrinkage: dict[str, float]
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for name, layer in zip(encoder.categorical, layers, strict=True):
        enc = encoder.categorical_[name]
        entries.append(
            {
                "name": name,
                "kind": "categorical",
                "input": layer.removeprefix("embedding_"),
                "embedding_layer": layer,
                "vocabulary_size": len(enc.vocabulary_),
                "embedding_dim": dims[name],
                "rare_values_folded": enc.n_rare_values_,
                "missing_rows": enc.n_missing_rows_,
                **enc.coverage(),
                "shrinkage": shrinkage[name],
            }
        )
    num = encoder.numeric_
    for j, name in enumerate(encoder.numeric):
        assert num is not None
        entries.append(
            {
                "name": name,
                "kind": "numeric",
                "median": num.medians_[j],
                "mean": num.means_[j],
                "std": num.scales_[j],
                "min": num.mins_[j],
                "max": num.maxs_[j],
                "missing_indicator": bool(num.indicators_[j]),
            }
        )
    return entries


def _example(frame: pd.DataFrame, spec: FeatureSpec) -> dict[str, Any]:
    """One complete training row (no missing values if there is one), to show in /docs."""
    complete = frame[spec.features].dropna()
    row = (complete if len(complete) else frame[spec.features]).iloc[0]
    example = {}
    for name in spec.features:
        value = python_scalar(row[name])
        if isinstance(value, float) and math.isnan(value):
            value = None
        example[name] = value
    return example


def _fingerprint(frame: pd.DataFrame) -> str:
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return "sha256:" + hashlib.sha256(hashes.tobytes() + ",".join(frame.columns).encode()).hexdigest()


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("catembed", "tensorflow-cpu", "keras", "numpy", "pandas", "scikit-learn"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in values.items())
