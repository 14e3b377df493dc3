"""Out-of-core training at scale: peak RSS of ``catembed train`` vs rows, and streaming vs in-memory speed.

1. The synthetic table of ``bench/scale_data.py`` (one 400,000-value Zipf categorical, three
   small ones, four numerics, a 0/1 target) at 1M, 4M and 16M rows, as Parquet shards of 1M rows
   in 128k-row groups, cached under ``~/.cache/catembed/scale`` (``--cache`` or
   ``CATEMBED_SCALE_CACHE``). ``catembed train --data <folder> --target y --epochs 1`` on each,
   under ``/usr/bin/time -v``: peak RSS, wall time, and from the bundle's manifest the rows/s of
   the epoch and the statistics pass's seconds. Target: peak RSS at 16M ≤ 1.25 × at 1M. Two
   series (``SERIES``): ``fixed_model`` caps the big feature's vocabulary so the same network
   trains at every size (the data path's memory alone), ``default`` runs with no options (the
   network grows with the vocabulary the data brings).
2. NYC flights trained from one file in memory and from the same rows streamed, in
   interleaved rounds (``bench/scale_flights.py``). Target: streaming rows/s within 10 %.

Every child runs under ``nice`` (this process renices itself to 10), and the 1-minute load
average is recorded before and after each run: the machine is shared. Results are merged into
``bench/results/scale.json`` (a partial run updates only its own sections).

    nice -n 10 .venv/bin/python -m bench.scale [--series fixed_model] [--sizes 1000000,16000000] [--skip-flights]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.measure import ROOT, parquet_rows, train

RESULTS = ROOT / "bench" / "results" / "scale.json"
SIZES = (1_000_000, 4_000_000, 16_000_000)
RSS_TARGET = 1.25


def ensure_table(cache: Path, rows: int) -> Path:
    """The cached synthetic table, generated in a child so this process stays small."""
    code = f"from bench.scale_data import cached; print(cached({str(cache)!r}, {rows}))"
    done = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True)
    return Path(done.stdout.strip().splitlines()[-1])


def bench_sizes(sizes: list[int], cache: Path, work: Path, extra: list[str], save: Callable[[dict], None]) -> dict:
    """One series: ``catembed train`` at each size with the same ``extra`` options. ``save`` gets
    the series after every run, so an interrupted bench keeps what it measured."""
    result: dict = {"train_options": extra, "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": {}}
    for rows in sizes:
        folder = ensure_table(cache, rows)
        figures = train(folder, work / f"scale-{rows}-{len(result['runs'])}", "scale", ["--target", "y", "--epochs", "1", *extra])
        result["runs"][str(rows)] = {"rows": parquet_rows(folder), "shards": len(list(folder.glob("*.parquet"))), **figures}
        print(_size_line(result["runs"][str(rows)]), flush=True)
        runs = result["runs"]
        if str(SIZES[0]) in runs and str(SIZES[-1]) in runs:
            ratio = runs[str(SIZES[-1])]["peak_rss_mb"] / runs[str(SIZES[0])]["peak_rss_mb"]
            result["rss_ratio_16m_to_1m"] = round(ratio, 3)
            result["rss_target_met"] = ratio <= RSS_TARGET
            print(f"peak RSS 16M / 1M = {ratio:.2f} (target ≤ {RSS_TARGET})", flush=True)
        save(result)
    return result


def _size_line(r: dict) -> str:
    stats = r["statistics_seconds"]
    return (
        f"{r['rows']:>11,} rows  peak RSS {r['peak_rss_mb']:7.0f} MB  wall {r['wall_seconds']:7.1f} s  "
        f"statistics {'-' if stats is None else f'{stats:.1f} s':>7}  fit {r['fit_seconds']:7.1f} s  "
        f"{r['rows_per_second']:>9,.0f} rows/s  {r['parameters']:>11,} parameters  load {r['load_average_before'][0]:.2f}→{r['load_average_after'][0]:.2f}"
    )


# The model grows with the data when the vocabulary does: every value seen 5 times gets a vector
# and the default width grows with the vocabulary. "fixed_model" caps the big feature at 10,000
# values (fewer than the 1M table already has), so the same network trains at every size and the
# RSS left to compare is the data path's; "default" is what a user gets with no options.
# At 16M rows the default network would have ~122M parameters: hours per epoch here, so that
# series stops at 4M unless --sizes asks for more.
SERIES = {"fixed_model": ["--max-categories", "10000"], "default": []}
DEFAULT_SIZES = {"fixed_model": SIZES, "default": SIZES[:2]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", help="comma-separated row counts for every series ('' to skip); default: per series")
    parser.add_argument("--series", default=",".join(SERIES), help=f"comma-separated, of {', '.join(SERIES)} ('' to skip)")
    parser.add_argument(
        "--cache", type=Path, default=Path(os.environ.get("CATEMBED_SCALE_CACHE", Path.home() / ".cache/catembed/scale"))
    )
    parser.add_argument("--flights-epochs", type=int, default=3)
    parser.add_argument("--flights-rounds", type=int, default=3, help="rounds of the in-memory vs streaming comparison")
    parser.add_argument("--skip-flights", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if os.nice(0) < 10:  # a bench on a shared machine: the others' work goes first
        os.nice(10 - os.nice(0))
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.update({"cpus": os.cpu_count(), "niceness": os.nice(0)})

    def save(section: str) -> Callable[[dict], None]:
        def write(value: dict) -> None:
            results.setdefault(section.split("/")[0], {})
            if "/" in section:
                results[section.split("/")[0]][section.split("/")[1]] = value
            else:
                results[section] = value
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")

        return write

    chosen = None if args.sizes is None else [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="catembed-scale-") as tmp:
        work = Path(tmp)
        for series in filter(None, args.series.split(",")):
            sizes = list(DEFAULT_SIZES[series]) if chosen is None else chosen
            if sizes:
                print(f"series {series}: catembed train {' '.join(SERIES[series])}", flush=True)
                bench_sizes(sizes, args.cache, work / series, SERIES[series], save(f"sizes/{series}"))
        if not args.skip_flights:
            from bench.scale_flights import bench_flights

            flights = bench_flights(work, args.flights_epochs, args.flights_rounds)
            save("flights")({"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **flights})
    return 0


if __name__ == "__main__":
    sys.exit(main())
