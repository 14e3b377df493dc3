"""A model folder with several versions of one trained model: copies, the last with one value moved."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from features.artifacts import sha256_of


def versions_with_a_moved_value(folder: Path, run, count: int, feature: str = "city", position: int = 2) -> str:
    """Versions 1..count of ``run`` in ``folder``; in the last, the vector of the feature's value at
    vocabulary ``position`` is turned and pushed away (graph.npz rewritten, its checksum updated).
    Returns that value."""
    for v in range(1, count + 1):
        shutil.copytree(run.path, folder / str(v))
    path = folder / str(count)
    manifest = json.loads((path / "manifest.json").read_text())
    index = [f["name"] for f in manifest["features"] if f["kind"] == "categorical"].index(feature)
    with np.load(path / "graph.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    table = arrays[f"embedding_{index}"]
    table[position + 1] = -3 * table[position + 1] + 1.0  # table row = vocabulary position + 1
    with open(path / "graph.npz", "wb") as fh:
        np.savez(fh, **arrays)
    manifest["files"]["graph.npz"] = sha256_of(path / "graph.npz")
    manifest["version"] = count
    (path / "manifest.json").write_text(json.dumps(manifest))
    return run.encoder.categorical_[feature].vocabulary_[position]
