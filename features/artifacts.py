"""The versioned artifact bundle: ``<root>/<name>/<version>/`` with every file's sha256.

Layout (TF-Serving style integer versions)::

    model_artifacts/flights/3/
        manifest.json    format version, task, labels, features, metrics, sha256 of every file
        model.keras      the trained Keras model: the source of truth
        graph.npz        its weights for the NumPy forward pass the service runs
        encoders.joblib  the fitted TabularEncoder and target encoder
        spec.yaml        the resolved feature spec, to edit and train again

A version is written into a hidden temporary folder and renamed into place only when complete,
so a crash or ``kill -9`` never leaves a folder that looks loadable. Loading checks the format
version, then every sha256, and only then unpickles ``encoders.joblib``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features import FORMAT_VERSION
from features.errors import BundleError
from features.graph import InferenceGraph
from features.schema import NAME_PATTERN

MANIFEST = "manifest.json"
REPORT = "report.html"  # the training report (training/export/report.py), served at GET /report
REQUIRED_FILES = ("model.keras", "graph.npz", "encoders.joblib")
_TMP_PREFIX = ".tmp-"


@dataclass
class Bundle:
    path: Path
    name: str
    version: int
    manifest: dict[str, Any]
    encoder: Any  # features.encoder.TabularEncoder
    target: Any  # LabelTarget | ScaledTarget
    graph: InferenceGraph


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name or ""):
        raise BundleError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            field="name",
            value=name,
        )
    return name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_versions(model_dir: Path) -> list[int]:
    """Complete versions, oldest first. Temporary folders of unfinished writes are not versions."""
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.name.isdigit() and (p / MANIFEST).is_file())


def write_bundle(root: Path, name: str, manifest: dict[str, Any], write_files: Callable[[Path], None]) -> Path:
    """Write a new version atomically and return its folder.

    ``write_files(tmp)`` puts the bundle's files into ``tmp``; this function hashes them, adds
    the manifest, flushes everything to disk and renames the folder to the next free version.
    """
    model_dir = Path(root) / check_name(name)
    model_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(model_dir)
    tmp = model_dir / f"{_TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        write_files(tmp)
        files = sorted(p.name for p in tmp.iterdir() if p.is_file())
        missing = [f for f in REQUIRED_FILES if f not in files]
        if missing:
            raise BundleError(f"bundle is incomplete: {missing} were not written")
        manifest = {**manifest, "format": "catembed-bundle", "format_version": FORMAT_VERSION, "name": name}
        manifest["files"] = {f: sha256_of(tmp / f) for f in files}
        for version in range(_next_version(model_dir), _next_version(model_dir) + 1000):
            manifest["version"] = version
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str))
            _fsync_tree(tmp)
            try:
                os.rename(tmp, model_dir / str(version))  # atomic; fails if another run took it
            except OSError:
                continue
            _fsync_dir(model_dir)
            return model_dir / str(version)
        raise BundleError(f"could not find a free version number in {model_dir}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_bundle(model_dir: Path, version: int | None = None) -> Bundle:
    """Load ``model_dir/<version>`` (newest when None) after verifying format and checksums."""
    import joblib  # imported here: only loading needs it

    model_dir = Path(model_dir)
    versions = list_versions(model_dir)
    if version is None:
        if not versions:
            raise BundleError(
                f"no model version found in {model_dir} (expected {model_dir}/<n>/{MANIFEST}); train one with `catembed train`"
            )
        version = versions[-1]
    path = model_dir / str(version)
    manifest = read_manifest(path)
    for filename in REQUIRED_FILES:
        if filename not in manifest.get("files", {}):
            raise BundleError(f"{path / MANIFEST} lists no checksum for {filename}; the bundle is incomplete")
    for filename, expected in manifest["files"].items():
        file = path / filename
        if not file.is_file():
            raise BundleError(f"{file} is missing from the bundle")
        if sha256_of(file) != expected:
            raise BundleError(f"{file} does not match its sha256 in the manifest: the file is corrupt or was modified")
    try:
        encoders = joblib.load(path / "encoders.joblib")
        encoder, target = encoders["encoder"], encoders["target"]
        graph = InferenceGraph.load(path / "graph.npz", manifest["graph"])
    except Exception as exc:  # checksummed but unreadable: written by an incompatible build
        raise BundleError(f"{path} could not be read: {type(exc).__name__}: {exc}") from exc
    _check_agreement(path, encoder, graph)
    return Bundle(path, manifest.get("name", model_dir.name), int(version), manifest, encoder, target, graph)


def _check_agreement(path: Path, encoder: Any, graph: InferenceGraph) -> None:
    """Checksums prove the files are the ones written, not that they belong together. An embedding
    table shorter than its vocabulary would make some indices fail, or, in the fused single-row
    path, silently read the next feature's rows: refuse such a bundle at load."""
    names = list(encoder.categorical)
    if len(names) != len(graph.embeddings):
        raise BundleError(
            f"{path}: the encoder has {len(names)} categorical features but graph.npz {len(graph.embeddings)} tables"
        )
    for name, table in zip(names, graph.embeddings, strict=True):
        rows = encoder.categorical_[name].n_indices
        if table.shape[0] != rows:
            raise BundleError(
                f"{path}: the embedding table of {name!r} has {table.shape[0]} rows but its vocabulary needs {rows}; "
                "graph.npz and encoders.joblib are not from the same training run"
            )


def read_manifest(path: Path) -> dict[str, Any]:
    file = Path(path) / MANIFEST
    try:
        manifest = json.loads(file.read_text())
    except FileNotFoundError:
        raise BundleError(f"{file} does not exist") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{file} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "catembed-bundle":
        raise BundleError(f"{file} is not a catembed manifest")
    found = manifest.get("format_version")
    if found != FORMAT_VERSION:
        raise BundleError(
            f"{file} has format version {found!r}; this catembed reads format version {FORMAT_VERSION}",
            field="format_version",
            value=found,
        )
    return manifest


def _next_version(model_dir: Path) -> int:
    taken = [int(p.name) for p in model_dir.iterdir() if p.name.isdigit()]
    return max(taken, default=0) + 1


def _remove_abandoned(model_dir: Path) -> None:
    """Delete temporary folders whose writer process is gone (killed mid-write)."""
    for p in model_dir.glob(f"{_TMP_PREFIX}*"):
        try:
            pid = int(p.name[len(_TMP_PREFIX) :].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


def _fsync_tree(folder: Path) -> None:
    for p in folder.iterdir():
        with open(p, "rb") as fh:
            os.fsync(fh.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
