"""``catembed export --format onnx``: a bundle as one ONNX graph, raw columns in, answers out.

The graph holds the whole pipeline the service runs: the encoding contract
(``training.export.onnx_encoding``), the network (``onnx_network``) and the answers the v2 route
gives (app/v2/codec.py): ``label`` (string) and ``probabilities`` (float32, columns in the order
of the labels), or ``value`` (double, in the target's own units); plus ``<feature>__embedding``
per categorical feature, the vectors ``GET /embeddings`` serves. Inputs: one 1-D tensor per
feature, named like it, strings for categories and doubles for numbers (docs/onnx.md).

Nothing is written unless onnxruntime's answers on the parity rows (``onnx_parity``) equal the
bundle's NumPy graph to 1e-5, the tolerance the NumPy graph itself is held to against Keras; the
file then appears by an atomic rename. Needs the ``onnx`` extra; never imports TensorFlow.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from features.artifacts import Bundle, load_bundle
from features.errors import CatembedError

EXTRA_HINT = "install the onnx extra: pip install 'catembed[onnx]'"


@dataclass
class Exported:
    model: Any  # onnx.ModelProto
    rows: int  # parity rows checked
    differences: dict[str, float]


def output_names(bundle: Bundle) -> list[str]:
    answers = ["value"] if bundle.manifest["task"] == "regression" else ["label", "probabilities"]
    return answers + [f"{name}__embedding" for name in bundle.encoder.categorical]


def build_model(bundle: Bundle) -> Any:
    """The bundle's pipeline as an onnx.ModelProto (not checked: see ``export_model``)."""
    from onnx import TensorProto

    from training.export.onnx_builder import GraphBuilder
    from training.export.onnx_encoding import categorical_codes, number_codes, numeric_inputs
    from training.export.onnx_network import gather_rows, network

    encoder, graph, task = bundle.encoder, bundle.graph, bundle.manifest["task"]
    categorical = list(encoder.categorical)
    builder = GraphBuilder()
    try:
        builder.reserve([*encoder.features, *output_names(bundle), "output"])
    except ValueError as exc:
        raise CatembedError(f"cannot export {bundle.path}: {exc}; ONNX needs every tensor name once", field="model_dir") from None
    both = set(encoder.numeric)  # a column in both lists is one double input, its numbers its categories
    codes = [
        (number_codes if name in both else categorical_codes)(builder, name, encoder.categorical_[name].vocabulary_)
        for name in categorical
    ]
    numeric = numeric_inputs(builder, encoder.numeric_) if encoder.numeric_ is not None else None
    rows = gather_rows(builder, graph, codes, categorical)
    output = network(builder, graph, rows, numeric)
    if task == "regression":
        first = builder.op("Gather", [output, builder.const([0], "first", np.int64)], axis=1)
        z = builder.op("Cast", [builder.op("Squeeze", [first, builder.const([1], "axis1", np.int64)])], to=TensorProto.DOUBLE)
        value = builder.op(
            "Add",
            [
                builder.op("Mul", [z, builder.const(bundle.target.scale_, "scale", np.float64)]),
                builder.const(bundle.target.mean_, "mean", np.float64),
            ],
        )
        if bundle.target.log_:  # expm1: the target was learned as log1p
            value = builder.op("Sub", [builder.op("Exp", [value]), builder.const(1.0, "one", np.float64)])
        builder.output(value, "value", TensorProto.DOUBLE, ["N"])
    else:
        labels = [str(label) for label in bundle.target.classes_]
        probabilities = output
        if len(labels) == 2 and _width(graph) == 1:  # a sigmoid head: P(first label) = 1 − p
            probabilities = builder.op(
                "Concat", [builder.op("Sub", [builder.const(np.float32(1), "one"), output]), output], axis=1
            )
        best = builder.op("ArgMax", [probabilities], axis=1, keepdims=0)
        builder.output(
            builder.op("Gather", [builder.const(np.asarray(labels, dtype=object), "labels"), best]),
            "label",
            TensorProto.STRING,
            ["N"],
        )
        builder.output(probabilities, "probabilities", TensorProto.FLOAT, ["N", len(labels)])
    served = rows  # an ensemble serves one d-wide vector per value, not the K members' side by side
    if graph.vectors is not graph.embeddings:
        served = [
            builder.op("Gather", [builder.const(table, f"{name}__served", np.float32), code], f"{name}__served_vector", axis=0)
            for table, code, name in zip(graph.vectors, codes, categorical, strict=True)
        ]
    for name, vectors, table in zip(categorical, served, graph.vectors, strict=True):
        builder.output(vectors, f"{name}__embedding", TensorProto.FLOAT, ["N", int(table.shape[1])])
    builder.output(output, "output", TensorProto.FLOAT, ["N", _width(graph)])
    doc = f"catembed {bundle.name} version {bundle.version} ({task}): raw columns in, answers out; docs/onnx.md"
    return builder.model(bundle.name, doc)


