"""bench/load.py on tiny settings: the load generator works, and a moderate load against a real
uvicorn leaves no errors and no memory growth. Counts only: timings belong to the benchmark."""

from __future__ import annotations

import json

from bench.load import main, measure


def test_load_cli_writes_its_report(binary_run, tmp_path):
    out = tmp_path / "load.json"
    args = ["--model-dir", str(binary_run.path.parent), "--requests", "120", "--connections", "4", "--warmup", "20"]
    assert main([*args, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["runs"]) == {"predict", "mixed"}
    for name, run in report["runs"].items():
        assert run["requests"] == run["answered"] == 120 and run["errors"] == 0, (name, run)
        assert run["latency_ms"]["p50"] <= run["latency_ms"]["p99"] <= run["latency_ms"]["max"]
        assert run["rss_kib_before"] > 10_000
    assert set(report["runs"]["mixed"]["by_kind"]) == {"single", "batch100", "embedding"}


def test_moderate_load_has_no_errors_and_no_memory_growth(binary_run):
    report = measure(binary_run.path.parent, total=2_000, connections=32, warmup=500)
    for name, run in report["runs"].items():
        assert run["answered"] == 2_000 and run["errors"] == 0, (name, run["error_samples"])
        assert run["statuses"] == {"200": 2_000}
        assert abs(run["rss_growth_percent"]) <= 5.0, (name, run["rss_kib_before"], run["rss_kib_after"])
    assert report["runs"]["mixed"]["by_kind"]["batch100"] == 200  # 100,000 records predicted in batches
