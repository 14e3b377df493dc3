"""``catembed upgrade-bundle DIR``: rewrite format-1 versions (pickled encoders) as format 2 (data only).

Format 1 kept the fitted encoders in ``encoders.joblib``, a pickle: loading one runs whatever its
writer put in it, so no loader reads them any more. This command is the one place that still
unpickles, on purpose and only when a person runs it on files they trust (their own training
runs). Each version is checked against its sha256 values first, converted in a hidden folder
next to it, loaded back and compared with the pickled encoders on the manifest's example, and
only then swapped in place of the old folder in one step. Any failure leaves the old version as
it was; a crash leaves a hidden temporary folder that the next write clears.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

from features import FORMAT_VERSION
from features.artifacts import (
    MANIFEST,
    PICKLED_FORMAT,
    display,
    list_versions,
    load_folder,
    sha256_of,
)
from features.bundle_writer import new_temporary_folder, seal
from features.encoder import TabularEncoder
from features.encoder_state import write_encoders
from features.errors import BundleError
from features.target import LabelTarget, ScaledTarget

PICKLE = "encoders.joblib"
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def upgrade_command(args: argparse.Namespace) -> int:
    model_dir = Path(args.model_dir)
    versions = [args.version] if args.version is not None else list_versions(model_dir)
    if not versions:
        raise BundleError(f"no model version found in {model_dir} (expected {model_dir}/<n>/{MANIFEST})", field="model_dir")
    for version in versions:
        print(upgrade_version(model_dir, version))
    return 0


def upgrade_version(model_dir: Path, version: int) -> str:
    """Upgrade one version folder in place if it is format 1; return what was done, in one line."""
    folder = model_dir / str(version)
    shown = f"{display(model_dir)}/{version}"
    manifest = _manifest(folder, shown)
    found = manifest.get("format_version")
    if found == FORMAT_VERSION:
        return f"{shown}: already format {FORMAT_VERSION}, left as it is"
    if found != PICKLED_FORMAT:
        raise BundleError(f"{shown} has format version {found!r}; upgrade-bundle converts format {PICKLED_FORMAT}")
    encoder, target = _unpickle_verified(folder, manifest, shown)
    tmp = new_temporary_folder(model_dir)
    try:
        for name in manifest["files"]:
            if name != PICKLE:
                _link_or_copy(folder / name, tmp / name)
        write_encoders(tmp, encoder, target)
        seal(tmp, {**manifest, "format_version": FORMAT_VERSION})
        _same_encoding(load_folder(tmp, shown, display(model_dir)).encoder, encoder, manifest, shown)
        _swap(tmp, folder)  # tmp now holds the old version
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return f"{shown}: upgraded to format {FORMAT_VERSION} (encoders.json + encoders.npz; the pickle is gone)"


def _manifest(folder: Path, shown: str) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{shown}/{MANIFEST} could not be read: {exc}") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != "catembed-bundle"
        or not isinstance(manifest.get("files"), dict)
    ):
        raise BundleError(f"{shown}/{MANIFEST} is not a catembed manifest")
    return manifest


def _unpickle_verified(folder: Path, manifest: dict[str, Any], shown: str) -> tuple[TabularEncoder, LabelTarget | ScaledTarget]:
    import joblib  # the one deliberate unpickling: a person asked for it, on files they trust

    for name, expected in manifest["files"].items():
        file = folder / name
        if not isinstance(name, str) or "/" in name or name.startswith(".") or file.is_symlink() or not file.is_file():
            raise BundleError(f"{shown}: the manifest names {str(name)[:80]!r}, which is not a plain file of the folder")
        if sha256_of(file) != expected:
            raise BundleError(f"{shown}/{name} does not match its sha256 in the manifest: not converted")
    if PICKLE not in manifest["files"]:
        raise BundleError(f"{shown} is format {PICKLED_FORMAT} but lists no {PICKLE}")
    loaded = joblib.load(folder / PICKLE)
    encoder, target = (loaded.get("encoder"), loaded.get("target")) if isinstance(loaded, dict) else (None, None)
    if not isinstance(encoder, TabularEncoder) or not isinstance(target, LabelTarget | ScaledTarget):
        raise BundleError(f"{shown}/{PICKLE} does not hold a catembed encoder and target")
    return encoder, target


def _same_encoding(rebuilt: TabularEncoder, original: TabularEncoder, manifest: dict[str, Any], shown: str) -> None:
    """The converted encoders must encode the manifest's example exactly as the pickled ones."""
    example = manifest.get("example")
    if not isinstance(example, dict):
        return
    columns = {name: [example.get(name)] for name in original.features}
    before, after = original.transform(columns).model_inputs(), rebuilt.transform(columns).model_inputs()
    if any(a.tobytes() != b.tobytes() for a, b in zip(before, after, strict=True)):
        raise BundleError(f"{shown}: the converted encoders do not encode the example as the pickled ones did; not converted")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # the files do not change: a second name costs no space
    except OSError:
        shutil.copy2(source, target)


def _swap(new: Path, old: Path) -> None:
    """Exchange the two folders in one step (Linux renameat2), else rename the old one aside first
    and back if the second rename fails. Afterwards ``new`` holds the old version."""
    libc = ctypes.CDLL(None, use_errno=True)
    exchange = getattr(libc, "renameat2", None)
    if exchange is not None:
        if exchange(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(old), _RENAME_EXCHANGE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise OSError(code, os.strerror(code), str(old))
    aside = new.with_name(new.name + "-old")
    os.rename(old, aside)
    try:
        os.rename(new, old)
    except OSError:
        os.rename(aside, old)
        raise
    os.rename(aside, new)
