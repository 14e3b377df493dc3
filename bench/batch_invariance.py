"""What batch invariance costs the NumPy graph, and whether it holds: one record (``graph.one``)
and a 10,000-row batch, on the demo's shapes (NYC flights, 7 categorical and 4 numeric features,
the 256-128 network), plain, with periodic embeddings, and as an ensemble of 3; and, for each,
how many of the first 200 rows get other bits alone than inside the 10,000-row batch, and inside
batches of 1,025 rows.

The networks are trained 2 epochs: time depends on the shapes, not on the fit. Run it once per
code version and BLAS kernel family with a label; the results file keeps one entry per label:

    python -m bench.batch_invariance --label after              # → bench/results/batch_invariance.json
    OPENBLAS_CORETYPE=Haswell python -m bench.batch_invariance --label after-haswell
    PYTHONPATH=<old checkout> python -m bench.batch_invariance --label before --models <folder>

``--models`` reuses bundles trained by an earlier run, so before and after time the same weights.
Times are the median of the calls' thread CPU time (``time.thread_time_ns``) with BLAS on one
thread, as the service and ``catembed predict`` run it: the machine is shared, and CPU time is
what a busy neighbour changes least. The load average is recorded beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results" / "batch_invariance.json"
VARIANTS: dict[str, dict[str, Any]] = {"plain": {}, "periodic": {"numeric_encoding": "plr"}, "ensemble3": {"ensemble": 3}}
ROWS = 10_000
CHECKED = 200


def _time_ns(call: Any, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.thread_time_ns()
        call()
        samples.append(time.thread_time_ns() - started)
    return float(statistics.median(samples))


def train_models(out: Path) -> dict[str, Path]:
    from training.data.spec import load_spec
    from training.data.tables import DEMO_DATA, DEMO_HIDDEN, DEMO_SPEC, read_table
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    frame = read_table(DEMO_DATA)
    paths = {}
    for name, variant in VARIANTS.items():
        config = TrainConfig(epochs=2, hidden_units=DEMO_HIDDEN, **variant)
        paths[name] = train(frame, load_spec(DEMO_SPEC), config, name=name, out=out, log=lambda _: None, verbose=0).path
    return paths


def measure(path: Path, repeats: int) -> dict[str, Any]:
    from features.artifacts import load_bundle
    from training.data.tables import DEMO_DATA, read_table

    bundle = load_bundle(path.parent, int(path.name))
    frame = read_table(DEMO_DATA).head(ROWS)
    batch = bundle.encoder.transform(frame)
    graph = bundle.graph
    whole = graph(batch.categorical, batch.numeric)
    alone = np.concatenate(
        [
            graph.one([int(c[i]) for c in batch.categorical], None if batch.numeric is None else batch.numeric[i])
            for i in range(CHECKED)
        ]
    )
    # the same rows in batches of 1,025, starting 3 rows in: other positions, other neighbours
    shifted = graph([c[3 : 3 + 1025] for c in batch.categorical], None if batch.numeric is None else batch.numeric[3 : 3 + 1025])
    codes = [int(c[0]) for c in batch.categorical]
    row = None if batch.numeric is None else batch.numeric[0]
    one_rows = ([c[:1] for c in batch.categorical], None if batch.numeric is None else batch.numeric[:1])
    return {
        "block_rows": getattr(graph, "block_rows", None),
        "one_record_us": round(_time_ns(lambda: graph.one(codes, row), 30 * repeats) / 1e3, 1),
        "one_row_batch_us": round(_time_ns(lambda: graph(*one_rows), 30 * repeats) / 1e3, 1),
        "batch_10k_ms": round(_time_ns(lambda: graph(batch.categorical, batch.numeric), repeats) / 1e6, 2),
        "rows_alone_differing": int((alone != whole[:CHECKED]).any(axis=1).sum()),
        "rows_in_1025_differing": int((shifted[: CHECKED - 3] != whole[3:CHECKED]).any(axis=1).sum()),
        "max_abs_difference": float(
            max(np.abs(alone - whole[:CHECKED]).max(), np.abs(shifted[: CHECKED - 3] - whole[3:CHECKED]).max())
        ),
    }


def blas_kernels() -> str:
    from threadpoolctl import threadpool_info

    return ",".join(str(lib.get("architecture")) for lib in threadpool_info() if lib.get("user_api") == "blas")


def measured_variants(models: Path | None, measure_one: Callable[[Path], Any]) -> dict[str, Any]:
    """``measure_one`` of each variant's bundle (the newest version under ``models``, else freshly
    trained), on one BLAS thread as the service runs, with the load average and the BLAS kernels."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    with tempfile.TemporaryDirectory() as tmp:
        if models is None:
            paths = train_models(Path(tmp))
        else:  # each variant's newest version
            paths = {
                name: max((models / name).iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1) for name in VARIANTS
            }
        rows = {name: measure_one(path) for name, path in paths.items()}
    return {"load_average": os.getloadavg(), "blas": blas_kernels(), "rows": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", required=True, help="the entry of the results file to write, e.g. before, after")
    parser.add_argument("--models", type=Path, help="a folder of bundles from an earlier run (plain/, periodic/, ensemble3/)")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls of the 10,000-row batch (one record: 30×)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    entry = measured_variants(args.models, lambda path: measure(path, args.repeats))
    print(json.dumps(entry, indent=2))
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results[args.label] = entry
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
