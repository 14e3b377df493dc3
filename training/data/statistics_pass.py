"""Pass 1 of streaming training: one read of the files for everything fitting needs.

Per categorical feature the raw value counts (``pyarrow.compute.value_counts``, in C), exact
moments of every numeric feature, a uniform row sample for the medians and rank-gauss knots
(exact whenever the training rows fit in it), the target's classes or values, the training
rows of every unit (for equal steps per worker), and the holdout rows themselves, which are
few (capped) and so are kept, encoded later, for every epoch's validation.

Files are read one row group at a time with ``ParquetFile.iter_batches`` (features.sources):
``pyarrow.dataset``'s reader ran ~900 MB ahead of a slow consumer in the issue's probe.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.arrow_batch import numbers
from features.cells import BadCell, where
from features.errors import DataError, InvalidInput
from features.schema import FeatureSpec
from features.statistics import MomentsAccumulator, TableStatistics
from training.data.row_source import Unit, read_unit
from training.data.split import holdout_mask

SAMPLE_ROWS = 500_000  # numeric sample: quantile ranks within ~0.1 % (1/√n) beyond this many rows
VALID_ROWS_CAP = 200_000  # holdout rows kept for validation, whatever the size of the data


@dataclass
class TableScan:
    """What one read of the files found: the statistics, the target's values, the holdout rows."""

    statistics: TableStatistics
    target_counts: Counter[Any]  # every labelled row's target value, training and holdout
    train_target_counts: Counter[Any]  # the training rows' target values (class weights, the baseline)
    target_sample: np.ndarray  # regression: the sampled training rows' targets (float64)
    target_mean: float  # regression: exact mean over the training rows
    train_rows_per_unit: list[int]
    valid: pa.Table  # the raw holdout rows (at most VALID_ROWS_CAP)
    unlabelled_rows: int
    example: dict[str, Any] | None  # one complete training row
    seconds: float
    valid_rows_seen: int = 0  # holdout rows in the data, before the cap
    notes: list[str] = field(default_factory=list)


