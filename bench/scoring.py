"""Batch scoring throughput: ``catembed predict`` on a few million demo-shaped rows.

The input is generated here: the shipped flights sample (40,000 rows) resampled with
replacement into Parquet shards, so every category and number is a real one in the real mix.
Each run is a child process; its peak RSS is the child's ``ru_maxrss``. The single-process run
is pinned to one core (``taskset``) so its rate is a per-core figure.

    nice -n 10 .venv/bin/python -m bench.scoring --rows 4000000 [--skip-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "training" / "data" / "demo" / "flights_sample.parquet"
RESULTS = ROOT / "bench" / "results" / "scoring.json"
CATEMBED = Path(sys.executable).parent / "catembed"


def generate(folder: Path | str, rows: int, shards: int, seed: int = 0) -> Path:
    """``rows`` flights drawn with replacement from the sample, in ``shards`` Parquet files."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    sample = pq.read_table(SAMPLE).drop_columns(["delayed"])
    sample = sample.append_column("flight_id", pa.array(np.arange(sample.num_rows, dtype=np.int64)))
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    per_shard = -(-rows // shards)
    for shard in range(shards):
        n = min(per_shard, rows - shard * per_shard)
        table = sample.take(pa.array(rng.integers(0, sample.num_rows, n)))
        ids = pa.array(np.arange(shard * per_shard, shard * per_shard + n, dtype=np.int64))
        table = table.set_column(table.schema.get_field_index("flight_id"), "flight_id", ids)
        pq.write_table(table, folder / f"part-{shard:03d}.parquet", row_group_size=256_000)
    return folder


def run(args: list[str], env: dict[str, str] | None = None, pin: bool = False) -> dict:
    """One ``catembed predict`` child: wall and CPU seconds, peak RSS and the rate it printed."""
    command = [str(CATEMBED), "predict", *args]
    if pin and shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        # wait4 gives this child's own resources: its peak RSS, and the CPU time it used, which
        # stays honest on a busy machine where the wall clock does not (Ray's workers are not in it)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise SystemExit(f"catembed predict failed ({child.returncode}):\n{stdout}\n{stderr[-3000:]}")
    found = re.search(r"scored ([\d,]+) rows .* in ([\d.]+) s \(([\d,]+) rows/s(?:.*?([\d,]+) rows per CPU second)?", stdout)
    assert found, stdout
    rows, seconds, rate = int(found[1].replace(",", "")), float(found[2]), int(found[3].replace(",", ""))
    cpu = usage.ru_utime + usage.ru_stime
    figures = {
        "rows": rows,
        "scoring_seconds": seconds,
        "rows_per_second": rate,
        "process_seconds": round(wall, 2),
        # the child's own CPU time and peak RSS: under Ray, the driver's only (its workers are Ray's processes)
        "process_cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "summary": stdout,
    }
    if found[4]:  # the scoring loop's rows per CPU second, as the run printed it (one process only)
        figures["scoring_rows_per_cpu_second"] = int(found[4].replace(",", ""))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--model-dir", help="a trained demo model (default: train one into a temporary folder)")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="catembed-scoring-") as tmp:
        work = Path(tmp)
        model_dir = args.model_dir
        if model_dir is None:
            subprocess.run(
                [str(CATEMBED), "train", "--demo", "--out", str(work / "models"), "--name", "flights"],
                check=True,
                capture_output=True,
            )
            model_dir = str(work / "models" / "flights")
        # generated in a child: Linux carries a parent's RSS at fork into a child's ru_maxrss, so this
        # process stays small (no tables, no pyarrow) for the children's peak RSS to be their own
        data = work / "data"
        code = f"from bench.scoring import generate; generate({str(data)!r}, {args.rows}, {args.shards})"
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        keep = ["--keep", "flight_id"]
        results: dict = {"rows": args.rows, "shards": args.shards, "cpus": os.cpu_count(), "load_average_before": os.getloadavg()}
        results["one_process_one_core"] = run(
            [model_dir, "--data", str(data), "--out", str(work / "one.parquet"), *keep], pin=True
        )
        if not args.skip_ray:
            ray_env = {"RAY_TMPDIR": str(work / "ray"), "HOME": str(work)}
            results["ray_two_workers"] = run(
                [model_dir, "--data", str(data), "--out", str(work / "ray.parquet"), *keep, "--workers", "2"], env=ray_env
            )
    for name, figures in results.items():
        if isinstance(figures, dict):
            print(
                f"{name}: {figures['rows_per_second']:,} rows/s scoring ({figures.get('scoring_rows_per_cpu_second', '-')} rows per CPU "
                f"second), {figures['process_seconds']} s process, peak RSS {figures['peak_rss_mb']} MB"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
