"""bench/explorer.py runs end to end on a small vocabulary: trains, serves, draws in Chromium, reports.

Structure only (every point drawn, positive times, files written): the 50,000-value timing itself is
measured by `make bench-explorer`, never asserted by a test.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_small_explorer_benchmark_run(tmp_path):
    pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[dev]')")
    if not os.access("/usr/bin/chromium", os.X_OK):
        pytest.skip("/usr/bin/chromium is missing: apt-get install -y chromium (make test does it when run as root)")
    done = subprocess.run(
        [sys.executable, "-m", "bench.explorer", "--values", "400", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "explorer.json").read_text())
    assert 350 <= results["points"] <= 400  # each value is seen 6 times: nearly all survive the split
    assert 0 < results["warm_paint_ms"] <= results["warm_ms"] and results["cold_ms"] > 0
    assert (tmp_path / "explorer-50k.png").stat().st_size > 10_000
