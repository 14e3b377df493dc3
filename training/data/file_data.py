"""Training data streamed from files too big for memory: a statistics pass, then batches read
from the files, shuffled through a bounded buffer.

``catembed train --data`` takes this route for a folder or glob of Parquet files, a file over
STREAM_FILE_BYTES, or ``--stream`` (training.data.training_data.should_stream), and always on a TF_CONFIG worker (each reads its share of
the row groups). Memory is bounded by the read batches, the shuffle buffer, the numeric sample
and the capped holdout, never by the number of rows. The encoders are fitted from the pass's
statistics by the same code ``TabularEncoder.fit`` runs in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from features.arrow_batch import encode_batch
from features.encoder import TabularEncoder
from features.errors import DataError, InvalidInput
from features.schema import FeatureSpec
from features.sources import schema
from training.data.row_source import Unit, fingerprint, known_rows, units_of
from training.data.statistics_pass import VALID_ROWS_CAP, StatisticsPass, TableScan
from training.data.stream import TrainingStream
from training.data.training_data import (
    FOLDS_IN_MEMORY,
    MIN_ROWS,
    DataRoute,
    EncodeTarget,
    Holdout,
    MemberData,
    TargetFacts,
    unfitted_encoder,
)
from training.loop.config import EncodingSettings

VALID_BATCH = 4096


def holdout_fraction(configured: float, rows: int | None) -> float:
    """The hash split's share: the configured fraction, but never more than VALID_ROWS_CAP rows
    when the footers give the row count (a 1 % holdout of 20M rows is 200k: plenty to stop on)."""
    return configured if rows is None else min(configured, VALID_ROWS_CAP / max(rows, 1))


class FileData:
    def __init__(self, data: str, spec: FeatureSpec, *, valid: str | None = None, workers: int = 1):
        self.data, self.spec, self.valid, self.workers = data, spec, valid, workers
        self.route = DataRoute(streamed=True, separate_holdout=valid is not None)
        self.folds_from: int | None = None

    def load(self, seed: int, valid_fraction: float, log: Callable[[str], None]) -> None:
        spec = self.spec
        columns = [*spec.features, spec.target]
        self.units: list[Unit] = units_of(self.data, columns)
        self.valid_units: list[Unit] = units_of(self.valid, columns) if self.valid else []
        self.holdout_fraction = 0.0 if self.valid else holdout_fraction(valid_fraction, known_rows(self.units))
        self.scan: TableScan = StatisticsPass(spec, self.holdout_fraction, seed=seed).run(self.units, self.valid_units, log)
        self.seed = seed
        scan, self.rows = self.scan, self.scan.statistics.rows
        log(
            f"statistics pass: {self.rows:,} training rows, {scan.valid.num_rows:,} holdout rows, "
            f"{len(self.units):,} row groups in {scan.seconds:.1f} s"
        )
        for note in scan.notes:
            log(note)
        if scan.unlabelled_rows:
            log(f"skipping {scan.unlabelled_rows:,} rows whose target {spec.target!r} is missing")
        if self.rows < MIN_ROWS:
            raise DataError(f"only {self.rows} labelled training rows; catembed needs at least {MIN_ROWS}", field=spec.target)

    def use_every_row(self) -> None:  # check_compatible refuses ensemble_holdout="folds" for streamed data first
        raise DataError(FOLDS_IN_MEMORY, field="ensemble_holdout", value="folds")

    def fit_encoder(self, encoding: EncodingSettings) -> TabularEncoder:
        return unfitted_encoder(self.spec, encoding).fit_statistics(self.scan.statistics)

    def targets(self) -> TargetFacts:
        scan = self.scan
        return TargetFacts(list(scan.target_counts), scan.train_target_counts, scan.target_sample, scan.target_mean)

    def encode(self, encoder: TabularEncoder, encode_target: EncodeTarget) -> Holdout:
        self.encoder, self.encode_target = encoder, encode_target
        try:
            valid_x = encode_batch(encoder, self.scan.valid).model_inputs()
        except InvalidInput as exc:
            raise DataError(f"holdout rows: {exc.message}", field=exc.field, value=exc.value) from None
        valid_y = encode_target(self.scan.valid.column(self.spec.target).to_pylist())
        self.holdout = Holdout(self.scan.valid.to_pandas(), valid_x, valid_y)
        return self.holdout

    def judging_rows(self) -> tuple[list[np.ndarray], np.ndarray, str]:
        # the holdout is the one labelled sample every worker holds whole, so all of them pick the
        # same features (a sample of the stream would differ per worker and split the model)
        return self.holdout.x, self.holdout.y, "the holdout rows"

    def stream(self, seed: int) -> TrainingStream:
        return TrainingStream(
            self.units,
            self.scan.train_rows_per_unit,
            self.encoder,
            self.spec.target,
            self.encode_target,
            self.holdout_fraction,
            seed=seed,
        )

    def member(self, k: int, members: int, seed: int, batch_size: int) -> MemberData:
        """An ensemble's members stream the files one after the other, each with its own seed
        and shuffle: memory stays one network's, time grows K-fold."""
        # the batch count is known from the statistics pass: Keras shows progress and ends epochs on it
        batches = (
            self.stream(seed).dataset(batch_size).apply(tf.data.experimental.assert_cardinality(-(-self.rows // batch_size)))
        )
        valid = tf.data.Dataset.from_tensor_slices((tuple(self.holdout.x), self.holdout.y)).batch(VALID_BATCH)
        return MemberData(batches, valid, self.rows, len(self.holdout.y))

    def worker_batches(
        self, workers: int, batch_size: int, seed: int
    ) -> tuple[Callable[[int, int, int], tf.data.Dataset], int, int]:
        """(worker, workers, epoch) → that worker's batches, the steps per epoch and the rows per
        worker's batch: the global batch stays batch_size, each of the workers taking its share."""
        per_worker = max(1, batch_size // workers)
        stream = self.stream(seed)
        steps = stream.steps(workers, per_worker)
        if steps < 1:
            raise DataError(
                f"{len(self.units)} row groups are too few to give each of {workers} workers a batch of {per_worker} rows; "
                "write the data as more files or row groups",
                field="data",
            )
        return stream.dataset_fn(per_worker, steps), steps, per_worker

    @property
    def manifest_entries(self) -> dict[str, Any]:
        return {
            "streamed": True,
            "statistics_seconds": round(self.scan.seconds, 3),
            "holdout": f"--valid {self.valid}" if self.valid else f"hash split of (file, row): {self.holdout_fraction:.4%}",
            "numeric_sample_rows": len(self.scan.statistics.numeric_sample),
            "workers": self.workers,
        }

    def describe(self) -> str:
        return f" streamed from {self.data}"

    def fingerprint(self) -> str:
        return fingerprint([*self.units, *self.valid_units])

    def example(self) -> dict[str, Any]:
        return self.scan.example or {}

    def ignored(self) -> dict[str, str]:
        return self.spec.ignored_columns(schema(self.units[0].source, []).names)

    def source(self) -> str | None:
        return self.data
