"""After fitting, whichever route fitted: evaluate on the holdout, export the NumPy graph and
check its parity, and write the bundle (model, encoders, spec, manifest, report) atomically."""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from features.bundle_writer import write_bundle
from features.coverage import Coverage
from features.encoder import TabularEncoder
from features.encoder_state import write_encoders
from features.errors import DataError
from features.projection import PROJECTIONS
from features.schema import FeatureSpec
from features.target import LabelTarget, ScaledTarget
from training.data.spec import dump_spec
from training.export.ensemble_graph import stitch
from training.export.graph import check_parity, to_graph
from training.export.importance import permutation_importance
from training.export.projections import compute_projections
from training.export.report import write_report
from training.loop import metrics
from training.loop.config import TrainConfig
from training.loop.fitting import MONITOR
from training.model.network import input_names

PARITY_ROWS = 20_000


@dataclass
class Fitted:
    """A trained network with everything the bundle records about how it was trained."""

    model: keras.Model
    encoder: TabularEncoder
    target: LabelTarget | ScaledTarget
    spec: FeatureSpec
    config: TrainConfig
    history: dict[str, list[float]]
    fit_seconds: float
    train_rows: int
    valid_frame: pd.DataFrame  # the raw holdout rows
    valid_x: list[np.ndarray]
    train_summary: np.ndarray | float  # the training class frequencies, or the target's mean: the baseline
    dims: dict[str, int]
    shrinkage: dict[str, float]
    batch_size: int
    ignored: dict[str, str]
    example: dict[str, Any]
    fingerprint: str
    source: str | None
    extra: dict[str, Any] = field(default_factory=dict)  # route-specific entries of manifest["training"]
    members: list[keras.Model] = field(default_factory=list)  # an ensemble's networks; model is their mean
    # an ensemble with a holdout fold per member: each valid_x row's output from the member that
    # did not train on it (the holdout metrics and the report are then out-of-fold)
    held_out: np.ndarray | None = None
    member_histories: list[dict[str, list[float]]] = field(default_factory=list)


@dataclass
class TrainResult:
    path: Path
    manifest: dict[str, Any]
    model: keras.Model
    encoder: TabularEncoder
    target: LabelTarget | ScaledTarget
    valid: pd.DataFrame  # the raw holdout rows the metrics were computed on


