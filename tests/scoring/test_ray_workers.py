"""``catembed predict --workers 2`` on a real local Ray cluster started by the run: the same rows,
in the same order, with the same predictions and counts as one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytest.importorskip("ray", reason="Ray is the optional extra catembed[distributed]")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_two_ray_workers_give_the_one_process_predictions(binary_run, tmp_path):
    frame = binary_run.valid.reset_index(drop=True)
    frame["row_id"] = range(len(frame))
    frame.loc[::11, "color"] = "purple"
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(3):  # several files and row groups: several work units across the two workers
        frame.iloc[i * 200 : (i + 1) * 200].to_parquet(shards / f"part-{i}.parquet", row_group_size=64)
    catembed = Path(sys.executable).parent / "catembed"
    base = [str(catembed), "predict", str(binary_run.path.parent), "--data", str(shards), "--keep", "row_id"]
    # Ray writes /tmp/ray and ~/.ray: both go to a short temporary folder (its socket paths must stay short)
    ray_home = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    env = {**os.environ, "RAY_TMPDIR": str(ray_home), "HOME": str(ray_home)}
    env.pop("RAY_ADDRESS", None)
    try:
        one = subprocess.run([*base, "--out", str(tmp_path / "one.parquet")], capture_output=True, text=True, check=False)
        two = subprocess.run(
            [*base, "--out", str(tmp_path / "two.parquet"), "--workers", "2"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    finally:
        shutil.rmtree(ray_home, ignore_errors=True)
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr[-3000:]
    assert "2 Ray workers" in two.stdout
    assert pq.read_table(tmp_path / "two.parquet").equals(pq.read_table(tmp_path / "one.parquet"))
    # the counted warnings agree too: the summary's per-feature table is the same
    assert one.stdout.split("\n", 1)[1] == two.stdout.split("\n", 1)[1]
