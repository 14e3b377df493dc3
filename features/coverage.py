"""Coverage: how much of what training saw got a vector of its own, per categorical feature.

The facts are derived here, once, from a fitted ``CategoricalEncoder``, and every reader uses
these names with these meanings: the bundle's manifest (``features``), ``GET /model``
(``features`` and ``coverage``), the training report and the quality bench.

| name | meaning |
| --- | --- |
| ``values_seen`` | distinct values in the training rows (a missing value is not one) |
| ``vocabulary_size`` | values with their own vector: the encoder's vocabulary |
| ``values_folded`` | values seen but rarer than ``min_frequency`` (or past ``max_categories``): they share the unknown vector |
| ``table_rows`` | rows of the embedding table: the vocabulary plus the unknown row 0 |
| ``training_rows`` | rows the encoder was fitted on |
| ``rows_folded`` | training rows whose value was folded |
| ``missing_rows`` | training rows without a value |
| ``folded_row_rate`` | ``rows_folded / training_rows`` |
| ``min_count_with_vector`` | the smallest training count that still got a vector |
| ``coverage`` | the share of the values with at least ``COVERAGE_MIN_ROWS`` training rows that have their own vector |
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from features.categorical import COVERAGE_MIN_ROWS, CategoricalEncoder

# names earlier bundles' manifests used for these facts; GET /model shows today's names only
RETIRED_NAMES = ("rare_values_folded", "values_with_vector")


@dataclass(frozen=True)
class Coverage:
    values_seen: int
    vocabulary_size: int
    values_folded: int
    table_rows: int
    training_rows: int
    rows_folded: int
    missing_rows: int
    folded_row_rate: float | None
    min_count_with_vector: int | None
    coverage: float | None  # None for a bundle written before the count behind it was kept

    @classmethod
    def of(cls, encoder: CategoricalEncoder) -> Coverage:
        encoder._check_fitted("vocabulary_")
        own, folded = len(encoder.vocabulary_), int(encoder.n_rare_values_)
        rows_folded, missing = int(encoder.n_rare_rows_), int(encoder.n_missing_rows_)
        rows = int(sum(encoder.counts_)) + rows_folded + missing
        common = common_values(encoder)
        return cls(
            values_seen=own + folded,
            vocabulary_size=own,
            values_folded=folded,
            table_rows=encoder.n_indices,
            training_rows=rows,
            rows_folded=rows_folded,
            missing_rows=missing,
            folded_row_rate=rows_folded / rows if rows else None,
            min_count_with_vector=int(min(encoder.counts_)) if encoder.counts_ else None,
            coverage=None if common is None else (common[1] / common[0] if common[0] else 1.0),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def common_values(encoder: CategoricalEncoder) -> tuple[int, int] | None:
    """(values with at least COVERAGE_MIN_ROWS training rows, how many of them have their own
    vector); None for a bundle written before the first count was kept."""
    common = getattr(encoder, "n_common_values_", None)
    if common is None:
        return None
    return int(common), sum(1 for n in encoder.counts_ if n >= COVERAGE_MIN_ROWS)
