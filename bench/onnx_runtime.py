"""onnxruntime running ``catembed export``'s graph vs the service's NumPy path, for one record and
10,000 rows of the demo table (NYC flights: 7 categorical and 4 numeric features, the 256-128
network), plain, with periodic embeddings, and as an ensemble of 3.

Both sides start from raw columns and end with the answers: onnxruntime gets strings and doubles
(the ONNX inputs); the NumPy side is the service's ``TabularEncoder.transform`` + the NumPy graph
+ the target's probabilities (and, apart, the graph alone on encoded inputs); for one clean record also the service's own
single-record path (``features.one_row`` + ``InferenceGraph.one``). onnxruntime runs
with one intra-op thread and the NumPy side with BLAS on one thread, as the service runs; times
are the median of the calls' thread CPU time (the machine is shared; the load average is kept).

    python -m bench.onnx_runtime                   # → bench/results/onnx_runtime.json
    python -m bench.onnx_runtime --models <folder> # bundles of bench.batch_invariance's variants
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.batch_invariance import ROWS, _time_ns, measured_variants

RESULTS = Path(__file__).parent / "results" / "onnx_runtime.json"


def measure(path: Path, repeats: int) -> dict[str, Any]:
    import onnxruntime

    from features.artifacts import load_bundle
    from features.canonical import canonical
    from training.data.tables import DEMO_DATA, read_table
    from training.export.onnx import export_model

    bundle = load_bundle(path.parent, int(path.name))
    exported = export_model(bundle)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(exported.model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    frame = read_table(DEMO_DATA).head(ROWS)
    encoder, graph, target = bundle.encoder, bundle.graph, bundle.target
    answers = ["probabilities"] if "probabilities" in [o.name for o in session.get_outputs()] else ["value"]

    def feeds(rows: Any) -> dict[str, np.ndarray]:
        out = {
            name: np.asarray(["" if (c := canonical(v)) is None else c for v in rows[name].tolist()], dtype=object)
            for name in encoder.categorical
        }
        out.update({name: rows[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in encoder.numeric})
        return out

    def numpy_path(columns: dict[str, list[Any]]) -> np.ndarray:
        batch = encoder.transform(columns)
        output = graph(batch.categorical, batch.numeric)
        return target.probabilities(output) if hasattr(target, "classes_") else target.values(output)

    result: dict[str, Any] = {"parity_rows": exported.rows, "largest_difference": max(exported.differences.values())}
    # the service's single-record path: a clean record, as /predict takes it (features.one_row)
    fast = encoder.one_row(1_000)
    clean = frame.dropna().head(1)
    record = {name: value.item() if hasattr(value, "item") else value for name, value in clean.iloc[0][encoder.features].items()}

    def service_one() -> Any:
        codes, numeric, _ = fast.encode(record)
        return (
            target.probabilities(graph.one(codes, numeric))
            if hasattr(target, "classes_")
            else target.values(graph.one(codes, numeric))
        )

    assert fast.encode(record) is not None, "the record must take the service's fast path"
    clean_inputs = feeds(clean)
    result["one_clean_record_onnxruntime_us"] = round(_time_ns(lambda: session.run(answers, clean_inputs), 30 * repeats) / 1e3, 2)
    result["one_clean_record_service_path_us"] = round(_time_ns(service_one, 30 * repeats) / 1e3, 2)
    for label, rows, calls in (("one", frame.head(1), 30 * repeats), ("10k", frame, repeats)):
        inputs = feeds(rows)
        columns = {name: rows[name].tolist() for name in encoder.features}
        encoded = encoder.transform(columns)
        onnx_answer = session.run(answers, inputs)[0]
        numpy_answer = numpy_path(columns)
        result[f"{label}_agree_max_abs"] = float(np.abs(onnx_answer.reshape(numpy_answer.shape) - numpy_answer).max())
        scale = 1e3 if label == "one" else 1e6
        result[f"{label}_onnxruntime"] = round(_time_ns(lambda inputs=inputs: session.run(answers, inputs), calls) / scale, 2)
        result[f"{label}_numpy_encoder_and_graph"] = round(
            _time_ns(lambda columns=columns: numpy_path(columns), calls) / scale, 2
        )
        result[f"{label}_numpy_graph_alone"] = round(
            _time_ns(lambda e=encoded: graph(e.categorical, e.numeric), calls) / scale, 2
        )
    result["units"] = {"one": "µs", "10k": "ms"}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, help="a folder of bundles from an earlier run (plain/, periodic/, ensemble3/)")
    parser.add_argument("--repeats", type=int, default=30, help="timed 10,000-row calls (one record: 30×)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    entry = measured_variants(args.models, lambda path: measure(path, args.repeats))
    print(json.dumps(entry, indent=2))
    args.out.write_text(json.dumps(entry, indent=2) + "\n")


if __name__ == "__main__":
    main()
