"""Which 2-D map to compute at training time: openTSNE, umap-learn or scikit-learn's t-SNE, timed on
a real learned 50,000-value embedding table.

``python -m bench.projection_methods`` trains bench.explorer's wide model (a 50,010-value ``item``
feature, 16 dimensions), takes its table, and runs each method in a child process of its own, so
the import (and umap's numba compilation) is counted and each peak RSS (``ru_maxrss``) is its
own. Quality: the share of each value's 10 nearest values by cosine (in the table) that are also
among its 10 nearest on the map, over 2,000 sampled values (1.0 = every neighbourhood kept).
Writes bench/results/projection_methods.json; docs/explorer.md has the table and the pick.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.explorer import RESULTS, train_wide_model

METHODS = ("opentsne", "umap", "sklearn_tsne")


def run_method(method: str, table_file: str, seed: int) -> dict[str, Any]:
    """In the child: import, fit, measure. Returns seconds for the import and the fit, and the map."""
    import resource

    table = np.load(table_file)
    started = time.perf_counter()
    if method == "opentsne":
        from training.export.projections import tsne

        imported = time.perf_counter()
        coords = tsne(table, seed)
    elif method == "umap":
        import umap

        imported = time.perf_counter()
        coords = umap.UMAP(n_components=2, metric="cosine", random_state=seed, n_jobs=1).fit_transform(table)
    else:
        from sklearn.manifold import TSNE

        imported = time.perf_counter()
        coords = TSNE(n_components=2, metric="cosine", init="pca", random_state=seed).fit_transform(table)
    done = time.perf_counter()
    np.save(table_file + f".{method}.npy", np.asarray(coords, dtype=np.float32))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "import_s": round(imported - started, 2),
        "fit_s": round(done - imported, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),  # import and fit: less sensitive to a busy machine than wall time
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / 100, 1)  # utime + stime, in clock ticks of 1/100 s


def kept_neighbours(table: np.ndarray, coords: np.ndarray, k: int = 10, sample: int = 2000, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(table), min(sample, len(table)), replace=False)
    unit = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
    kept = 0
    for i in picks:
        near_table = np.argsort(-(unit @ unit[i]))[1 : k + 1]
        near_map = np.argsort(((coords - coords[i]) ** 2).sum(axis=1))[1 : k + 1]
        kept += len(set(near_table) & set(near_map))
    return round(kept / (k * len(picks)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=50_010)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one method may take")
    parser.add_argument("--results", default="projection_methods.json", help="file name under bench/results")
    parser.add_argument("--table", type=Path, help="a saved table (.npy) instead of training the wide model")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "TABLE", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_method(args.child[0], args.child[1], int(args.child[2]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        if args.table:
            table = np.load(args.table)
        else:
            from features.artifacts import load_bundle

            bundle = load_bundle(train_wide_model(Path(tmp), args.values))
            table = bundle.graph.embeddings[bundle.encoder.categorical.index("item")]
            print(f"trained: {table.shape[0]:,} x {table.shape[1]} table in {time.perf_counter() - started:.0f} s", flush=True)
        table_file = str(Path(tmp) / "item.npy")
        np.save(table_file, table)
        results: dict[str, Any] = {"rows": int(table.shape[0]), "dimensions": int(table.shape[1])}
        for method in args.methods.split(","):
            load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            child = subprocess.Popen(
                [sys.executable, "-m", "bench.projection_methods", "--child", method, table_file, "0"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                stdout, stderr = child.communicate(timeout=args.timeout)
            except subprocess.TimeoutExpired:
                cpu = _cpu_seconds(child.pid)  # what it had used when stopped: a load-independent lower bound
                child.kill()
                child.communicate()
                results[method] = {
                    "error": f"did not finish within {args.timeout:.0f} s",
                    "cpu_s_at_stop": cpu,
                    "load_before": load,
                }
                print(method, results[method], flush=True)
                continue
            out = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
            if out.returncode != 0:
                results[method] = {"error": out.stderr[-500:]}
                continue
            found = json.loads(out.stdout.strip().splitlines()[-1])
            found["kept_neighbours_10"] = kept_neighbours(table, np.load(table_file + f".{method}.npy"))
            found["load_before"] = load
            results[method] = found
            print(method, found, flush=True)
    results["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    (RESULTS / args.results).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