def write_trained(fitted: Fitted, *, name: str, out: str | Path, started: float, log: Callable[[str], None]) -> TrainResult:
    model, encoder, target, spec = fitted.model, fitted.encoder, fitted.target, fitted.spec
    task = spec.task or "regression"
    valid_target = fitted.valid_frame[spec.target]
    output = (
        fitted.held_out if fitted.held_out is not None else np.asarray(model.predict(fitted.valid_x, batch_size=4096, verbose=0))
    )
    holdout, baseline = _evaluate(target, output, fitted.train_summary, valid_target, task)
    log("holdout: " + _fmt(holdout) + "   baseline: " + _fmt(baseline))
    log("exporting the network to NumPy, checking parity, writing the bundle and its report …")

    numeric_width = encoder.numeric_.n_outputs if encoder.numeric_ is not None else 0
    embedding_layers = [f"embedding_{safe}" for safe in input_names(spec.categorical)]
    graph = stitch([to_graph(m, embedding_layers, numeric_width) for m in fitted.members or [model]])
    parity = check_parity(model, graph, [x[:PARITY_ROWS] for x in fitted.valid_x], len(spec.categorical))
    importance = permutation_importance(
        graph, encoder, target, task, fitted.valid_x, valid_target, seed=fitted.config.fitting.seed
    )
    if fitted.held_out is not None:  # every row trained most of the members: no row is held out from the mean
        importance["rows_are"] = "training rows (ensemble holdout 'folds'), not a holdout"
    projected, projections = compute_projections(encoder.categorical, graph.vectors, fitted.config.fitting.seed, log)
    epochs_run = len(fitted.history["loss"])
    histories = fitted.member_histories or [fitted.history]
    if fitted.config.ensembling.batch_ensemble > 1:
        fitted.extra["batch_ensemble"] = {"members": fitted.config.ensembling.batch_ensemble}
    if len(histories) > 1:
        fitted.extra["ensemble"] = {
            "members": len(histories),
            "holdout": "folds" if fitted.held_out is not None else "shared",
            "epochs_run": [len(h["loss"]) for h in histories],
            "best_epoch": [int(np.argmin(h[MONITOR])) + 1 for h in histories],
        }
    manifest: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": task,
        "target": _target_manifest(spec.target, target),
        "features": _features_manifest(encoder, fitted.dims, embedding_layers, fitted.shrinkage),
        "numeric_inputs": list(encoder.numeric_.get_feature_names_out()) if encoder.numeric_ is not None else [],
        "ignored_columns": fitted.ignored,  # the service accepts and ignores these fields of a record
        "example": fitted.example,
        "metrics": {"holdout": holdout, "baseline": baseline},
        "importance": importance,  # permutation importance on the holdout (training/export/importance.py)
        "projections": {"file": PROJECTIONS, **projections},  # the explorer's stored maps
        "training": {
            "rows": {"train": fitted.train_rows, "valid": len(fitted.valid_frame)},
            "epochs_run": epochs_run,
            "best_epoch": int(np.argmin(fitted.history[MONITOR])) + 1,
            "history": {k: [round(float(v), 6) for v in vs] for k, vs in fitted.history.items()},
            "fit_seconds": round(fitted.fit_seconds, 3),
            "rows_per_second": round(fitted.train_rows * sum(len(h["loss"]) for h in histories) / fitted.fit_seconds),
            "data_fingerprint": fitted.fingerprint,
            "source": fitted.source,
            "config": fitted.config.to_dict(),
            "min_frequency": fitted.config.encoding.min_frequency,
            "batch_size": fitted.batch_size,
            **fitted.extra,
        },
        "model": {"parameters": int(model.count_params()), "layers": [layer.name for layer in model.layers]},
        "parity": {"max_abs_diff": parity, "rows": int(min(len(fitted.valid_frame), PARITY_ROWS))},
        "versions": _versions(),
    }

    def write_files(folder: Path) -> None:
        model.save(folder / "model.keras")
        manifest["graph"] = graph.save(folder / "graph.npz")
        write_encoders(folder, encoder, target)  # data only: JSON and arrays, never a pickle
        with open(folder / PROJECTIONS, "wb") as fh:  # plain arrays: the service loads them with allow_pickle=False
            np.savez(fh, **projected)  # type: ignore[arg-type]
        (folder / "spec.yaml").write_text(dump_spec(spec))
        seconds = write_report(folder, name, manifest, spec, encoder, graph.vectors, target, valid_target, output)
        manifest["training"]["report_seconds"] = round(seconds, 3)

    try:
        path = write_bundle(Path(out), name, manifest, write_files)
    except OSError as exc:
        raise DataError(f"could not write the model under {out}: {exc.strerror or exc}", field="out", value=str(out)) from None
    manifest["training"]["total_seconds"] = round(time.perf_counter() - started, 3)
    log(f"wrote {path}  ({time.perf_counter() - started:.1f} s)")
    return TrainResult(path, manifest, model, encoder, target, fitted.valid_frame)


def _evaluate(
    target: Any, output: np.ndarray, summary: np.ndarray | float, y_valid: pd.Series, task: str
) -> tuple[dict[str, float], dict[str, float]]:
    if task == "regression":
        truth = np.asarray(y_valid, dtype=np.float64)
        return metrics.regression_metrics(truth, target.values(output)), metrics.regression_baseline(float(summary), truth)
    truth = target.transform(y_valid)
    return metrics.classification_metrics(truth, target.probabilities(output)), metrics.classification_baseline(
        np.asarray(summary), truth
    )


def _target_manifest(name: str, target: LabelTarget | ScaledTarget) -> dict[str, Any]:
    if isinstance(target, LabelTarget):
        return {"name": name, "labels": list(target.classes_)}
    return {"name": name, "mean": target.mean_, "scale": target.scale_, "log": target.log_, "link": target.link_}


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
                "embedding_dim": dims[name],
                **Coverage.of(enc).to_dict(),
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


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("catembed", "tensorflow-cpu", "keras", "numpy", "pandas", "scikit-learn"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in values.items())
