"""The benchmark harness runs end to end on tiny settings and writes a complete, sane report.

This checks structure and sanity only (positive times, consistent ratios, no failed requests):
speed itself is measured by `make bench`, never asserted by a test.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_quick_harness_run_writes_every_figure(binary_run, tmp_path):
    out = tmp_path / "perf.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.perf", "--quick", "--skip-training", "--bundle", str(binary_run.path), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())

    latency = results["latency"]
    for path in ("predict", "floor", "naive", "bare_floor"):
        stats = latency[path]
        assert stats["n"] > 0 and 0 < stats["p50_us"] <= stats["p99_us"]
    assert latency["predict_over_floor_p50"] == pytest.approx(latency["predict"]["p50_us"] / latency["floor"]["p50_us"], rel=1e-2)
    assert latency["floor_over_bare_p50"] > 0
    assert latency["naive_over_predict_p50"] == pytest.approx(latency["naive"]["p50_us"] / latency["predict"]["p50_us"], rel=1e-2)

    for workers in ("workers_1", "workers_2"):
        runs = results["throughput"][workers]
        assert {r["path"] for r in runs} == {"/predict", "/_floor"}
        assert all(r["requests_per_s"] > 0 and r["non_2xx"] == 0 and r["p99_us"] > 0 for r in runs)

    batch = results["batch"]
    assert batch["records"] == 200 and batch["http_median_ms"] > 0 and batch["rows_per_s"] > 0
    stages = batch["in_process"]
    assert all(stages[k] > 0 for k in ("parse_ms", "validate_ms", "encode_ms", "infer_ms", "respond_ms"))

    formats = results["batch_formats"]["formats"]  # the same batch in every answer format
    assert set(formats) == {"rows", "columns", "columns_body", "v2_json", "v2_binary"}
    assert all(f["http_median_ms"] > 0 and f["response_bytes"] > 0 for f in formats.values())

    footprint = results["footprint"]
    assert footprint["rss_after_load_mb"] > 10 and footprint["cold_start_to_ready_s"] > 0
    assert footprint["tensorflow_loaded"] is False  # the serving process never imports TensorFlow
    assert "| Measure |" in done.stdout and "Single record p50" in done.stdout
