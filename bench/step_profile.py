"""Where a training step's time goes: full NYC flights, default network, under TF's profiler.

The trainer's own compiled network (``training.loop.fitting.compiled_model``, default settings,
batch 2,048) runs ``model.fit`` on the full flights rows for ``--steps`` steps after a warm-up,
under ``tf.profiler``. From the trace: each TensorFlow op's time on the compute threads, summed
per step into matmul, optimizer + weight average, the shrinkage penalty, dropout's random
numbers, the rest of the forward and of the backward pass, metrics; the time a step waits
for its batch; and the Python thread's time between compiled steps (Keras' loop, callbacks).
Also the dense layers' FLOPs per row (6 per weight: forward, and backward for inputs and
weights) and this machine's float32 matmul rate at those shapes (NumPy and TF), so the share of
the compute limit that training reaches is stated next to rows/s.

Run the same command on other code with ``PYTHONPATH=<checkout> python <this file>`` (a path,
not ``-m``, so that ``training`` comes from that checkout). Wall times on a shared machine are
noisy: the load average is recorded, and op times are the threads' busy time.

    nice -n 10 .venv/bin/python bench/step_profile.py [--steps 40] [--label after]
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "step_profile.json"
BATCH = 2048


def category(name: str) -> str:
    """An op event's share: ``scope/op:Kind`` names from the trace."""
    scope, _, kind = name.rpartition(":")
    low = scope.lower()
    if "metric" in low or "/auc" in low or "fit_loss" in low:
        return "metrics"
    if any(s in low for s in ("adam", "adagrad", "optimizer", "multi_optimizer")):
        return "optimizer + average"
    if "dropout" in low and "Random" in kind:
        return "dropout random numbers"
    if any(s in low for s in ("square", "deviation", "batch_penalty")) or scope.split("/")[-1].startswith(("Square", "Sum")):
        return "penalties"
    if "MatMul" in kind:
        return "matmul"
    return "backward, other" if "gradient_tape" in low else "forward, other"


def op_times(logdir: str, steps: int) -> dict:
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0]).read_bytes())
    plane = next(p for p in space.planes if p.name.startswith("/host:CPU"))
    names = plane.event_metadata
    shares: collections.Counter = collections.Counter()
    top: collections.Counter = collections.Counter()
    calls = 0.0
    for line in plane.lines:
        for event in line.events:
            name = names[event.metadata_id].name
            ms = event.duration_ps / 1e9
            if line.name.startswith("tf_Compute") and ":" in name.replace("::", ""):
                shares[category(name)] += ms / steps
                top[name.replace("StatefulPartitionedCall/", "")] += ms / steps
            elif name == "IteratorGetNextOp::DoCompute":  # a step waiting for its batch
                shares["waiting for the input pipeline"] += ms / steps
            elif name.startswith("EagerLocalExecute: __inference_") and "step_on_iterator" in name:  # the compiled step
                calls += ms
    return {
        "op_ms_per_step": {k: round(v, 2) for k, v in shares.most_common()},
        "top_ops_ms_per_step": {k: round(v, 2) for k, v in top.most_common(25)},
        "compiled_step_ms": calls / steps,
    }


def matmul_rates(shapes: list[tuple[int, int]]) -> dict:
    """GFLOP/s of float32 (BATCH × in) @ (in × out) at the network's shapes, best of 3 × 10."""
    import numpy as np
    import tensorflow as tf

    def rate(run, flops: float) -> float:
        run()
        best = min(_timed(run, 10) for _ in range(3))
        return flops / best / 1e9

    total = sum(2 * BATCH * i * o for i, o in shapes)
    a = [np.random.rand(BATCH, i).astype(np.float32) for i, _ in shapes]
    b = [np.random.rand(i, o).astype(np.float32) for i, o in shapes]
    ta, tb = [tf.constant(x) for x in a], [tf.constant(x) for x in b]
    fused = tf.function(lambda: [tf.matmul(x, y) for x, y in zip(ta, tb, strict=True)])
    return {
        "numpy_gflops": round(rate(lambda: [x @ y for x, y in zip(a, b, strict=True)], total), 1),
        "tensorflow_gflops": round(rate(lambda: [t.numpy() for t in fused()], total), 1),
    }


def _value(text: str) -> Any:
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _timed(run, repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - started) / repeats


def table(data: str | None, target: str) -> tuple[Any, Any]:
    """(the rows, their FeatureSpec): full flights, or a Parquet file or folder with its spec inferred."""
    from features.schema import FeatureSpec

    if data is None:
        from bench.training import CATEGORICAL, NUMERIC, flights

        return flights(), FeatureSpec("delayed", "binary", CATEGORICAL, NUMERIC)
    import pandas as pd

    from training.data.spec import resolve_spec

    frame = pd.read_parquet(data)
    return frame, resolve_spec(frame, target=target, log=lambda _: None)


