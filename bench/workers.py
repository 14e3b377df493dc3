"""1 vs 2 training workers on this machine: one process, two TF_CONFIG processes, ``--workers 2`` on Ray.

The data is generated here: Parquet shards with one categorical of 20,000 values, two small
ones, three numerics and a binary target that depends on all of them. Every run trains the same
fixed number of epochs (early stopping off) with the same global batch. Reported per run: wall
time of the whole command (start-up included), the manifest's fit seconds and rows/s, and the
peak memory of the whole process tree, summed as PSS (shared library pages counted once across
processes, so TensorFlow loaded in three processes is not counted three times), sampled every
0.2 s from /proc. The load average is printed next to every run: the machine is shared.

    nice -n 10 .venv/bin/python -m bench.workers --rows 400000 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

CATEMBED = str(Path(sys.executable).parent / "catembed")


def make_shards(folder: Path, rows: int, shards: int, seed: int = 0, users: int = 20_000, flat: bool = False) -> None:
    """flat: every user equally frequent, so all of them get a vector (a big, dense-gradient table);
    else a Zipf tail, where most users are rarer than min_frequency and share the unknown vector."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    user = rng.integers(0, users, rows) if flat else np.minimum(rng.zipf(1.3, rows), users) - 1
    user_effect = rng.normal(0, 1, users)
    store, day = rng.integers(0, 50, rows), rng.integers(0, 7, rows)
    x = rng.normal(0, 1, (rows, 3))
    score = user_effect[user] + 0.3 * (store % 5) - 0.2 * day + x @ np.array([1.0, -0.5, 0.25])
    frame = pd.DataFrame(
        {
            "user": [f"u{u}" for u in user],
            "store": [f"s{s}" for s in store],
            "day": day,
            "x0": x[:, 0],
            "x1": x[:, 1],
            "x2": x[:, 2],
            "label": np.where(score + rng.logistic(0, 1, rows) > 0, "yes", "no"),
        }
    )
    folder.mkdir(parents=True)
    for i, part in enumerate(np.array_split(np.arange(rows), shards)):
        frame.iloc[part].to_parquet(folder / f"part-{i:03d}.parquet", row_group_size=50_000)


def tree_pss_kb(root: int) -> int:
    """PSS of ``root`` and all its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(parents.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def run(commands: list[tuple[list[str], dict[str, str]]]) -> dict[str, Any]:
    """Start the commands together; wall time until all have ended, peak PSS of all their trees."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cmd, env in commands
    ]
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, sum(tree_pss_kb(p.pid) for p in processes))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    outputs = [p.communicate() for p in processes]
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    for p, (_, err) in zip(processes, outputs, strict=True):
        if p.returncode:
            raise SystemExit(f"{' '.join(commands[0][0][:3])} failed ({p.returncode}):\n{err[-3000:]}")
    return {"wall_s": round(wall, 1), "peak_pss_mb": round(peak / 1024), "load_1min": round(load, 2)}


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def manifest(out: Path) -> dict[str, Any]:
    """The manifest's figures, and what the gradient all-reduce carries per step (docs/distributed.md):
    a shrunk table's gradient is dense (vocabulary × dim × 4 bytes), a plain table's is the batch's rows."""
    found = json.loads(next(out.glob("*/1/manifest.json")).read_text())
    training, tables = found["training"], [f for f in found["features"] if f["kind"] == "categorical"]
    dense = sum(f["table_rows"] * f["embedding_dim"] * 4 for f in tables if f["shrinkage"])
    return {
        "fit_s": training["fit_seconds"],
        "rows_per_s": training["rows_per_second"],
        "epochs": training["epochs_run"],
        "steps_per_epoch": -(-training["rows"]["train"] // training["batch_size"]),
        "dense_table_gradient_mb": round(dense / 1e6, 1),
        "tables": {f["name"]: [f["vocabulary_size"], f["embedding_dim"], bool(f["shrinkage"])] for f in tables},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--flat", action="store_true", help="uniform users: every one gets its own (dense-gradient) vector")
    parser.add_argument("--out", default="bench/results/workers.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-workers-", dir="/tmp"))
    try:
        data = work / "data"
        make_shards(data, args.rows, shards=8, users=args.users, flat=args.flat)
        train = [CATEMBED, "train", "--data", str(data), "--target", "label", "--name", "bench"]
        train += ["--epochs", str(args.epochs), "--patience", str(args.epochs + 1), "--batch-size", "2048", "--seed", "0"]
        env = dict(os.environ)
        env.pop("RAY_ADDRESS", None)
        results: dict[str, Any] = {"rows": args.rows, "epochs": args.epochs, "users": args.users, "flat": args.flat}
        results["cpus"] = os.cpu_count()

        out = work / "one"
        results["1 process"] = {**run([([*train, "--out", str(out)], env)]), **manifest(out)}
        print(results["1 process"], flush=True)

        out, hosts = work / "tf_config", [f"127.0.0.1:{p}" for p in free_ports(2)]
        pair = [
            (
                [*train, "--out", str(out)],
                {**env, "TF_CONFIG": json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}})},
            )
            for i in range(2)
        ]
        results["2 TF_CONFIG processes"] = {**run(pair), **manifest(out)}
        print(results["2 TF_CONFIG processes"], flush=True)

        out, ray_home = work / "ray", Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths
        ray_env = {**env, "RAY_TMPDIR": str(ray_home), "HOME": str(ray_home)}
        results["--workers 2 (Ray)"] = {**run([([*train, "--out", str(out), "--workers", "2"], ray_env)]), **manifest(out)}
        print(results["--workers 2 (Ray)"], flush=True)
        shutil.rmtree(ray_home, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
