"""Pass 2 of streaming training: shuffled, encoded training batches from the files.

Each epoch visits the units (row groups) in a new random order and reads them batch by batch;
the training rows of each (not holdout, target present) are encoded by the fitted encoder
(``features.arrow_batch``, the same code as batch scoring) into a shuffle buffer of encoded
rows. When the buffer is full it is permuted, its first half goes out as minibatches and the
second half stays to mix with the next units: rows from different files meet in a batch,
and memory is the buffer, whatever the size of the data.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import tensorflow as tf

from features.arrow_batch import encode_batch
from features.encoder import TabularEncoder
from features.errors import DataError, InvalidInput
from training.data.row_source import Unit, read_unit
from training.data.split import holdout_mask

SHUFFLE_ROWS = 262_144  # encoded rows held for shuffling: ~25 MB for a dozen features

BLOCK_BATCHES = 32

Batch = tuple[tuple[np.ndarray, ...], np.ndarray]


class TrainingStream:
    def __init__(
        self,
        units: Sequence[Unit],
        train_rows_per_unit: Sequence[int],
        encoder: TabularEncoder,
        target: str,
        encode_target: Callable[[list[Any]], np.ndarray],
        holdout_fraction: float,
        *,
        seed: int = 0,
        shuffle_rows: int = SHUFFLE_ROWS,
    ) -> None:
        self.units = list(units)
        self.unit_rows = list(train_rows_per_unit)
        self.encoder, self.target, self.encode_target = encoder, target, encode_target
        self.holdout_fraction = holdout_fraction
        self.seed, self.shuffle_rows = seed, shuffle_rows
        self.columns = [*encoder.categorical, *encoder.numeric, target]

    @property
    def rows(self) -> int:
        return sum(self.unit_rows)

    def shares(self, workers: int) -> list[list[int]]:
        """Unit indices per worker: largest units first, each to the worker with the fewest rows
        so far, so the shares differ by at most about one row group."""
        shares: list[list[int]] = [[] for _ in range(workers)]
        loads = [0] * workers
        for i in sorted(range(len(self.units)), key=lambda i: (-self.unit_rows[i], i)):
            w = loads.index(min(loads))
            shares[w].append(i)
            loads[w] += self.unit_rows[i]
        return shares

    def steps(self, workers: int, batch_size: int) -> int:
        """Batches per epoch that every worker can fill: synchronous workers must take the same
        number of steps, so the largest shares drop their last rows (a different few each epoch)."""
        return min(sum(self.unit_rows[i] for i in share) for share in self.shares(workers)) // batch_size

    def batches(
        self, batch_size: int, epoch: int, worker: int = 0, workers: int = 1, steps: int | None = None
    ) -> Iterator[Batch]:
        """One epoch of this worker's batches; with ``steps``, exactly that many full batches."""
        rng = np.random.default_rng([self.seed, epoch, worker])
        share = self.shares(workers)[worker]
        chunks = itertools.chain.from_iterable(self._encoded(self.units[i]) for i in rng.permutation(share))
        produced = _rebatch(_shuffled(chunks, self.shuffle_rows, rng), batch_size, drop_last=steps is not None)
        yield from itertools.islice(produced, steps)

    def dataset(self, batch_size: int, worker: int = 0, workers: int = 1, steps: int | None = None) -> tf.data.Dataset:
        """A tf.data view; each iteration (epoch) re-shuffles with the next epoch's seed."""
        epochs = itertools.count()
        return self._view(lambda: self.batches(batch_size, next(epochs), worker, workers, steps), batch_size)

    def dataset_fn(self, batch_size: int, steps: int) -> Callable[[int, int, int], tf.data.Dataset]:
        """For training.distributed.strategy: (worker, workers, epoch) → that worker's epoch."""

        def make(worker: int, workers: int, epoch: int) -> tf.data.Dataset:
            return self._view(lambda: self.batches(batch_size, epoch, worker, workers, steps), batch_size)

        return make

    def _view(self, epoch: Callable[[], Iterator[Batch]], batch_size: int) -> tf.data.Dataset:
        """Python hands over blocks of BLOCK_BATCHES batches and tf.data's C++ ``rebatch`` cuts
        them: one generator round trip per block instead of per batch kept the stream within
        the in-memory route's rows/s (docs/scale.md). Blocks hold whole batches, so the cut is
        the same batches ``batches`` yields."""
        return (
            tf.data.Dataset.from_generator(lambda: _blocks(epoch(), BLOCK_BATCHES), output_signature=self._signature())
            .rebatch(batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )

    def _encoded(self, unit: Unit) -> Iterator[Batch]:
        for first_row, batch in read_unit(unit, self.columns, self.encoder.features):
            labelled = np.asarray(batch.column(self.target).is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            keep = labelled & ~holdout_mask(unit.key, first_row, batch.num_rows, self.holdout_fraction)
            if not keep.any():
                continue
            rows = batch.filter(pa.array(keep))
            try:
                inputs = encode_batch(self.encoder, rows).model_inputs()
            except InvalidInput as exc:  # the statistics pass read the same rows; a file changed since
                raise DataError(f"{unit.source.path}: {exc.message}", field=exc.field, value=exc.value) from None
            yield tuple(inputs), self.encode_target(rows.column(self.target).to_pylist())

    def _signature(self) -> tuple[tuple[tf.TensorSpec, ...], tf.TensorSpec]:
        inputs = [tf.TensorSpec((None, 1), tf.int32) for _ in self.encoder.categorical]
        if self.encoder.numeric_ is not None:
            inputs.append(tf.TensorSpec((None, self.encoder.numeric_.n_outputs), tf.float32))
        probe = self.encode_target([])
        return tuple(inputs), tf.TensorSpec((None, *probe.shape[1:]), tf.as_dtype(probe.dtype))


def _shuffled(chunks: Iterator[Batch], capacity: int, rng: np.random.Generator) -> Iterator[Batch]:
    """Encoded rows in buffer-shuffled order, as chunks of any size."""
    held: list[Batch] = []
    rows = 0
    for chunk in chunks:
        held.append(chunk)
        rows += len(chunk[1])
        if rows >= capacity:
            inputs, y = _permuted(held, rng)
            half = rows // 2
            yield tuple(a[:half] for a in inputs), y[:half]
            held, rows = [(tuple(a[half:] for a in inputs), y[half:])], rows - half
    if rows:
        yield _permuted(held, rng)


def _permuted(held: list[Batch], rng: np.random.Generator) -> Batch:
    inputs = tuple(np.concatenate(parts) for parts in zip(*(c[0] for c in held), strict=True))
    y = np.concatenate([c[1] for c in held])
    order = rng.permutation(len(y))
    return tuple(a[order] for a in inputs), y[order]


def _rebatch(chunks: Iterator[Batch], batch_size: int, *, drop_last: bool) -> Iterator[Batch]:
    """Exactly batch_size rows per batch; the last partial one only when not drop_last."""
    carry: Batch | None = None
    for chunk in chunks:
        if carry is not None:
            chunk = (
                tuple(np.concatenate([a, b]) for a, b in zip(carry[0], chunk[0], strict=True)),
                np.concatenate([carry[1], chunk[1]]),
            )
        n = len(chunk[1])
        full = n - n % batch_size
        for start in range(0, full, batch_size):
            yield tuple(a[start : start + batch_size] for a in chunk[0]), chunk[1][start : start + batch_size]
        carry = (tuple(a[full:] for a in chunk[0]), chunk[1][full:]) if full < n else None
    if carry is not None and not drop_last:
        yield carry


def _blocks(batches: Iterator[Batch], per_block: int) -> Iterator[Batch]:
    """Consecutive batches joined, per_block at a time (the last block may be short)."""
    while group := list(itertools.islice(batches, per_block)):
        if len(group) == 1:
            yield group[0]
        else:
            yield (
                tuple(np.concatenate(parts) for parts in zip(*(g[0] for g in group), strict=True)),
                np.concatenate([g[1] for g in group]),
            )
