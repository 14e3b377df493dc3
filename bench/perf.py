"""One command for every performance figure of the README: ``python -m bench.perf``.

Runs, in one process tree and one sitting: single-record latency (floor, catembed, naive Keras),
throughput at 16 and 64 connections with 1 and 2 workers, a 10,000-record batch split by stage,
the service footprint, and training on the full NYC flights table. Writes bench/results/perf.json
and prints the Markdown table. ``--quick`` shrinks everything to seconds (the smoke test uses it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from bench import batch, footprint, formats, latency, report, server, throughput, training


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _demo_bundle(workdir: Path) -> Path:
    """Train the demo model (the README's `make demo`) into workdir; returns the version folder."""
    out = workdir / "artifacts"
    subprocess.run(
        [sys.executable, "-m", "cli.main", "train", "--demo", "--out", str(out), "--name", "flights"],
        cwd=server.ROOT,
        check=True,
        capture_output=True,
    )
    return out / "flights" / "1"


def _throughput(port: int, record: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    body = orjson.dumps(record)
    results = []
    for connections in args.connections:
        for path in ("/predict", "/_floor"):
            results.append({"path": path, **throughput.run(port, path, body, connections=connections, seconds=args.seconds)})
    return results


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "environment": {
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "load_start": _load(),
            "python": platform.python_version(),
            "command": "python -m bench.perf " + shlex.join(sys.argv[1:]),
        }
    }
    with tempfile.TemporaryDirectory(prefix="catembed-bench-") as tmp:
        work = Path(tmp)
        bundle = Path(args.bundle) if args.bundle else _demo_bundle(work)
        results["bundle"] = str(bundle)
        record = json.loads((bundle / "manifest.json").read_text())["example"]

        one = server.catembed(bundle.parent, work / "catembed.log")
        try:
            results["footprint"] = footprint.measure(one)
            naive = server.naive(bundle, work / "naive.log") if args.naive_requests else None
            bare = server.bare(work / "bare.log")
            try:
                results["latency"] = latency.run(
                    one.port,
                    record,
                    requests=args.requests,
                    naive_port=naive.port if naive else None,
                    naive_requests=args.naive_requests,
                    bare_port=bare.port,
                )
                if naive:
                    results["latency"]["naive_rss_mb"] = round(server.rss_mb(naive.pid), 1)
                    results["latency"]["naive_cold_start_s"] = round(naive.cold_start_s, 2)
            finally:
                bare.stop()
                if naive:
                    naive.stop()
            results["throughput"] = {"workers_1": _throughput(one.port, record, args)}
            records = batch.demo_records(record, args.batch)
            results["batch"] = batch.run(one.port, bundle, records, repeats=args.batch_repeats)
            manifest = json.loads((bundle / "manifest.json").read_text())
            results["batch_formats"] = formats.run(one.port, bundle.parent.name, manifest, records, repeats=args.batch_repeats)
            results["footprint"]["rss_after_traffic_mb"] = round(server.rss_mb(one.pid), 1)
        finally:
            one.stop()

        two = server.catembed(bundle.parent, work / "catembed2.log", workers=2)
        try:
            results["throughput"]["workers_2"] = _throughput(two.port, record, args)
            results["throughput"]["workers_2_rss_mb"] = round(server.tree_rss_mb(two.pid), 1)
        finally:
            two.stop()

        starts = [
            results["footprint"]["cold_start_to_ready_s"],
            *footprint.cold_starts(bundle.parent, work / "cold.log", args.cold_starts),
        ]
        results["footprint"]["cold_starts_s"] = starts
        results["footprint"]["cold_start_median_s"] = round(statistics.median(starts), 3)

    if not args.skip_training:
        results["training"] = training.run(
            sample=args.train_sample, batch_size=args.train_batch_size, learning_rate=args.train_learning_rate
        )
        if args.train_seed_architecture:  # the write-up's smaller network, to show what limits rows/s
            results["training_seed_architecture"] = training.run(
                sample=args.train_sample, batch_size=args.train_batch_size, learning_rate=args.train_learning_rate, preset="seed"
            )
    results["environment"]["load_end"] = _load()
    results["environment"]["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return results


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__)
    p.add_argument("--bundle", help="a bundle version folder (default: train the demo model first)")
    p.add_argument("--requests", type=int, default=2000, help="sequential /predict and /_floor requests each")
    p.add_argument("--naive-requests", type=int, default=200, help="requests to the naive Keras path (0: skip it)")
    p.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    p.add_argument("--seconds", type=int, default=10, help="duration of each throughput run")
    p.add_argument("--batch", type=int, default=10_000, help="records in the batch request")
    p.add_argument("--batch-repeats", type=int, default=20)
    p.add_argument("--cold-starts", type=int, default=3, help="extra fresh processes timed to /ready")
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--train-sample", type=int, help="train on a sample of the flights rows (default: all)")
    p.add_argument("--train-batch-size", type=int, default=training.BATCH_SIZE, help="default: the trainer's auto size")
    p.add_argument("--train-learning-rate", type=float, default=training.LEARNING_RATE)
    p.add_argument(
        "--no-seed-architecture", dest="train_seed_architecture", action="store_false", help="skip the second, seed-network run"
    )
    p.add_argument("--out", default=str(server.ROOT / "bench" / "results" / "perf.json"))
    p.add_argument("--quick", action="store_true", help="seconds-long settings: shows the harness works, measures nothing")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.quick:
        args.requests, args.naive_requests, args.connections, args.seconds = 40, 3, [4], 1
        args.batch, args.batch_repeats, args.cold_starts = 200, 2, 0
    results = run(args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(report.table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
