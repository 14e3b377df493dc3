"""What an ensemble of K networks costs to serve: the NumPy graph's time for one record and for
a 10,000-row batch, K = 1, 3, 5 networks trained apart (``--ensemble``) and K = 4, 8 members of
a batch ensemble (``--batch-ensemble``), on the demo model (NYC flights, 7 categorical features),
with the demo's 256-128 network; and 1 and 5 networks of 512-256, which tables from 20,000
training rows get by default (training.loop.auto.auto_hidden_units): five of those are what a
regression table of 20,000–100,000 training rows serves.

The networks are trained for 3 epochs only: time depends on the shapes, not on the fit. The
graph is what POST /predict and the v2 route run after decoding and encoding, which K does not
change; so the HTTP figures of docs/performance.md grow by these differences and no more.

    python -m bench.ensemble_cost        # → bench/results/ensemble_cost.json
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "ensemble_cost.json"


def _time_ns(call, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples)


def measure(members: int, out: Path, kind: str = "ensemble", hidden: tuple[int, ...] | None = None) -> dict[str, object]:
    """hidden: None is the demo's network, as `catembed train --demo` builds it."""
    from features.artifacts import load_bundle
    from training.data.spec import load_spec
    from training.data.tables import DEMO_DATA, DEMO_HIDDEN, DEMO_SPEC, read_table
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    frame = read_table(DEMO_DATA)
    spec = load_spec(DEMO_SPEC)
    hidden = hidden or DEMO_HIDDEN
    config = TrainConfig(epochs=3, hidden_units=hidden, **{kind: members})
    run = train(frame, spec, config, name=f"{kind}{members}-{hidden[0]}", out=out, log=lambda _: None, verbose=0)
    bundle = load_bundle(run.path.parent, int(run.path.name))
    batch = bundle.encoder.transform(frame.head(10_000))
    codes = [int(c[0]) for c in batch.categorical]
    row = batch.numeric[0] if batch.numeric is not None else None
    return {
        "kind": kind,
        "members": members,
        "hidden": list(hidden),
        "parameters": run.manifest["model"]["parameters"],
        "one_record_us": round(_time_ns(lambda: bundle.graph.one(codes, row), 3000) / 1e3, 1),
        "batch_10k_ms": round(_time_ns(lambda: bundle.graph(batch.categorical, batch.numeric), 30) / 1e6, 2),
        "train_seconds": run.manifest["training"]["fit_seconds"],
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(k, Path(tmp)) for k in (1, 3, 5)]
        rows += [measure(k, Path(tmp), "batch_ensemble") for k in (4, 8)]
        rows += [measure(k, Path(tmp), hidden=(512, 256)) for k in (1, 5)]
    for row in rows:
        print(json.dumps(row))
    RESULTS.write_text(json.dumps({"load_average": os.getloadavg(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
