"""bench/vocab_scaling's generator and summary at a tiny size; the figures themselves are
measured by `python -m bench.vocab_scaling`, never asserted by a test."""

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.vocab_data import CATEGORICAL, NUMERIC, TARGET, cached
from bench.vocab_scaling import summary


def test_the_id_has_the_asked_number_of_values_and_drives_the_target(tmp_path):
    folder = cached(tmp_path, rows=60_000, values=1_000, rows_per_shard=30_000)
    table = pq.read_table(folder)
    assert table.column_names == [*CATEGORICAL, *NUMERIC, TARGET] and table.num_rows == 60_000
    counts = pc.value_counts(table["id"]).field("counts").to_numpy()
    assert len(counts) == 1_000 and counts.max() > 20 * np.median(counts)  # all present, Zipf-skewed
    frame = table.select(["id", TARGET]).to_pandas()
    rates = frame.groupby("id")[TARGET].agg(["mean", "size"])
    frequent = rates[rates["size"] >= 200]["mean"]
    assert frequent.max() - frequent.min() > 0.3  # each ID has its own effect
    again = cached(tmp_path, rows=60_000, values=1_000, rows_per_shard=30_000)
    assert again == folder and pq.read_table(again).equals(table)  # reused, not regenerated
    other = pq.read_table(cached(tmp_path, rows=30_000, values=1_000, rows_per_shard=30_000))
    assert other.equals(pq.read_table(folder / "part-000.parquet"))  # shard k depends on k only


def test_summary_states_both_targets_from_the_medians():
    runs = {
        "1000": [{"rows_per_second": 100.0, "peak_rss_mb": 900.0}, {"rows_per_second": 120.0, "peak_rss_mb": 910.0}],
        "1000000": [{"rows_per_second": 70.0, "peak_rss_mb": 2100.0}],
    }
    result = summary(runs)
    assert result["speed_ratio_1m_to_1k"] == round(70 / 110, 3) and not result["speed_target_met"]
    assert result["rss_target_met"] is False
