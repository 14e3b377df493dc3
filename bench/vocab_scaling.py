"""Training cost against the vocabulary: one Zipf ID of 1k, 10k, 100k and 1M values in 4M rows.

``catembed train --data <folder> --target y --epochs 1`` with default settings on the table of
``bench/vocab_data.py`` at each ID size, each run a child under ``/usr/bin/time -v`` (peak RSS)
with the 1-minute load average before and after; rows/s, parameters and the vocabulary come
from the bundle's manifest. Targets (issue 26): rows/s at 1M values ≥ 0.7 × rows/s at 1k
values, and peak RSS at 1M values ≤ 2 GB.

Runs under a ``--label`` (``default`` unless given) so that the same command on other code
(``PYTHONPATH=<another checkout>``: the ``catembed`` children import from there) or with other
``--option`` flags lands next to it in ``bench/results/vocab_scaling.json``; ``--rounds`` repeats
the sizes in a rotated order so that the machine's load falls on each alike.

    nice -n 10 .venv/bin/python -m bench.vocab_scaling [--values 1000,1000000] [--rows 4000000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.scale import ROOT, train

RESULTS = ROOT / "bench" / "results" / "vocab_scaling.json"
VALUES = (1_000, 10_000, 100_000, 1_000_000)
SPEED_TARGET, RSS_TARGET_MB = 0.7, 2048


def code_version() -> str:
    """The commit (and dirty flag) of the code the ``catembed`` children import."""
    root = Path(os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or ROOT)
    head = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return f"{root}@{head.stdout.strip() or 'unknown'}"


def table(cache: Path, rows: int, values: int) -> Path:
    code = f"from bench.vocab_data import cached; print(cached({str(cache)!r}, {rows}, {values}))"
    done = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True)
    return Path(done.stdout.strip().splitlines()[-1])


def summary(runs: dict[str, list[dict]]) -> dict:
    """Medians per size, and the two targets where both ends were run."""
    medians = {
        size: {
            "rows_per_second": statistics.median(r["rows_per_second"] for r in group),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in group),
        }
        for size, group in runs.items()
    }
    result: dict = {"medians": medians}
    low, high = str(VALUES[0]), str(VALUES[-1])
    if low in medians and high in medians:
        ratio = medians[high]["rows_per_second"] / medians[low]["rows_per_second"]
        result |= {
            "speed_ratio_1m_to_1k": round(ratio, 3),
            "speed_target_met": ratio >= SPEED_TARGET,
            "rss_target_met": medians[high]["peak_rss_mb"] <= RSS_TARGET_MB,
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--values", default=",".join(map(str, VALUES)), help="comma-separated ID sizes")
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--label", default="default")
    parser.add_argument("--option", action="append", default=[], help="an extra catembed train argument (repeatable)")
    parser.add_argument(
        "--cache", type=Path, default=Path(os.environ.get("CATEMBED_VOCAB_CACHE", Path.home() / ".cache/catembed/vocab"))
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if os.nice(0) < 10:  # a bench on a shared machine: the others' work goes first
        os.nice(10 - os.nice(0))
    sizes = [int(v) for v in args.values.split(",") if v]
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    entry: dict = {
        "code": code_version(),
        "rows": args.rows,
        "epochs": args.epochs,
        "train_options": args.option,
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "runs": {},
    }
    for round_ in range(args.rounds):
        for values in sizes[round_ % len(sizes) :] + sizes[: round_ % len(sizes)]:
            folder = table(args.cache, args.rows, values)
            with tempfile.TemporaryDirectory(prefix="catembed-vocab-") as out:
                figures = train(folder, Path(out), "vocab", ["--target", "y", "--epochs", str(args.epochs), *args.option])
            entry["runs"].setdefault(str(values), []).append(figures)
            print(
                f"{args.label} {values:>9,} values: {figures['rows_per_second']:>9,.0f} rows/s  peak RSS {figures['peak_rss_mb']:7.0f} MB  "
                f"fit {figures['fit_seconds']:7.1f} s  {figures['parameters']:>11,} parameters  vocabulary {figures['vocabulary']['id']}  "
                f"load {figures['load_average_before'][0]:.2f}→{figures['load_average_after'][0]:.2f}",
                flush=True,
            )
            entry |= summary(entry["runs"])
            results[args.label] = entry
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")
    for key in ("speed_ratio_1m_to_1k", "speed_target_met", "rss_target_met"):
        if key in entry:
            print(f"{key}: {entry[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
