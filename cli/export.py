"""``catembed export MODEL_DIR --format onnx|triton --out PATH``: a bundle for other runtimes.

The whole pipeline (encoders, network, ensembles, answers) as one ONNX graph, written only when
onnxruntime answers as the bundle's NumPy graph does (training/export/onnx.py); ``triton`` puts
it in a Triton model repository (training/export/triton.py). docs/onnx.md has the recipes.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def export_command(args: argparse.Namespace) -> int:
    if args.format == "triton":
        from training.export.triton import export_triton

        path, exported = export_triton(Path(args.model_dir), Path(args.out), args.version)
    else:
        from training.export.onnx import export_onnx

        path, exported = export_onnx(Path(args.model_dir), Path(args.out), args.version)
    worst = max(v for k, v in exported.differences.items() if k != "label_mismatches")
    print(path)
    print(
        f"checked in onnxruntime on {exported.rows:,} parity rows: largest difference from the NumPy graph {worst:.2g} (allowed 1e-05)"
    )
    return 0
