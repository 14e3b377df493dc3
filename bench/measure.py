"""Running ``catembed`` as a child process and measuring it: wall time, peak RSS (GNU time's
``-v`` report, else ``ru_maxrss``) and the load around it, plus the figures of the bundle it
wrote. Shared by ``bench.scale``, ``bench.scale_flights`` and ``bench.stats_engines``."""

from __future__ import annotations

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
CATEMBED = Path(sys.executable).parent / "catembed"
GNU_TIME = Path("/usr/bin/time")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def parse_time_v(text: str) -> dict:
    """Peak RSS (MB), wall seconds and exit status from GNU time's ``-v`` report (the last one in
    ``text``: the command's own stderr comes first)."""
    rss = re.findall(r"Maximum resident set size \(kbytes\): (\d+)", text)
    wall = re.findall(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    status = re.findall(r"Exit status: (\d+)", text)
    if not (rss and wall):
        raise ValueError("no /usr/bin/time -v report in the text")
    seconds = 0.0
    for part in wall[-1].split(":"):  # h:mm:ss or m:ss.ss
        seconds = seconds * 60 + float(part)
    return {
        "peak_rss_mb": round(int(rss[-1]) / 1024, 1),
        "wall_seconds": round(seconds, 2),
        "exit_status": int(status[-1]) if status else None,
    }


def measure(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> dict:
    """Run ``command`` to the end: its stdout, wall seconds and peak RSS, with the load around it.

    Under ``/usr/bin/time -v`` when it exists; otherwise the child's own ``ru_maxrss`` from
    ``os.wait4`` (the same kernel figure GNU time prints).
    """
    timed = shutil.which(str(GNU_TIME)) is not None
    full = [str(GNU_TIME), "-v", *command] if timed else command
    before = load_average()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(full, stdout=out, stderr=err, cwd=cwd, env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({code}):\n{stdout[-2000:]}\n{stderr[-4000:]}")
    if timed:
        figures = parse_time_v(stderr)
    else:
        figures = {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "wall_seconds": round(wall, 2), "exit_status": code}
    figures["rss_source"] = "/usr/bin/time -v" if timed else "os.wait4 ru_maxrss"
    figures["load_average_before"], figures["load_average_after"] = before, load_average()
    figures["stdout"] = stdout
    return figures


def parquet_rows(folder: Path) -> int:
    """Rows of a folder of Parquet shards, from their footers."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(Path(folder).glob("*.parquet")))


def manifest_figures(out: Path, name: str) -> dict:
    """The training figures of the newest bundle ``<out>/<name>/<version>/manifest.json``."""
    versions = sorted((p for p in (out / name).iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    manifest = json.loads((versions[-1] / "manifest.json").read_text())
    training = manifest["training"]
    return {
        "train_rows": training["rows"],
        "epochs_run": training.get("epochs_run"),
        "rows_per_second": training["rows_per_second"],
        "fit_seconds": training["fit_seconds"],
        "statistics_seconds": training.get("statistics_seconds"),  # the streaming pass 1 only
        "batch_size": training.get("batch_size"),
        "parameters": manifest["model"]["parameters"],
        # per categorical: values with their own vector and the embedding width (the model's size)
        "vocabulary": {
            f["name"]: [f["vocabulary_size"], f["embedding_dim"]] for f in manifest["features"] if f["kind"] == "categorical"
        },
        "holdout": manifest.get("metrics", {}).get("holdout"),
    }


def train(data: Path | str, out: Path, name: str, extra: list[str]) -> dict:
    figures = measure([str(CATEMBED), "train", "--data", str(data), "--name", name, "--out", str(out), *extra], cwd=ROOT)
    stdout = figures.pop("stdout")
    return {**figures, **manifest_figures(out, name), "log_tail": stdout.strip().splitlines()[-3:]}
