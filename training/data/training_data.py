"""What the training orchestrator (``training.loop.orchestrator``) asks of the training data,
whether it is a table in memory (``training.data.table_data``) or files streamed from disk
(``training.data.file_data``): its route, its rows, the statistics the encoders and the target
are fitted from, the encoded holdout, each ensemble member's datasets, and what the manifest
records of it (fingerprint, example row, ignored columns, source).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from features.encoder import TabularEncoder

if TYPE_CHECKING:
    import pandas as pd
    import tensorflow as tf

    from features.schema import FeatureSpec
    from training.loop.config import EncodingSettings

MIN_ROWS = 10  # labelled training rows, whichever the route
STREAM_FILE_BYTES = 512 << 20  # a single file above this streams instead of loading
FOLDS_IN_MEMORY = (
    "--ensemble-holdout folds needs the table in memory and no --valid: each network holds out its own fold "
    "of every row; streamed data and a --valid holdout are shared by all networks (drop --ensemble-holdout)"
)


@dataclass(frozen=True)
class DataRoute:
    """What is known of the data before it is read, and decides which options apply."""

    streamed: bool  # read batch by batch from files (training.data.file_data), else a table in memory
    separate_holdout: bool  # --valid: a holdout of its own, so no split of the training rows


def unfitted_encoder(spec: FeatureSpec, encoding: EncodingSettings) -> TabularEncoder:
    """The encoder both routes fit: ``fit`` on a table, ``fit_statistics`` on the pass's counts."""
    return TabularEncoder(
        tuple(spec.categorical),
        tuple(spec.numeric),
        encoding.min_frequency,
        encoding.max_categories,
        numeric_transform=encoding.numeric_transform,
    )


def should_stream(data: str, forced: bool) -> bool:
    """Whether ``--data`` streams: a folder or glob of Parquet files, a file over
    STREAM_FILE_BYTES, or ``--stream``."""
    path = Path(data)
    return forced or not path.is_file() or path.stat().st_size > STREAM_FILE_BYTES


@dataclass
class TargetFacts:
    """What the target's encoding and the baseline need of the training rows' targets."""

    labels: list[Any]  # classification: every label of the training and holdout rows (LabelTarget sorts them)
    train_counts: Counter[Any]  # classification: training rows per label (class weights, the baseline)
    sample: Any  # regression: the training targets ScaledTarget is fitted on (a uniform sample when streamed)
    mean: float  # regression: the training targets' exact mean (the baseline)


@dataclass
class Holdout:
    """The rows early stopping and the holdout metrics judge, raw and encoded."""

    frame: pd.DataFrame
    x: list[np.ndarray]
    y: np.ndarray


@dataclass
class MemberData:
    """One ensemble member's training and validation batches."""

    train: tf.data.Dataset
    valid: tf.data.Dataset
    train_rows: int
    valid_rows: int
    # with ensemble_holdout="folds": the holdout positions this member alone did not train on
    held_out: np.ndarray | None = None


EncodeTarget = Callable[[Any], np.ndarray]


class TrainingData(Protocol):
    route: DataRoute
    spec: FeatureSpec
    rows: int  # after load: the training rows (under one shared holdout, until use_every_row)
    folds_from: int | None  # after load: every usable row, when members may hold out folds of them

    @property
    def manifest_entries(self) -> dict[str, Any]:
        """Route-specific entries of manifest["training"]."""

    def load(self, seed: int, valid_fraction: float, log: Callable[[str], None]) -> None:
        """Read what fitting needs: the split of a table, or the statistics pass over files."""

    def use_every_row(self) -> None:
        """Members hold out folds: every row trains, and is the holdout of the member without it."""

    def fit_encoder(self, encoding: EncodingSettings) -> TabularEncoder: ...

    def targets(self) -> TargetFacts: ...

    def encode(self, encoder: TabularEncoder, encode_target: EncodeTarget) -> Holdout:
        """The encoded holdout (and, in memory, the encoded training rows, kept for the members)."""

    def judging_rows(self) -> tuple[list[np.ndarray], np.ndarray, str]:
        """Encoded rows to choose the staircase features on (the same on every worker), and what they are."""

    def member(self, k: int, members: int, seed: int, batch_size: int) -> MemberData: ...

    def describe(self) -> str:
        """Where the rows come from, for the log."""

    def fingerprint(self) -> str: ...

    def example(self) -> dict[str, Any]: ...

    def ignored(self) -> dict[str, str]: ...

    def source(self) -> str | None: ...
