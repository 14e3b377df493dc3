"""The generated table of ``bench.vocab_scaling``: one Zipf-distributed ID of a chosen number of
values, the usual small categoricals and numerics, a 0/1 target; Parquet shards of 1M rows.

- ``id``: ``values`` possible IDs with Zipf weights ∝ 1/rank^0.8. The exponent is below the 1.05
  of ``bench/scale_data.py`` so that the ID really has about ``values`` distinct values in 4M rows
  (1k, 10k and 100k all present, 1M: ~786k present and ~149k seen 5 times, the vectors a model
  keeps); the top value is 1–7 % of the rows. Each ID has its own effect on the target.
- ``region`` (20), ``channel`` (4), ``weekday`` (0–6): small categoricals; ``price``
  (log-normal), ``age`` (normal, 8 % missing), ``score`` (uniform): numerics.
- ``y``: 0/1 from a logistic model of all of them, positive rate ≈ 30 %.

Deterministic: the ID universe and its effects come from ``(seed, values)``, shard ``k`` from
``(seed, values, k)``. Memory is one shard's columns whatever the total.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.scale_data import CHANNELS, REGIONS, ROW_GROUP, ROWS_PER_SHARD  # the same shards as the scale bench

ZIPF_EXPONENT = 0.8
CATEGORICAL = ["id", "region", "channel", "weekday"]
NUMERIC = ["price", "age", "score"]
TARGET = "y"


class IdUniverse:
    def __init__(self, values: int, seed: int = 0) -> None:
        rng = np.random.default_rng([seed, values])
        weights = 1.0 / np.arange(1, values + 1) ** ZIPF_EXPONENT
        self.cdf = np.cumsum(weights / weights.sum())
        self.names = pa.array([f"u{n:07d}" for n in rng.permutation(values)])  # rank not readable from the name
        self.effect = rng.normal(0.0, 0.8, values)
        self.region_effect = rng.normal(0.0, 0.4, REGIONS)
        self.values, self.seed = values, seed

    def shard(self, rows: int, shard: int) -> pa.Table:
        rng = np.random.default_rng([self.seed, self.values, shard])
        ids = np.searchsorted(self.cdf, rng.random(rows), side="right").clip(max=self.values - 1)
        region = rng.integers(0, REGIONS, rows)
        channel = rng.choice(len(CHANNELS), rows, p=[0.45, 0.35, 0.15, 0.05])
        weekday = rng.integers(0, 7, rows)
        price = rng.lognormal(3.0, 1.0, rows)
        age = rng.normal(40.0, 12.0, rows)
        score = rng.random(rows)
        logit = (
            -1.1
            + self.effect[ids]
            + self.region_effect[region]
            + np.array([0.0, 0.3, -0.4, 0.6])[channel]
            - 0.35 * (np.log(price) - 3.0)
            - 0.8 * np.exp(-(((age - 30.0) / 8.0) ** 2))
            + 0.5 * score
            + 0.15 * (weekday >= 5)
        )
        y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
        return pa.table(
            {
                "id": pc.take(self.names, pa.array(ids)),
                "region": pa.array([f"r{n:02d}" for n in range(REGIONS)]).take(pa.array(region)),
                "channel": pc.take(pa.array(CHANNELS), pa.array(channel)),
                "weekday": pa.array(weekday),
                "price": pa.array(np.round(price, 2)),
                "age": pa.array(np.round(age, 1), mask=rng.random(rows) < 0.08),
                "score": pa.array(score),
                TARGET: pa.array(y),
            }
        )


def cached(root: Path | str, rows: int, values: int, rows_per_shard: int = ROWS_PER_SHARD, seed: int = 0) -> Path:
    """The table under ``root``, generated (shard by shard, each renamed into place when whole)
    unless a finished copy with the expected shard row counts is there."""
    folder = Path(root) / f"rows-{rows}-values-{values}-seed-{seed}"
    expected = [min(rows_per_shard, rows - k * rows_per_shard) for k in range(-(-rows // rows_per_shard))]
    present = sorted(folder.glob("part-*.parquet"))
    if [pq.ParquetFile(p).metadata.num_rows for p in present] == expected:
        return folder
    for stale in present:
        stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    universe = IdUniverse(values, seed)
    for k, n in enumerate(expected):
        path = folder / f"part-{k:03d}.parquet"
        partial = folder / f".{path.name}.tmp"
        pq.write_table(universe.shard(n, k), partial, row_group_size=min(ROW_GROUP, n))
        partial.replace(path)
    return folder
