"""The two ways into training: ``train`` for a table in memory and ``train_files`` for files
streamed from disk. Both hand their data to the one orchestrator (``training.loop.orchestrator``),
which checks the options, resolves the settings, fits and writes the bundle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from features.schema import FeatureSpec
from training.data.file_data import FileData
from training.data.table_data import TableData
from training.distributed.cluster import cluster_from_env
from training.export.bundle import TrainResult
from training.loop.config import TrainConfig
from training.loop.orchestrator import train_on

__all__ = ["TrainResult", "train", "train_files"]


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
    """Train on ``frame`` (its holdout: ``valid``, else a stratified split of it)."""
    result = train_on(TableData(frame, spec, valid=valid, source=source), config, name=name, out=out, log=log, verbose=verbose)
    if result is None:  # only a TF_CONFIG worker other than the chief writes nothing, and a table has no workers
        raise RuntimeError("training in memory wrote no bundle")
    return result


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
    """Train on the files behind ``data``, streamed (its holdout: ``valid``, else a hash split of
    the rows); on a TF_CONFIG worker, its share of them. None on a worker other than the chief."""
    cluster = cluster_from_env()
    files = FileData(data, spec, valid=valid, workers=cluster.workers if cluster is not None else 1)
    return train_on(files, config, name=name, out=out, cluster=cluster, log=log, verbose=verbose)