def _width(graph: Any) -> int:
    """Units of the network's output: the last kernel's (a member mean averages groups of them)."""
    return int(next(layer["kernel"].shape[-1] for layer in reversed(graph.layers) if "kernel" in layer))


def export_model(bundle: Bundle) -> Exported:
    """Build the model, run it in onnxruntime on the parity rows and compare with the NumPy graph;
    CatembedError when it does not match. The returned model has no ``output`` (the network's raw
    output, exposed only for the check)."""
    import onnx
    import onnxruntime

    from training.export.onnx_parity import TOLERANCE, differences, network_outputs, parity_rows

    model = build_model(bundle)
    onnx.checker.check_model(model, full_check=True)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rows = parity_rows(bundle)
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, rows.feeds), strict=True))
    found = differences(bundle, rows, network_outputs(bundle, rows), got)
    failed = {k: v for k, v in found.items() if (v > 0 if k == "label_mismatches" else not v <= TOLERANCE)}
    if failed:
        worst = ", ".join(f"{k} {v:.3g}" for k, v in failed.items())
        raise CatembedError(
            f"the ONNX graph of {bundle.path} does not answer as its NumPy graph on {rows.n_rows:,} parity rows "
            f"({worst}; allowed {TOLERANCE:g}): nothing was written",
            field="model_dir",
            value=str(bundle.path),
        )
    kept_outputs = [o for o in model.graph.output if o.name != "output"]
    kept_nodes = [n for n in model.graph.node if list(n.output) != ["output"]]  # its Identity
    del model.graph.output[:], model.graph.node[:]
    model.graph.output.extend(kept_outputs)
    model.graph.node.extend(kept_nodes)
    onnx.checker.check_model(model, full_check=True)
    return Exported(model, rows.n_rows, found)


def load(model_dir: Path, version: int | None) -> Bundle:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise CatembedError(f"catembed export needs onnx and onnxruntime: {EXTRA_HINT}", field="format") from None
    return load_bundle(Path(model_dir), version)


def write_atomically(data: bytes, path: Path) -> None:
    """``path`` gets ``data`` whole or keeps what it had: a temporary file in the same folder, renamed."""
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def export_onnx(model_dir: Path, out: Path, version: int | None = None) -> tuple[Path, Exported]:
    """``catembed export --format onnx``: the checked model written to ``out``."""
    out = Path(out)
    if out.is_dir():
        raise CatembedError(f"--out {out} is a folder; give the .onnx file to write", field="out", value=str(out))
    if not out.parent.is_dir():
        raise CatembedError(f"--out {out}: the folder {out.parent} does not exist", field="out", value=str(out))
    exported = export_model(load(model_dir, version))
    try:
        write_atomically(exported.model.SerializeToString(), out)
    except OSError as exc:
        raise CatembedError(f"could not write {out}: {exc.strerror}", field="out", value=str(out)) from None
    return out, exported