class StatisticsPass:
    def __init__(self, spec: FeatureSpec, holdout_fraction: float, *, seed: int = 0, sample_rows: int = SAMPLE_ROWS) -> None:
        self.spec = spec
        self.holdout_fraction = holdout_fraction
        self.regression = spec.task == "regression"
        self.sample_rows = sample_rows
        self.rng = np.random.default_rng(seed)
        numeric = len(spec.numeric) + int(self.regression)  # a regression target rides with the numerics
        self.moments = MomentsAccumulator(numeric)
        self.sample = np.empty((0, numeric))
        self.seen = 0  # training rows offered to the sample so far
        self.counts: dict[str, Counter[Any]] = {name: Counter() for name in spec.categorical}
        self.target_counts: Counter[Any] = Counter()
        self.train_target_counts: Counter[Any] = Counter()
        self.valid_batches: list[pa.RecordBatch] = []
        self.valid_rows = self.valid_seen = self.unlabelled = 0
        self.example: dict[str, Any] | None = None

    def run(self, units: Sequence[Unit], valid_units: Sequence[Unit] = (), log: Callable[[str], None] = print) -> TableScan:
        started = time.perf_counter()
        columns = [*self.spec.features, self.spec.target]
        per_unit = []
        for unit in units:
            before = self.seen
            for first_row, batch in read_unit(unit, columns, self.spec.features):
                self._add(
                    unit, first_row, batch, holdout=holdout_mask(unit.key, first_row, batch.num_rows, self.holdout_fraction)
                )
            per_unit.append(self.seen - before)
        for unit in valid_units:  # --valid files: every row is holdout
            for first_row, batch in read_unit(unit, columns, self.spec.features):
                self._add(unit, first_row, batch, holdout=np.ones(batch.num_rows, dtype=bool))
        if self.seen == 0:
            raise DataError("no labelled training rows in the data", field="data")
        notes = []
        if self.valid_seen > self.valid_rows:
            notes.append(f"validating on the first {self.valid_rows:,} of {self.valid_seen:,} holdout rows")
        moments = self.moments.result()
        k = len(self.spec.numeric)
        statistics = TableStatistics(
            rows=self.seen,
            counts=self.counts,
            numeric_sample=self.sample[:, :k],
            moments=_columns(moments, slice(0, k)),
            sampled=self.seen > self.sample_rows,
        )
        if not self.valid_batches:
            raise DataError(
                f"the holdout is empty ({self.holdout_fraction:.2%} of the rows); give --valid PATH or a larger --valid-fraction",
                field="valid_fraction",
            )
        valid = pa.Table.from_batches(self.valid_batches)
        return TableScan(
            statistics=statistics,
            target_counts=self.target_counts,
            train_target_counts=self.train_target_counts,
            target_sample=self.sample[:, k] if self.regression else np.empty(0),
            target_mean=float(moments.mean[k]) if self.regression else float("nan"),
            train_rows_per_unit=per_unit,
            valid=valid,
            unlabelled_rows=self.unlabelled,
            example=self.example,
            seconds=time.perf_counter() - started,
            valid_rows_seen=self.valid_seen,
            notes=notes,
        )

    def _add(self, unit: Unit, first_row: int, batch: pa.RecordBatch, holdout: np.ndarray) -> None:
        labelled = np.asarray(batch.column(self.spec.target).is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        self.unlabelled += int((~labelled).sum())
        for value, n in _value_counts(batch.column(self.spec.target).filter(pa.array(labelled))):
            self.target_counts[value] += n
        valid = holdout & labelled
        if valid.any() and self.valid_rows < VALID_ROWS_CAP:
            kept = batch.filter(pa.array(valid)).slice(0, VALID_ROWS_CAP - self.valid_rows)
            self._numeric_matrix(unit, first_row + np.flatnonzero(valid)[: kept.num_rows], kept)  # a bad value: its row now
            self.valid_batches.append(kept)
            self.valid_rows += kept.num_rows
        self.valid_seen += int(valid.sum())
        training = ~holdout & labelled
        train = batch.filter(pa.array(training))
        if not train.num_rows:
            return
        for name in self.spec.categorical:
            self.counts[name].update(dict(_value_counts(train.column(name))))
        if not self.regression:
            self.train_target_counts.update(dict(_value_counts(train.column(self.spec.target))))
        matrix = self._numeric_matrix(unit, first_row + np.flatnonzero(training), train)
        self.moments.update(matrix)
        self._offer(matrix)
        if self.example is None:
            self.example = _first_complete(train, self.spec.features)
        self.seen += train.num_rows

    def _numeric_matrix(self, unit: Unit, file_rows: np.ndarray, batch: pa.RecordBatch) -> np.ndarray:
        """``file_rows``: where each row of ``batch`` sits in its file, to name a bad value's row."""
        names = [*self.spec.numeric, *([self.spec.target] if self.regression else [])]
        try:
            columns = [numbers(name, batch.column(name)) for name in names]
        except BadCell as exc:
            place = f"{where(unit.source.path, int(file_rows[exc.row]))}, field {exc.field!r}"
            raise DataError(f"{place}: {exc.problem}", field=exc.field, value=exc.value) from None
        except InvalidInput as exc:  # a column of a type that holds no numbers
            raise DataError(f"{unit.source.path}: {exc.message}", field=exc.field, value=exc.value) from None
        return np.column_stack(columns) if columns else np.empty((batch.num_rows, 0))

    def _offer(self, rows: np.ndarray) -> None:
        """Reservoir sampling (Vitter's algorithm R), one batch at a time: every training row
        ends in the sample with the same probability, and all of them while they fit."""
        room = self.sample_rows - len(self.sample)
        if room > 0:
            self.sample = np.concatenate([self.sample, rows[:room]])
            rows, start = rows[room:], self.seen + min(room, len(rows))
        else:
            start = self.seen
        if not len(rows):
            return
        positions = start + np.arange(len(rows))
        slots = np.floor(self.rng.random(len(rows)) * (positions + 1)).astype(np.int64)
        chosen = slots < self.sample_rows
        self.sample[slots[chosen]] = rows[chosen]  # later rows win a shared slot, as in the sequential algorithm


def _value_counts(column: pa.Array | pa.ChunkedArray) -> list[tuple[Any, int]]:
    counted = pc.value_counts(column)
    return list(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True))


def _first_complete(batch: pa.RecordBatch, features: Sequence[str]) -> dict[str, Any] | None:
    complete = np.ones(batch.num_rows, dtype=bool)
    for name in features:
        complete &= np.asarray(batch.column(name).is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    rows = np.flatnonzero(complete)
    row = int(rows[0]) if len(rows) else 0
    return {name: batch.column(name)[row].as_py() for name in features}


def _columns(moments: Any, part: slice) -> Any:
    return type(moments)(*(getattr(moments, f)[part] for f in ("count", "missing", "mean", "std", "min", "max")))
