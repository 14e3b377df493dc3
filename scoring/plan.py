"""A scoring plan (what every worker needs to score a file the same way) and the one loop that
scores a file with it, in this process or in a Ray worker (``scoring.distributed``).

A file's batches go through the BatchScorer; a batch that fails is checked row by row
(``scoring.rejects``), and its bad rows stop the run (``--on-error stop``, one line naming file,
row and field) or go to ``OUT.rejects.parquet`` (``skip``) while the rest of the batch is scored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from features.errors import DataError
from features.sources import Source, batches
from scoring import rejects as rejects_
from scoring.scorer import BadBatch, BatchScorer


@dataclass(frozen=True)
class Plan:
    """Everything a worker needs to score a file the same way as every other worker."""

    model_dir: str
    version: int
    keep: list[str]
    schema: pa.Schema  # kept columns, then the prediction columns
    on_error: str
    batch_rows: int


def score_source(
    scorer: BatchScorer, plan: Plan, source: Source, row_groups: Sequence[int] | None = None, first_row: int = 0
) -> Iterator[tuple[str, Any]]:
    """("scores", table) and ("rejects", table) for one file (or some of its row groups)."""
    columns = list(dict.fromkeys([*scorer.features, *plan.keep]))
    row = first_row
    for batch in batches(source, columns, scorer.features, plan.batch_rows, row_groups):
        try:
            yield "scores", _scored(batch, scorer, plan, source)
        except BadBatch as exc:
            bad = rejects_.find(batch, scorer.categorical, scorer.numeric, str(source.path), row)
            if not bad:  # the row check and the batch conversion disagree: say so rather than guess
                raise DataError(f"{source.path}, rows {row}-{row + batch.num_rows - 1}: {exc}", field="data") from None
            if plan.on_error == "stop":
                raise bad[0].error() from None
            yield "rejects", rejects_.table(bad)
            good = [True] * batch.num_rows
            for reject in bad:
                good[reject.row - row] = False
            if any(good):
                yield "scores", _scored(batch.filter(pa.array(good)), scorer, plan, source)
        row += batch.num_rows


def _scored(batch: pa.RecordBatch, scorer: BatchScorer, plan: Plan, source: Source) -> pa.Table:
    predictions = scorer.predict(batch)
    kept = [batch.column(name) for name in plan.keep]
    table = pa.Table.from_arrays([*kept, *predictions], names=plan.schema.names)
    try:
        return table.cast(plan.schema)  # a kept column's type is the first file's
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"{source.path}: a --keep column does not fit its type in the first file: {exc}", field="keep") from None
