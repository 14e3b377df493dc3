"""Writing a bundle version atomically: into a hidden temporary folder, every file hashed into
the manifest (and signed when ``CATEMBED_BUNDLE_KEY`` is set), flushed to disk, then renamed to
the next free version. A crash or ``kill -9`` leaves only a hidden folder, which the next write
removes once its process is gone; readers (``features.artifacts``) never see a half-written version.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from features import FORMAT_VERSION
from features.artifacts import MANIFEST, REQUIRED_FILES, check_name, sha256_of
from features.errors import BundleError
from features.signing import SIGNATURE, bundle_key, write_signature

_TMP_PREFIX = ".tmp-"


def write_bundle(root: Path, name: str, manifest: dict[str, Any], write_files: Callable[[Path], None]) -> Path:
    """Write a new version atomically and return its folder.

    ``write_files(tmp)`` puts the bundle's files into ``tmp``; this function hashes them, adds
    the manifest (and its signature when ``CATEMBED_BUNDLE_KEY`` is set), flushes everything to
    disk and renames the folder to the next free version.
    """
    model_dir = Path(root) / check_name(name)
    model_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(model_dir)
    tmp = new_temporary_folder(model_dir)
    try:
        write_files(tmp)
        manifest = {**manifest, "format": "catembed-bundle", "format_version": FORMAT_VERSION, "name": name}
        for version in range(_next_version(model_dir), _next_version(model_dir) + 1000):
            seal(tmp, {**manifest, "version": version})
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


def new_temporary_folder(model_dir: Path) -> Path:
    """A hidden folder next to the versions; removed by the next write if its process died."""
    tmp = model_dir / f"{_TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    return tmp


def seal(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Hash every file of ``folder`` into the manifest, write it (and its signature) and flush
    the folder to disk. Returns the manifest as written."""
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in (MANIFEST, SIGNATURE))
    missing = [f for f in REQUIRED_FILES if f not in files]
    if missing:
        raise BundleError(f"bundle is incomplete: {missing} were not written")
    manifest = {**manifest, "files": {f: sha256_of(folder / f) for f in files}}
    text = json.dumps(manifest, indent=2, sort_keys=False, default=str).encode()
    (folder / MANIFEST).write_bytes(text)
    (folder / SIGNATURE).unlink(missing_ok=True)
    write_signature(folder, text, bundle_key())
    _fsync_tree(folder)
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
