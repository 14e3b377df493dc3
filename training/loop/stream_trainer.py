"""Training on files too big for memory: a statistics pass, then batches streamed from the files.

``catembed train --data`` takes this route for a folder or glob of Parquet files, a file over
STREAM_FILE_BYTES, or ``--stream``. Memory is bounded by the read batches, the shuffle buffer,
the numeric sample and the capped holdout, never by the number of rows. The encoders are fitted
from the pass's statistics by the same code ``TabularEncoder.fit`` runs in memory, and the
rest (the network, export, bundle) is shared with the in-memory route.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from features.arrow_batch import encode_batch
from features.encoder import TabularEncoder
from features.errors import DataError, InvalidInput
from features.schema import FeatureSpec
from features.sources import schema
from features.target import LabelTarget, ScaledTarget
from training.data.row_source import fingerprint, known_rows, units_of
from training.data.statistics_pass import VALID_ROWS_CAP, PassResult, StatisticsPass
from training.data.stream import TrainingStream
from training.distributed.strategy import cluster_from_env, fit_distributed
from training.export.bundle import Fitted, TrainResult, write_trained
from training.loop.config import TrainConfig, auto_batch_size, member_seed, sized
from training.loop.ensemble import combine
from training.loop.fitting import (
    MONITOR,
    callbacks,
    class_weight,
    compiled_model,
    label_target,
    ple_features,
    target_array,
)

MIN_ROWS = 10
STREAM_FILE_BYTES = 512 << 20  # a single file above this streams instead of loading


def should_stream(data: str, forced: bool) -> bool:
    path = Path(data)
    return forced or not path.is_file() or path.stat().st_size > STREAM_FILE_BYTES


def holdout_fraction(configured: float, rows: int | None) -> float:
    """The hash split's share: the configured fraction, but never more than VALID_ROWS_CAP rows
    when the footers give the row count (a 1 % holdout of 20M rows is 200k: plenty to stop on)."""
    return configured if rows is None else min(configured, VALID_ROWS_CAP / max(rows, 1))


def train_files(
    data: str,
    spec: FeatureSpec,
    config: TrainConfig,
    *,
    name: str,
    out: str | Path,
    valid: str | None = None,
    log: Callable[[str], None] = print,
    verbose: int | None = None,
) -> TrainResult | None:
    """The bundle's TrainResult; None on a TF_CONFIG worker other than the chief (which writes it)."""
    started = time.perf_counter()
    if (config.ensemble or 1) > 1 and cluster_from_env() is not None:  # members one after the other, on one process only
        raise DataError(
            "an ensemble streams on one process only; use --ensemble 1 with TF_CONFIG workers",
            field="ensemble",
            value=config.ensemble,
        )
    keras.utils.set_random_seed(config.seed)
    columns = [*spec.features, spec.target]
    units = units_of(data, columns)
    valid_units = units_of(valid, columns) if valid else []
    holdout = 0.0 if valid else holdout_fraction(config.valid_fraction, known_rows(units))
    passed = StatisticsPass(spec, holdout, seed=config.seed).run(units, valid_units, log)
    rows = passed.statistics.rows
    log(
        f"statistics pass: {rows:,} training rows, {passed.valid.num_rows:,} holdout rows, "
        f"{len(units):,} row groups in {passed.seconds:.1f} s"
    )
    for note in passed.notes:
        log(note)
    if passed.unlabelled_rows:
        log(f"skipping {passed.unlabelled_rows:,} rows whose target {spec.target!r} is missing")
    if rows < MIN_ROWS:
        raise DataError(f"only {rows} labelled training rows; catembed needs at least {MIN_ROWS}", field=spec.target)
    task = spec.task or "regression"
    # every worker counts the same rows, so builds the same network
    config = sized(config, rows, task, distributed=cluster_from_env() is not None)
    networks = config.ensemble or 1  # concrete once sized
    encoder = TabularEncoder(
        tuple(spec.categorical), tuple(spec.numeric), config.min_frequency, config.max_categories, config.numeric_transform
    ).fit_statistics(passed.statistics)
    target = _target(spec, config, passed)

    def encode_target(values: list[Any]) -> np.ndarray:
        return target_array(target, values, task, config)

    try:
        valid_x = encode_batch(encoder, passed.valid).model_inputs()
    except InvalidInput as exc:
        raise DataError(f"holdout rows: {exc.message}", field=exc.field, value=exc.value) from None
    valid_y = encode_target(passed.valid.column(spec.target).to_pylist())
    # the holdout is the one labelled sample every worker holds whole, so all of them pick the
    # same features (a sample of the stream would differ per worker and split the model)
    expanded, expansion = ple_features(encoder, spec, config, valid_x, valid_y, target, "the holdout rows", log)
    stream = TrainingStream(units, passed.train_rows_per_unit, encoder, spec.target, encode_target, holdout, seed=config.seed)
    model, dims, shrinkage = compiled_model(encoder, spec, config, task, target, rows, expanded)
    batch_size = config.batch_size or auto_batch_size(rows)
    log(f"training {name}: {rows:,} rows streamed from {data}, {model.count_params():,} parameters, batches of {batch_size}")

    fit_started = time.perf_counter()
    cluster = cluster_from_env()
    history: dict[str, list[float]]
    members: list[keras.Model] = []
    histories: list[dict[str, list[float]]] = []
    if cluster is None:
        # an ensemble's members stream the table one after the other (K passes per epoch count):
        # memory stays that of one network, time grows K-fold; member 0 is the single network
        for k in range(networks):
            seed = member_seed(config.seed, k)
            if k:
                keras.utils.set_random_seed(seed)
                model = compiled_model(encoder, spec, config, task, target, rows, expanded)[0]
                stream = TrainingStream(
                    units, passed.train_rows_per_unit, encoder, spec.target, encode_target, holdout, seed=seed
                )
                log(f"training {name} (member {k + 1} of {networks})")
            history = model.fit(
                # the batch count is known from the statistics pass: Keras shows progress and ends epochs on it
                stream.dataset(batch_size).apply(tf.data.experimental.assert_cardinality(-(-rows // batch_size))),
                shuffle=False,  # the stream shuffles
                validation_data=tf.data.Dataset.from_tensor_slices((tuple(valid_x), valid_y)).batch(4096),
                epochs=config.epochs,
                class_weight=_class_weight(config, target, passed),
                callbacks=callbacks(config),
                verbose=(1 if sys.stdout.isatty() else 2) if verbose is None else verbose,
            ).history
            members.append(model)
            histories.append(history)
        history = histories[0]
    else:
        # the global batch stays batch_size: each of the N workers takes 1/N of it from its share of the files
        per_worker = max(1, batch_size // cluster.workers)
        steps = stream.steps(cluster.workers, per_worker)
        if steps < 1:
            raise DataError(
                f"{len(units)} row groups are too few to give each of {cluster.workers} workers a batch of {per_worker} rows; "
                "write the data as more files or row groups",
                field="data",
            )
        log(f"worker {cluster.index + 1} of {cluster.workers}: {steps} steps of {per_worker} rows per epoch")

        def build() -> keras.Model:
            return compiled_model(encoder, spec, config, task, target, rows, expanded)[0]

        model, history = fit_distributed(
            cluster,
            build,
            stream.dataset_fn(per_worker, steps),
            steps,
            valid_x,
            valid_y,
            config,
            monitor=MONITOR,
            class_weight=_class_weight(config, target, passed),
            log=log,
        )
        if not cluster.is_chief:
            return None  # the chief writes the bundle, after every worker has finished (fit_distributed's barrier)
    fitted = Fitted(
        model=combine(members) if members else model,
        members=members,
        member_histories=histories,
        encoder=encoder,
        target=target,
        spec=spec,
        config=config,
        history=history,
        fit_seconds=time.perf_counter() - fit_started,
        train_rows=rows,
        valid_frame=passed.valid.to_pandas(),
        valid_x=valid_x,
        train_summary=_train_summary(target, passed),
        dims={f: d * networks for f, d in dims.items()},  # the served vector: every member's, side by side
        shrinkage=shrinkage,
        batch_size=batch_size,
        ignored=spec.ignored_columns(schema(units[0].source, []).names),
        example=passed.example or {},
        fingerprint=fingerprint([*units, *valid_units]),
        source=data,
        extra={
            "streamed": True,
            "statistics_seconds": round(passed.seconds, 3),
            "holdout": f"--valid {valid}" if valid else f"hash split of (file, row): {holdout:.4%}",
            "numeric_sample_rows": len(passed.statistics.numeric_sample),
            "workers": cluster.workers if cluster is not None else 1,
            **expansion,
        },
    )
    return write_trained(fitted, name=name, out=out, started=started, log=log)


def _target(spec: FeatureSpec, config: TrainConfig, passed: PassResult) -> LabelTarget | ScaledTarget:
    if spec.task == "regression":
        return ScaledTarget(config.target_scale).fit(passed.target_sample)
    return label_target(spec, list(passed.target_counts))


def _train_summary(target: LabelTarget | ScaledTarget, passed: PassResult) -> np.ndarray | float:
    if isinstance(target, LabelTarget):
        rows = _class_rows(target, passed)
        return rows / rows.sum()
    return passed.target_mean


def _class_rows(target: LabelTarget, passed: PassResult) -> np.ndarray:
    rows = np.zeros(len(target.classes_))
    for label, n in passed.train_target_counts.items():
        rows[target.transform([label])[0]] += n
    return rows


def _class_weight(config: TrainConfig, target: LabelTarget | ScaledTarget, passed: PassResult) -> dict[int, float] | None:
    if config.class_weight != "balanced" or not isinstance(target, LabelTarget):
        return None
    return class_weight(_class_rows(target, passed))