def profile(steps: int, data: str | None = None, target: str = "y", settings: dict | None = None) -> dict:
    import keras
    import tensorflow as tf

    from features.target import LabelTarget, ScaledTarget
    from training.data.table_data import _dataset
    from training.data.training_data import unfitted_encoder
    from training.loop.auto import resolve_auto
    from training.loop.config import TrainConfig
    from training.loop.fitting import compiled_model, target_array

    frame, spec = table(data, target)
    task = spec.task or "regression"
    rows = int(len(frame) * 0.8)  # the trainer's training rows: the network and the average are sized on them
    config = resolve_auto(TrainConfig(**(settings or {})), task, rows)
    encoder = unfitted_encoder(spec, config.encoding)
    encoder.fit(frame)
    labels: LabelTarget | ScaledTarget
    if task == "regression":
        labels = ScaledTarget(config.encoding.target_scale).fit(frame[spec.target])
    else:
        labels = LabelTarget().fit(frame[spec.target])
    x, y = encoder.transform(frame).model_inputs(), target_array(labels, frame[spec.target], task, config)
    keras.utils.set_random_seed(0)
    model = compiled_model(encoder, spec, config, task, labels, rows, [])[0]
    batches = _dataset(x, y, BATCH, shuffle=True, seed=0).repeat()
    exchange = gradient_exchange(model, next(iter(batches)))
    model.fit(batches, steps_per_epoch=10, epochs=1, verbose=0)  # traced and warm
    with tempfile.TemporaryDirectory(prefix="catembed-profile-") as logdir:
        load, wall, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
        model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)  # unprofiled: the clean rates
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        tf.profiler.experimental.start(logdir)
        profiled = time.perf_counter()
        model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
        profiled = time.perf_counter() - profiled
        tf.profiler.experimental.stop()
        ops = op_times(logdir, steps)
    dense = [
        (int(layer.kernel.shape[0]), int(layer.kernel.shape[1]))
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense)
    ]
    flops = 6 * sum(i * o for i, o in dense)
    rates = matmul_rates(dense)
    rows_per_second = steps * BATCH / wall
    return {
        "parameters": model.count_params(),
        "dense_shapes": dense,
        "dense_flops_per_row": flops,
        "rows_per_second": round(rows_per_second),
        "rows_per_cpu_second": round(steps * BATCH / cpu),
        "ms_per_step": round(1000 * wall / steps, 2),
        "cpu_ms_per_step": round(1000 * cpu / steps, 2),
        "python_between_steps_ms": round(1000 * profiled / steps - ops.pop("compiled_step_ms"), 2),
        **ops,
        "matmul_rate": rates,
        "compute_limit_rows_per_second": round(rates["tensorflow_gflops"] * 1e9 / flops),
        "share_of_limit": round(rows_per_second * flops / (rates["tensorflow_gflops"] * 1e9), 3),
        "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
        "gradient_exchange": exchange,
    }


def gradient_exchange(model: Any, batch: Any, workers: int = 2) -> dict:
    """Bytes one worker sends per step under MultiWorkerMirroredStrategy with ``workers`` workers,
    from this network's own gradients of one batch: a dense gradient goes through a ring
    all-reduce (2·(W − 1)/W of its bytes), an ``IndexedSlices`` one (a table whose gradient the
    whole-table prior did not densify) through an all-gather of its values and indices
    (tensorflow/python/distribute/cross_device_ops.py, CollectiveAllReduce: IndexedSlices are
    all-gathered). One worker exchanges nothing."""
    import keras
    import tensorflow as tf

    x, y = batch
    with tf.GradientTape() as tape:
        output = model(x, training=True)
        loss = keras.ops.mean(keras.losses.get(model.loss)(y, output)) + sum(model.losses)
    dense = sliced = 0
    for gradient in tape.gradient(loss, model.trainable_variables):
        if isinstance(gradient, tf.IndexedSlices):
            sliced += gradient.values.numpy().nbytes + gradient.indices.numpy().nbytes
        elif gradient is not None:
            dense += gradient.numpy().nbytes
    ring = 2 * (workers - 1) / workers
    return {
        "workers": workers,
        "dense_gradient_bytes": dense,
        "sliced_gradient_bytes": sliced,
        # a ring all-gather passes on W − 1 workers' slices (this worker's own included), and receives as many
        "bytes_per_step": round(ring * dense + (workers - 1) * sliced),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--label", default="default")
    parser.add_argument("--data", help="a Parquet file or folder (default: full NYC flights)")
    parser.add_argument("--target", default="y", help="the target column of --data")
    parser.add_argument(
        "--threads", type=int, help="TensorFlow's op threads (1: CPU time is the work, not spinning threads; default: TF's)"
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a TrainConfig setting")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    settings = {name: _value(value) for name, value in (item.split("=", 1) for item in args.set)}
    if os.nice(0) < 10:
        os.nice(10 - os.nice(0))
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    result = {
        "code": os.environ.get("PYTHONPATH") or str(ROOT),
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "threads": args.threads,
        "settings": settings,
    }
    result |= {"data": args.data or "flights", **profile(args.steps, args.data, args.target, settings)}
    print(json.dumps(result, indent=1))
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results[args.label] = result
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    # run as a path: not this folder (its training.py would shadow the package), and bench.* from
    # PYTHONPATH's checkout first, else this one
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent] + [str(ROOT)]
    sys.exit(main())
