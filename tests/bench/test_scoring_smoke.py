"""bench/scoring's generator makes demo-shaped shards: the flights sample's columns, resampled.
Its speed is measured by `python -m bench.scoring`, never asserted by a test."""

import pyarrow.parquet as pq

from bench.scoring import SAMPLE, generate


def test_generator_writes_demo_shaped_shards(tmp_path):
    folder = generate(tmp_path / "data", rows=2_501, shards=3)
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["part-000.parquet", "part-001.parquet", "part-002.parquet"]
    tables = [pq.read_table(f) for f in files]
    assert sum(t.num_rows for t in tables) == 2_501
    sample = pq.read_schema(SAMPLE)
    assert set(tables[0].schema.names) == (set(sample.names) - {"delayed"}) | {"flight_id"}
    ids = [i for t in tables for i in t["flight_id"].to_pylist()]
    assert ids == list(range(2_501))  # a unique, ordered id to --keep
    assert set(tables[0]["carrier"].to_pylist()) <= set(pq.read_table(SAMPLE)["carrier"].to_pylist())
