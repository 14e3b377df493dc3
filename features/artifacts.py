"""The versioned artifact bundle: ``<root>/<name>/<version>/`` with every file's sha256.

Layout (TF-Serving style integer versions)::

    model_artifacts/flights/3/
        manifest.json    format version, task, labels, features, metrics, sha256 of every file
        manifest.sig     with CATEMBED_BUNDLE_KEY set: an HMAC-SHA256 of manifest.json (features.signing)
        model.keras      the trained Keras model: the source of truth
        graph.npz        its weights for the NumPy forward pass the service runs
        encoders.json    the fitted encoders' vocabularies and settings (features.encoder_state)
        encoders.npz     their arrays (medians, scales, quantile knots)
        spec.yaml        the resolved feature spec, to edit and train again

A version is written into a hidden temporary folder and renamed into place only when complete
(``features.bundle_writer``), so a crash or ``kill -9`` never leaves a folder that looks loadable. A bundle is data: loading
it reads JSON and ``.npz`` arrays (``allow_pickle=False``) and builds every object explicitly,
so nothing in a bundle can run code. Loading checks the format version, the signature when a
key is set, that every file the manifest names is a plain file inside its version folder, every
sha256, and only then reads the files. Format 1 bundles (pickled encoders) are refused with the
command that converts them: ``catembed upgrade-bundle DIR``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from features import FORMAT_VERSION
from features.encoder_state import read_encoders
from features.errors import BundleError
from features.graph import InferenceGraph
from features.schema import NAME_PATTERN
from features.signing import verify

MANIFEST = "manifest.json"
REPORT = "report.html"  # the training report (training/export/report.py), served at GET /report
REQUIRED_FILES = ("model.keras", "graph.npz", "encoders.json", "encoders.npz")
PICKLED_FORMAT = 1  # encoders.joblib: converted by `catembed upgrade-bundle`, never loaded
# a file a manifest names: a plain name in the version folder (no separators, no dot segments)
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


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


def load_bundle(model_dir: Path, version: int | None = None) -> Bundle:
    """Load ``model_dir/<version>`` (newest when None) after verifying format, signature, paths and checksums."""
    model_dir = Path(model_dir)
    shown = display(model_dir)
    if version is None:
        versions = list_versions(model_dir)
        if not versions:
            raise BundleError(
                f"no model version found in {shown} (expected {shown}/<n>/{MANIFEST}); train one with `catembed train`"
            )
        version = versions[-1]
    if type(version) is not int or not 1 <= version < 2**63:
        raise BundleError(f"version {version!r} is not a version number", field="version", value=str(version)[:40])
    path = model_dir / str(version)
    if not path.is_dir():
        raise BundleError(f"{shown}/{version} does not exist", field="version", value=version)
    if path.resolve().parent != model_dir.resolve():
        raise BundleError(f"{shown}/{version} is a link to a folder outside {shown}: refused", field="version", value=version)
    bundle = load_folder(path, f"{shown}/{version}", model_dir=shown)
    bundle.name = bundle.manifest.get("name", model_dir.name) if isinstance(bundle.manifest.get("name"), str) else model_dir.name
    bundle.version = version
    return bundle


def load_folder(path: Path, shown: str, model_dir: str = "DIR") -> Bundle:
    """Load one version folder (``shown`` is how messages name it: never an absolute server path)."""
    manifest_bytes = _plain_file(path, MANIFEST, shown).read_bytes()
    manifest = parse_manifest(manifest_bytes, f"{shown}/{MANIFEST}", model_dir)
    verify(path, manifest_bytes, shown)
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BundleError(f"{shown}/{MANIFEST} lists no files; the bundle is incomplete")
    for filename in REQUIRED_FILES:
        if filename not in files:
            raise BundleError(f"{shown}/{MANIFEST} lists no checksum for {filename}; the bundle is incomplete")
    for filename, expected in files.items():
        file = _plain_file(path, filename, shown)
        if not isinstance(expected, str) or sha256_of(file) != expected:
            raise BundleError(
                f"{shown}/{filename} does not match its sha256 in the manifest: the file is corrupt or was modified"
            )
    encoder, target = read_encoders(path)
    try:
        graph = InferenceGraph.load(path / "graph.npz", manifest["graph"])
    except Exception as exc:  # checksummed but unreadable: written by an incompatible build
        raise BundleError(f"{shown}/graph.npz could not be read: {type(exc).__name__}: {str(exc)[:300]}") from exc
    _check_agreement(shown, encoder, graph)
    version = manifest.get("version")
    return Bundle(path, path.name, version if type(version) is int else 0, manifest, encoder, target, graph)


def display(model_dir: Path) -> str:
    """How messages name a model folder: as given when relative, else by its name alone, so no
    answer of the service ever shows where the server keeps its files."""
    return str(model_dir) if not model_dir.is_absolute() else model_dir.name


def confined(path: Path, root: Path) -> bool:
    """Whether ``path``, symbolic links followed, lies inside ``root``."""
    return Path(path).resolve().is_relative_to(Path(root).resolve())


def _plain_file(folder: Path, filename: Any, shown: str) -> Path:
    """``folder/filename`` when it is a regular file of that folder: not a link, not a path elsewhere."""
    if not isinstance(filename, str) or not _FILE_NAME.fullmatch(filename):
        raise BundleError(f"{shown}/{MANIFEST} names a file {str(filename)[:80]!r} outside its folder: refused", field="files")
    file = folder / filename
    if file.is_symlink():
        raise BundleError(f"{shown}/{filename} is a symbolic link: refused (bundle files must be plain files)")
    if not file.is_file():
        raise BundleError(f"{shown}/{filename} is missing from the bundle")
    if file.resolve().parent != folder.resolve():
        raise BundleError(f"{shown}/{filename} lies outside its version folder: refused")
    return file


def _check_agreement(shown: str, encoder: Any, graph: InferenceGraph) -> None:
    """Checksums prove the files are the ones written, not that they belong together. An embedding
    table shorter than its vocabulary would make some indices fail, or, in the fused single-row
    path, silently read the next feature's rows: refuse such a bundle at load. One zero row through
    the graph then proves the layer shapes chain."""
    names = list(encoder.categorical)
    if len(names) != len(graph.embeddings):
        raise BundleError(
            f"{shown}: the encoder has {len(names)} categorical features but graph.npz {len(graph.embeddings)} tables"
        )
    for name, table, served in zip(names, graph.embeddings, graph.vectors, strict=True):
        rows = encoder.categorical_[name].n_indices
        if table.ndim != 2 or table.shape[0] != rows or served.ndim != 2 or served.shape[0] != rows:
            raise BundleError(
                f"{shown}: the embedding table of {name!r} has {table.shape[0]} rows but its vocabulary needs {rows}; "
                "graph.npz and the encoders are not from the same training run"
            )
    width = encoder.numeric_.n_outputs if encoder.numeric_ is not None else 0
    if width != graph.numeric_width:
        raise BundleError(f"{shown}: the encoder makes {width} numeric inputs but graph.npz expects {graph.numeric_width}")
    try:
        graph([np.zeros(1, dtype=np.int32) for _ in names], np.zeros((1, width), dtype=np.float32) if width else None)
    except Exception as exc:
        raise BundleError(f"{shown}: graph.npz does not compute: {type(exc).__name__}: {str(exc)[:200]}") from None


def read_manifest(path: Path) -> dict[str, Any]:
    file = Path(path) / MANIFEST
    try:
        text = file.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{file} does not exist") from None
    except OSError as exc:
        raise BundleError(f"{file} could not be read: {exc.strerror}") from None
    return parse_manifest(text, str(file), str(Path(path).parent))


def parse_manifest(text: bytes, shown: str, model_dir: str = "DIR") -> dict[str, Any]:
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise BundleError(f"{shown} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "catembed-bundle":
        raise BundleError(f"{shown} is not a catembed manifest")
    found = manifest.get("format_version")
    if found == PICKLED_FORMAT:
        raise BundleError(
            f"{shown} is a format-1 bundle (pickled encoders, never loaded now); "
            f"if you trust its files, convert it with `catembed upgrade-bundle {model_dir}`",
            field="format_version",
            value=found,
        )
    if found != FORMAT_VERSION:
        raise BundleError(
            f"{shown} has format version {found!r}; this catembed reads format version {FORMAT_VERSION}",
            field="format_version",
            value=found if type(found) in (int, str) else None,
        )
    return manifest
