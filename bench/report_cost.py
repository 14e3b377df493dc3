"""What the training report costs: the time ``write_report`` takes on a trained bundle.

Rebuilds exactly what the trainer hands to ``write_report`` (the holdout split, the holdout
predictions) from a bundle trained with ``catembed train --demo``, then writes its report a few
times, timing wall and CPU seconds. The first Matplotlib import is timed on its own: a training
run pays it once.

    python -m bench.report_cost model_artifacts/flights [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    import matplotlib.pyplot  # noqa: F401

    print(f"import matplotlib.pyplot: {time.perf_counter() - started:.2f} s")

    from features.artifacts import load_bundle
    from training.data.spec import load_spec
    from training.data.split import stratified_holdout
    from training.data.table_data import usable_rows
    from training.data.tables import read_table
    from training.export.report import write_report
    from training.model.saved import load_keras_model

    bundle = load_bundle(args.model_dir)
    spec = load_spec(str(bundle.path / "spec.yaml"))
    settings = bundle.manifest["training"]["config"]
    frame = usable_rows(read_table(bundle.manifest["training"]["source"]), spec, lambda _: None)
    labels = frame[spec.target] if spec.task != "regression" else None
    held = stratified_holdout(len(frame), settings["valid_fraction"], settings["seed"], labels)[1]
    valid = frame.iloc[held].reset_index(drop=True)
    model = load_keras_model(bundle.path / "model.keras")
    output = np.asarray(model.predict(bundle.encoder.transform(valid).model_inputs(), batch_size=4096, verbose=0))
    for run in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            wall, cpu = time.perf_counter(), time.process_time()
            write_report(
                Path(folder),
                bundle.name,
                bundle.manifest,
                spec,
                bundle.encoder,
                bundle.graph.embeddings,
                bundle.target,
                valid[spec.target],
                output,
            )
            size = (Path(folder) / "report.html").stat().st_size
        print(
            f"write_report #{run + 1}: {time.perf_counter() - wall:.2f} s wall, {time.process_time() - cpu:.2f} s CPU, {size / 1024:.0f} KiB"
        )


if __name__ == "__main__":
    main()
