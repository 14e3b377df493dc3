"""The one training route: from ``TrainingData`` (a table in memory or streamed files) to a
written bundle, for one network, an ensemble of K, or one network on many workers.

    check the options → load the data (split, or the statistics pass) → resolve every "auto"
    setting from its rows → fit the encoders and the target → choose the expanded numerics →
    train each member (or the one distributed network) → hand over to training.export.bundle

What differs by route lives behind ``TrainingData`` (training/data/training_data.py); how each
network is compiled and how an epoch ends lives in ``training.loop.fitting``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from features.encoder import TabularEncoder
from features.errors import DataError
from features.schema import FeatureSpec
from features.target import LabelTarget, ScaledTarget
from training.data.file_data import FileData
from training.data.training_data import TargetFacts, TrainingData
from training.distributed.cluster import Cluster
from training.distributed.strategy import fit_distributed
from training.export.bundle import Fitted, TrainResult, write_trained
from training.loop.auto import average_momentum, member_rows, member_seed, resolve_auto
from training.loop.compatibility import check_compatible
from training.loop.config import TrainConfig
from training.loop.ensemble import combine
from training.loop.expansions import numeric_expansions
from training.loop.fitting import MONITOR, callbacks, class_weight, compiled_model, target_array

History = dict[str, list[float]]


def train_on(
    data: TrainingData,
    config: TrainConfig,
    *,
    name: str,
    out: str | Path,
    cluster: Cluster | None = None,
    log: Callable[[str], None] = print,
    verbose: int | None = None,
) -> TrainResult | None:
    """The bundle's TrainResult; None on a TF_CONFIG worker other than the chief (which writes it)."""
    started = time.perf_counter()
    spec, task = data.spec, data.spec.task or "regression"
    check_compatible(config, data.route, cluster.workers if cluster is not None else 1)
    keras.utils.set_random_seed(config.fitting.seed)
    data.load(config.fitting.seed, config.fitting.valid_fraction, log)
    # every worker counts the same rows, so builds the same network
    config = resolve_auto(config, task, data.rows, folds_from=data.folds_from, distributed=cluster is not None)
    members = config.ensembling.ensemble or 1
    if config.ensembling.crosses_folds:  # every row trains K − 1 members and is the holdout of the other
        data.use_every_row()
    fit_rows = member_rows(config, data.rows, data.folds_from)
    encoder = data.fit_encoder(config.encoding)
    facts = data.targets()
    target = fitted_target(spec, config, facts)
    holdout = data.encode(encoder, lambda values: target_array(target, values, task, config))
    class_rows = _class_rows(target, facts) if isinstance(target, LabelTarget) else None
    weights = class_weight(class_rows) if config.fitting.class_weight == "balanced" and class_rows is not None else None
    expanded, expansion = numeric_expansions(encoder, spec, config, *data.judging_rows(), target, log)
    batch_size = config.fitting.batch_size or 0  # concrete once resolved

    fit_started = time.perf_counter()
    networks: list[keras.Model] = []
    histories: list[History] = []
    held_out: np.ndarray | None = None  # folds: each holdout row's output from the member that held it out
    for k in range(members):  # with a shared holdout, member 0 is exactly the single network of this seed
        seed = member_seed(config.fitting.seed, k)
        keras.utils.set_random_seed(seed)
        model, dims, shrinkage = compiled_model(encoder, spec, config, task, target, fit_rows, expanded)
        if cluster is not None:  # one network (check_compatible), its batches shared by the workers
            log(
                f"training {name}: {data.rows:,} rows{data.describe()}, {len(holdout.y):,} holdout rows, {model.count_params():,} parameters"
            )
            model, history = _fit_on_cluster(data, cluster, encoder, spec, config, task, target, fit_rows, expanded, weights, log)
            if not cluster.is_chief:
                return None  # the chief writes the bundle, after every worker has finished (fit_distributed's barrier)
        else:
            member = data.member(k, members, seed, batch_size)
            numbered = f" (member {k + 1} of {members})" if members > 1 else ""
            log(
                f"training {name}{numbered}: {member.train_rows:,} rows{data.describe()}, {member.valid_rows:,} holdout rows, "
                f"{model.count_params():,} parameters, batches of {batch_size}"
            )
            history = model.fit(
                member.train,
                validation_data=member.valid,
                epochs=config.fitting.epochs,
                shuffle=False,  # the datasets shuffle
                class_weight=weights,
                callbacks=callbacks(config),
                verbose=(1 if sys.stdout.isatty() else 2) if verbose is None else verbose,
            ).history
            if member.held_out is not None:
                output = np.asarray(model.predict([x[member.held_out] for x in holdout.x], batch_size=4096, verbose=0))
                held_out = np.zeros((len(holdout.y), *output.shape[1:]), output.dtype) if held_out is None else held_out
                held_out[member.held_out] = output
        networks.append(model)
        histories.append(history)
    fitted = Fitted(
        model=combine(networks),
        members=networks,
        encoder=encoder,
        target=target,
        spec=spec,
        config=config,
        history=histories[0],
        member_histories=histories,
        fit_seconds=time.perf_counter() - fit_started,
        train_rows=data.rows,
        valid_frame=holdout.frame,
        valid_x=holdout.x,
        held_out=held_out,
        train_summary=_class_share(class_rows) if class_rows is not None else facts.mean,
        dims=dims,  # the served vector: one per value of the feature's own width (ensemble_graph.stitch)
        shrinkage=shrinkage,
        batch_size=batch_size,
        ignored=data.ignored(),
        example=data.example(),
        fingerprint=data.fingerprint(),
        source=data.source(),
        extra={**data.manifest_entries, **expansion, **_averaging(config, fit_rows)},
    )
    return write_trained(fitted, name=name, out=out, started=started, log=log)


