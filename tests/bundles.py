"""Old and hostile bundles made from real trained ones: what an earlier catembed wrote (format 1,
pickled encoders) and what an attacker who can write a model folder would leave there."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from features.artifacts import MANIFEST


class Payload:
    """A pickle that creates a file when it is loaded: stands in for any code a pickle can run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def copy_version(run, root: Path, name: str = "m", version: int = 1) -> Path:
    folder = root / name / str(version)
    shutil.copytree(run.path, folder)
    return folder


def rehash(folder: Path) -> dict:
    """Rewrite every checksum of the manifest to match the files, as a malicious writer would."""
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"] = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in manifest["files"]}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return manifest


def make_format_1(folder: Path, payload: object | None = None) -> Path:
    """Turn a version folder into what catembed wrote before format 2: the encoders pickled with
    joblib in ``encoders.joblib`` (or ``payload`` pickled there instead), a manifest of format 1."""
    import joblib

    from features.encoder_state import read_encoders

    encoder, target = read_encoders(folder)
    joblib.dump(payload if payload is not None else {"encoder": encoder, "target": target}, folder / "encoders.joblib")
    for name in ("encoders.json", "encoders.npz", "manifest.sig"):
        (folder / name).unlink(missing_ok=True)
    manifest = json.loads((folder / MANIFEST).read_text())
    files = [f for f in manifest["files"] if f not in ("encoders.json", "encoders.npz")] + ["encoders.joblib"]
    manifest["format_version"] = 1
    manifest["files"] = {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in sorted(files)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return folder
