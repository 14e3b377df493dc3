"""``catembed export --format triton``: the checked ONNX model in a Triton model repository.

    <out>/<name>/config.pbtxt        the onnxruntime backend, every input and output typed
    <out>/<name>/<version>/model.onnx

The version folder is the bundle's version, as catembed's own v2 route numbers it, so several
versions can sit side by side. ``max_batch_size: 0``: the batch is the first dimension of every
tensor (``[-1]`` and ``[-1, k]``), exactly the shapes of the ONNX graph and of catembed's v2
metadata. A version folder that exists is never replaced; a config.pbtxt that exists must
describe the same tensors (a retrained model with other features goes under another name).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from features.errors import CatembedError
from training.export.onnx import Exported, export_model, load, write_atomically

_TYPES = {1: "TYPE_FP32", 8: "TYPE_STRING", 11: "TYPE_FP64"}  # onnx.TensorProto element types used here


def _quoted(text: str) -> str:
    """A protobuf text-format string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(name: str, exported: Exported) -> str:
    """config.pbtxt for Triton's onnxruntime backend (protobuf text format)."""
    graph = exported.model.graph
    return "\n".join(
        [
            f"name: {_quoted(name)}",
            'backend: "onnxruntime"',
            "max_batch_size: 0",
            _tensors("input", graph.input),
            _tensors("output", graph.output),
            "",
        ]
    )


def _tensors(kind: str, values: list) -> str:
    entries = []
    for value in values:
        tensor = value.type.tensor_type
        dims = ", ".join("-1" if d.dim_param else str(d.dim_value) for d in tensor.shape.dim)
        entries.append(
            f"  {{\n    name: {_quoted(value.name)}\n    data_type: {_TYPES[tensor.elem_type]}\n    dims: [ {dims} ]\n  }}"
        )
    return f"{kind} [\n" + ",\n".join(entries) + "\n]"


def export_triton(model_dir: Path, out: Path, version: int | None = None) -> tuple[Path, Exported]:
    """Write ``<out>/<name>/<version>/model.onnx`` and ``<out>/<name>/config.pbtxt``; returns the model's folder."""
    bundle = load(model_dir, version)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CatembedError(f"--out {out} is a file; give the model repository folder", field="out", value=str(out))
    model_folder, version_folder = out / bundle.name, out / bundle.name / str(bundle.version)
    if version_folder.exists():
        raise CatembedError(
            f"{version_folder} exists already; a version is never replaced", field="out", value=str(version_folder)
        )
    exported = export_model(bundle)
    config = config_text(bundle.name, exported)
    config_path = model_folder / "config.pbtxt"
    if config_path.is_file() and config_path.read_text() != config:
        raise CatembedError(
            f"{config_path} describes other inputs or outputs than {bundle.name} version {bundle.version}: "
            "export it under another --out, or remove that model first",
            field="out",
            value=str(config_path),
        )
    try:
        model_folder.mkdir(parents=True, exist_ok=True)
        tmp = model_folder / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            write_atomically(exported.model.SerializeToString(), tmp / "model.onnx")
            os.rename(tmp, version_folder)  # the version appears whole
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        write_atomically(config.encode(), config_path)
    except OSError as exc:
        raise CatembedError(f"could not write {model_folder}: {exc.strerror}", field="out", value=str(out)) from None
    return model_folder, exported