def fitted_target(spec: FeatureSpec, config: TrainConfig, facts: TargetFacts) -> LabelTarget | ScaledTarget:
    if spec.task == "regression":
        return ScaledTarget(config.encoding.target_scale).fit(facts.sample)
    target = LabelTarget().fit(facts.labels)
    n_classes = len(target.classes_)
    if n_classes < 2:
        raise DataError(f"target {spec.target!r} has one class ({target.classes_[0]!r}); nothing to learn", field=spec.target)
    if spec.task == "binary" and n_classes != 2:
        raise DataError(f"task is binary but target {spec.target!r} has {n_classes} classes", field=spec.target)
    return target


def _fit_on_cluster(
    data: TrainingData,
    cluster: Cluster,
    encoder: TabularEncoder,
    spec: FeatureSpec,
    config: TrainConfig,
    task: str,
    target: LabelTarget | ScaledTarget,
    fit_rows: int,
    expanded: list[int],
    weights: dict[int, float] | None,
    log: Callable[[str], None],
) -> tuple[keras.Model, History]:
    if not isinstance(data, FileData):  # check_compatible refuses a table in memory on several workers
        raise TypeError("a cluster trains on streamed data")
    batches, steps, per_worker = data.worker_batches(cluster.workers, config.fitting.batch_size or 0, config.fitting.seed)
    log(f"worker {cluster.index + 1} of {cluster.workers}: {steps} steps of {per_worker} rows per epoch")

    def build() -> keras.Model:
        return compiled_model(encoder, spec, config, task, target, fit_rows, expanded)[0]

    holdout = data.holdout
    return fit_distributed(
        cluster, build, batches, steps, holdout.x, holdout.y, config, monitor=MONITOR, class_weight=weights, log=log
    )


def _class_rows(target: LabelTarget, facts: TargetFacts) -> np.ndarray:
    rows = np.zeros(len(target.classes_))
    for label, n in facts.train_counts.items():
        rows[target.transform([label])[0]] += n
    return rows


def _class_share(class_rows: np.ndarray) -> np.ndarray:
    """The training rows' class frequencies: the baseline's prediction."""
    return class_rows / class_rows.sum()


def _averaging(config: TrainConfig, fit_rows: int) -> dict[str, Any]:
    if config.fitting.weight_average <= 0:
        return {}
    return {"weight_average_momentum": round(average_momentum(config, fit_rows), 8)}
