"""Streaming against in-memory training speed on NYC flights, for ``bench.scale``.

The full flights table (327,346 rows with an arrival delay, as ``bench.training`` loads it) is
written once as one Parquet file and once as a folder of 4 shards of the same rows. Each is
trained for the same ``--epochs`` with early stopping out of reach: the file in memory, the
folder streamed, and the file with ``--stream`` when the CLI has it. Rows/s per epoch is the
manifest's ``training.rows_per_second``. Target: streaming within 10 % of in-memory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.measure import CATEMBED, ROOT, train

SPEED_TARGET = 0.10
FLIGHTS_SHARDS = 4


def write_flights(work: Path) -> tuple[Path, Path]:
    """The full flights table as one Parquet file and as a folder of shards of the same rows."""
    code = (
        "import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq\n"
        "from bench.training import flights\n"
        "table = pa.Table.from_pandas(flights(), preserve_index=False)\n"
        f"pq.write_table(table, {str(work / 'flights.parquet')!r}, row_group_size=131_072)\n"
        f"folder = {str(work / 'flights_shards')!r}\n"
        "import os; os.makedirs(folder)\n"
        f"for k, part in enumerate(np.array_split(np.arange(table.num_rows), {FLIGHTS_SHARDS})):\n"
        "    pq.write_table(table.take(pa.array(part)), f'{folder}/part-{k:03d}.parquet', row_group_size=131_072)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return work / "flights.parquet", work / "flights_shards"


def bench_flights(work: Path, epochs: int, rounds: int) -> dict:
    """Each round trains every variant once, in an order rotated per round, so that a change in the
    machine's load falls on each of them alike; a variant's ratio to in-memory is per round (runs
    minutes apart), then the median over rounds."""
    import statistics

    from bench.training import CATEGORICAL, NUMERIC

    file, shards = write_flights(work)
    # --patience above --epochs: every run trains exactly `epochs` epochs, so rows/s compare like for like
    spec = ["--target", "delayed", "--categorical", ",".join(CATEGORICAL), "--numeric", ",".join(NUMERIC)]
    common = [*spec, "--epochs", str(epochs), "--patience", str(epochs + 1)]
    variants = {"in_memory_file": (file, common), "streaming_shards": (shards, common)}
    help_text = subprocess.run([str(CATEMBED), "train", "--help"], capture_output=True, text=True).stdout
    if "--stream" in help_text:
        variants["streaming_file"] = (file, [*common, "--stream"])
    names = list(variants)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for round_ in range(rounds):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            data, options = variants[name]
            r = train(data, work / f"flights-{name}-{round_}", "flights", options)
            runs[name].append(r)
            stats = r["statistics_seconds"]
            print(
                f"flights round {round_} {name:16s} {r['rows_per_second']:>9,.0f} rows/s  fit {r['fit_seconds']:6.1f} s  "
                f"statistics {'-' if stats is None else f'{stats:.1f} s'}  wall {r['wall_seconds']:6.1f} s  "
                f"peak RSS {r['peak_rss_mb']:6.0f} MB  load {r['load_average_before'][0]:.2f}→{r['load_average_after'][0]:.2f}",
                flush=True,
            )
    summary = {}
    for name in names:
        ratios = [r["rows_per_second"] / m["rows_per_second"] for r, m in zip(runs[name], runs["in_memory_file"], strict=True)]
        summary[name] = {
            "rows_per_second_median": statistics.median(r["rows_per_second"] for r in runs[name]),
            "relative_to_in_memory_median": round(statistics.median(ratios), 3),
            "relative_to_in_memory_per_round": [round(x, 3) for x in ratios],
            "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r in runs[name]),
        }
        print(
            f"flights {name:16s} median {summary[name]['rows_per_second_median']:>9,.0f} rows/s, {summary[name]['relative_to_in_memory_median']:.2f}× in-memory (per round {summary[name]['relative_to_in_memory_per_round']})"
        )
    streaming = [v["relative_to_in_memory_median"] for name, v in summary.items() if name.startswith("streaming")]
    return {
        "epochs": epochs,
        "rounds": rounds,
        "summary": summary,
        "runs": runs,
        "speed_target_met": all(x >= 1 - SPEED_TARGET for x in streaming),
    }
