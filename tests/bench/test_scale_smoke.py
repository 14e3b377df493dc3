"""bench/scale's generator and measuring helpers, at a tiny size. The scale figures themselves are
measured by `python -m bench.scale`, never asserted by a test."""

import sys

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bench.measure import GNU_TIME, measure, parquet_rows, parse_time_v
from bench.scale_data import CATEGORICAL, NUMERIC, TARGET, cached, generate


def test_generator_writes_deterministic_shards_of_a_learnable_table(tmp_path):
    folder = generate(tmp_path / "a", rows=20_000, rows_per_shard=10_000, row_group=4_096)
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["part-000.parquet", "part-001.parquet"]  # no temporary file left
    assert [pq.ParquetFile(f).metadata.num_rows for f in files] == [10_000, 10_000]
    assert pq.ParquetFile(files[0]).metadata.num_row_groups == 3
    assert parquet_rows(folder) == 20_000
    table = pq.read_table(folder)
    assert table.column_names == [*CATEGORICAL, *NUMERIC, TARGET]

    rate = pc.mean(table[TARGET]).as_py()
    assert 0.15 < rate < 0.45
    # the target depends on the features: the channel with the largest effect has a higher rate
    by_channel = {c: pc.mean(pc.filter(table[TARGET], pc.equal(table["channel"], c))).as_py() for c in ("phone", "store")}
    assert by_channel["phone"] > by_channel["store"] + 0.1
    assert 0.05 < table["age"].null_count / 20_000 < 0.11 and table["price"].null_count == 0
    assert (
        pc.min(table["price"]).as_py() > 0
        and pc.mean(table["price"]).as_py() > 1.3 * pc.approximate_median(table["price"]).as_py()
    )

    # same seed, same bytes of data; shard k does not depend on how many shards follow it
    again = pq.read_table(generate(tmp_path / "b", rows=10_000, rows_per_shard=10_000, row_group=4_096))
    assert again.equals(pq.read_table(files[0]))


def test_the_big_categorical_keeps_growing_with_rows(tmp_path):
    small = pq.read_table(generate(tmp_path / "s", rows=20_000, rows_per_shard=10_000), columns=["item"])
    large = pq.read_table(generate(tmp_path / "l", rows=80_000, rows_per_shard=40_000), columns=["item"])
    distinct_small, distinct_large = len(pc.unique(small["item"])), len(pc.unique(large["item"]))
    assert distinct_small > 5_000  # Zipf-like: most values of a 20k-row draw are new ones
    assert distinct_large > 2.5 * distinct_small
    counts = pc.value_counts(large["item"]).field("counts").to_numpy()
    assert counts.max() > 5_000 and (counts < 5).mean() > 0.8  # a few huge values, a long rare tail


def test_cached_reuses_a_finished_table_and_replaces_a_short_one(tmp_path):
    folder = cached(tmp_path, rows=15_000, rows_per_shard=10_000)
    stamp = (folder / "part-001.parquet").stat().st_mtime_ns
    assert cached(tmp_path, rows=15_000, rows_per_shard=10_000) == folder
    assert (folder / "part-001.parquet").stat().st_mtime_ns == stamp
    generate(folder, rows=5_000, rows_per_shard=5_000)  # an interrupted or other table: wrong row counts
    cached(tmp_path, rows=15_000, rows_per_shard=10_000)
    assert parquet_rows(folder) == 15_000


@pytest.mark.skipif(not GNU_TIME.exists(), reason="/usr/bin/time is not installed")
def test_measure_reads_peak_rss_from_a_real_time_report():
    grow = "import sys; b = bytearray({} * 2**20); b[::4096] = b'x' * len(b[::4096]); print('rows', len(b))"
    small = measure([sys.executable, "-c", grow.format(10)])
    large = measure([sys.executable, "-c", grow.format(300)])
    assert small["rss_source"] == "/usr/bin/time -v" and small["exit_status"] == 0
    assert large["peak_rss_mb"] - small["peak_rss_mb"] > 250  # the 290 MB more that were touched
    assert large["stdout"].strip() == f"rows {300 * 2**20}"
    assert 0 < small["wall_seconds"] < 30 and len(small["load_average_before"]) == 3


def test_parse_time_v_takes_the_report_after_the_commands_own_stderr():
    report = (
        "Maximum resident set size (kbytes): 1\n"  # the command's own stderr, printed first
        '\tCommand being timed: "x"\n\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02:03.5\n'
        "\tMaximum resident set size (kbytes): 2097152\n\tExit status: 0\n"
    )
    assert parse_time_v(report) == {"peak_rss_mb": 2048.0, "wall_seconds": 3723.5, "exit_status": 0}
    with pytest.raises(ValueError):
        parse_time_v("Traceback: no report")
