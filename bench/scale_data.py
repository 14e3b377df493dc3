"""The synthetic table of ``bench.scale``: Parquet shards of any length, generated shard by shard.

Columns (a retail-like click table):

- ``item``: the big categorical, drawn from 400,000 values with Zipf-like frequencies
  (weight ∝ 1/rank^1.05: the top value is ~10 % of the rows, most values are rare). 1M rows see
  ~136k distinct values, 4M ~277k, 16M ~387k. Each value has its own effect on the target.
- ``region`` (20 values), ``channel`` (4), ``weekday`` (integers 0–6): small categoricals.
- ``price`` (log-normal: skewed), ``age`` (normal, 8 % missing), ``sessions`` (a heavy-tailed
  count, 3 % missing), ``score`` (uniform): numerics.
- ``y``: 0/1, drawn from a logistic model of all of the above (the item's effect, region and
  channel effects, log price, a bump in age, log sessions), so the target really depends on
  the features and a model can learn something. Positive rate ≈ 30 %.

Deterministic: the value universe and its effects come from ``seed``, and shard ``k`` from
``(seed, k)``, so shard 3 is the same file in the 4M and the 16M table. Memory is one shard's
columns (~100 MB for a million rows), whatever the total.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ITEMS = 400_000
ZIPF_EXPONENT = 1.05
REGIONS = 20
CHANNELS = ("web", "app", "store", "phone")
ROWS_PER_SHARD = 1_000_000
ROW_GROUP = 131_072
CATEGORICAL = ["item", "region", "channel", "weekday"]
NUMERIC = ["price", "age", "sessions", "score"]
TARGET = "y"


class Universe:
    """What every shard shares: the item names, their frequencies and every per-value effect."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng([seed, 2**31])
        weights = 1.0 / np.arange(1, ITEMS + 1) ** ZIPF_EXPONENT
        self.item_cdf = np.cumsum(weights / weights.sum())
        # names in shuffled order: rank is not readable from the name, as with real IDs
        self.item_names = pa.array([f"i{n:06d}" for n in rng.permutation(ITEMS)])
        self.item_effect = rng.normal(0.0, 0.8, ITEMS)
        self.region_names = pa.array([f"r{n:02d}" for n in range(REGIONS)])
        self.region_effect = rng.normal(0.0, 0.4, REGIONS)
        self.channel_effect = np.array([0.0, 0.3, -0.4, 0.6])

    def shard(self, rows: int, seed: int, shard: int) -> pa.Table:
        rng = np.random.default_rng([seed, shard])
        item = np.searchsorted(self.item_cdf, rng.random(rows), side="right").clip(max=ITEMS - 1)
        region = rng.integers(0, REGIONS, rows)
        channel = rng.choice(len(CHANNELS), rows, p=[0.45, 0.35, 0.15, 0.05])
        weekday = rng.integers(0, 7, rows)
        price = rng.lognormal(3.0, 1.0, rows)
        age = rng.normal(40.0, 12.0, rows)
        sessions = np.floor(rng.pareto(1.5, rows) * 3.0)
        score = rng.random(rows)
        logit = (
            -1.2
            + self.item_effect[item]
            + self.region_effect[region]
            + self.channel_effect[channel]
            - 0.35 * (np.log(price) - 3.0)
            - 0.8 * np.exp(-(((age - 30.0) / 8.0) ** 2))
            + 0.25 * np.log1p(sessions)
            + 0.15 * (weekday >= 5)
        )
        y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
        # missing values after the target is drawn: the target depends on the true value
        age_missing = rng.random(rows) < 0.08
        sessions_missing = rng.random(rows) < 0.03
        return pa.table(
            {
                # take() builds plain string columns in C; Parquet dictionary-encodes them on disk
                "item": pc.take(self.item_names, pa.array(item)),
                "region": pc.take(self.region_names, pa.array(region)),
                "channel": pc.take(pa.array(CHANNELS), pa.array(channel)),
                "weekday": pa.array(weekday),
                "price": pa.array(np.round(price, 2)),
                "age": pa.array(np.round(age, 1), mask=age_missing),
                "sessions": pa.array(sessions, mask=sessions_missing),
                "score": pa.array(score),
                TARGET: pa.array(y),
            }
        )


def generate(
    folder: Path | str, rows: int, rows_per_shard: int = ROWS_PER_SHARD, row_group: int = ROW_GROUP, seed: int = 0
) -> Path:
    """Write ``rows`` rows as ``part-NNN.parquet`` shards in ``folder``, one shard in memory at a time.

    Each shard is written under a temporary name and renamed, so an interrupted run leaves no
    truncated shard behind for the next run to mistake for a finished one.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    universe = Universe(seed)
    shards = -(-rows // rows_per_shard)
    for shard in range(shards):
        n = min(rows_per_shard, rows - shard * rows_per_shard)
        path = folder / f"part-{shard:03d}.parquet"
        partial = folder / f".{path.name}.tmp"
        pq.write_table(universe.shard(n, seed, shard), partial, row_group_size=row_group)
        partial.replace(path)
    return folder


def cached(root: Path | str, rows: int, rows_per_shard: int = ROWS_PER_SHARD, seed: int = 0) -> Path:
    """The ``rows``-row table under ``root``, generated only if a finished copy is not there yet.

    A folder counts as finished when it holds exactly the expected shards with the expected row
    counts (read from the Parquet footers, which is cheap).
    """
    folder = Path(root) / f"rows-{rows}-seed-{seed}"
    expected = [min(rows_per_shard, rows - k * rows_per_shard) for k in range(-(-rows // rows_per_shard))]
    present = sorted(folder.glob("part-*.parquet"))
    if [pq.ParquetFile(p).metadata.num_rows for p in present] != expected:
        for stale in present:
            stale.unlink()
        generate(folder, rows, rows_per_shard, seed=seed)
    return folder
