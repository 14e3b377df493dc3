"""What periodic numeric embeddings (PLR) cost to serve: the NumPy graph's time for one record
and for a 10,000-row batch, with and without them, on the demo table's shapes (NYC flights,
7 categorical and 4 numeric features).

``auto`` gives periodic embeddings only to tables under 20,000 training rows, so the demo
model itself (32,000) does not get them. This measures what a table of the demo's shape would
pay if it did: the networks are forced to ``--numeric-encoding plr`` and trained 2 epochs, since
time depends on the shapes, not on the fit. Default sizes (48 frequencies, 24 units per
feature), and a lighter 16 × 8 for comparison.

    python -m bench.periodic_cost        # → bench/results/periodic_cost.json
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.ensemble_cost import _time_ns

RESULTS = Path(__file__).parent / "results" / "periodic_cost.json"
VARIANTS: list[dict[str, Any]] = [
    {"numeric_encoding": "none"},
    {"numeric_encoding": "plr"},
    {"numeric_encoding": "plr", "plr_frequencies": 16, "plr_dims": 8},
]


def measure(variant: dict[str, Any], out: Path) -> dict[str, Any]:
    from features.artifacts import load_bundle
    from training.data.spec import load_spec
    from training.data.tables import DEMO_DATA, DEMO_HIDDEN, DEMO_SPEC, read_table
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    frame = read_table(DEMO_DATA)
    name = "_".join(str(v) for v in variant.values())
    config = TrainConfig(epochs=2, hidden_units=DEMO_HIDDEN, **variant)  # the demo's network, as `--demo` trains it
    run = train(frame, load_spec(DEMO_SPEC), config, name=name, out=out, log=lambda _: None, verbose=0)
    bundle = load_bundle(run.path.parent, int(run.path.name))
    batch = bundle.encoder.transform(frame.head(10_000))
    codes = [int(c[0]) for c in batch.categorical]
    row = batch.numeric[0] if batch.numeric is not None else None
    return {
        **variant,
        "parameters": run.manifest["model"]["parameters"],
        "one_record_us": round(_time_ns(lambda: bundle.graph.one(codes, row), 3000) / 1e3, 1),
        "batch_10k_ms": round(_time_ns(lambda: bundle.graph(batch.categorical, batch.numeric), 30) / 1e6, 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(variant, Path(tmp)) for variant in VARIANTS]
    for row in rows:
        print(json.dumps(row))
    RESULTS.write_text(json.dumps({"load_average": os.getloadavg(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
