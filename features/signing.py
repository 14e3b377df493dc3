"""Optional bundle signatures: an HMAC-SHA256 of ``manifest.json`` under ``CATEMBED_BUNDLE_KEY``.

The manifest holds the sha256 of every other file of the bundle, so one MAC over its exact bytes
vouches for all of them. sha256 values alone only detect accidents: whoever can write a model
folder can rewrite a file and its hash. With a key set, ``catembed train`` (and ``catembed
upgrade-bundle``) write ``manifest.sig``, and every loader (the service, ``catembed predict``)
refuses a bundle that has none or whose MAC does not match. Without a key nothing is checked:
the folder's write permission is the trust boundary (docs/reliability.md, threat model).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from features.errors import BundleError

KEY_VARIABLE = "CATEMBED_BUNDLE_KEY"
SIGNATURE = "manifest.sig"
_PREFIX = "hmac-sha256:"


def bundle_key() -> bytes | None:
    """The signing key from the environment; unset or blank means bundles are not signed."""
    key = os.environ.get(KEY_VARIABLE, "")
    return key.encode() if key.strip() else None


def sign(manifest_bytes: bytes, key: bytes) -> str:
    return _PREFIX + hmac.new(key, manifest_bytes, hashlib.sha256).hexdigest()


def write_signature(folder: Path, manifest_bytes: bytes, key: bytes | None) -> None:
    if key is not None:
        (Path(folder) / SIGNATURE).write_text(sign(manifest_bytes, key) + "\n")


def verify(folder: Path, manifest_bytes: bytes, shown: str) -> None:
    """With a key set: the folder's signature must be the MAC of these manifest bytes."""
    key = bundle_key()
    if key is None:
        return
    file = Path(folder) / SIGNATURE
    if file.is_symlink() or not file.is_file():
        raise BundleError(f"{shown} is not signed ({SIGNATURE} is missing) and {KEY_VARIABLE} is set: refused")
    try:
        found = file.read_text(encoding="ascii", errors="replace").strip()
    except OSError as exc:
        raise BundleError(f"{shown}/{SIGNATURE} could not be read: {exc.strerror}") from None
    if not hmac.compare_digest(found.encode(), sign(manifest_bytes, key).encode()):
        raise BundleError(f"{shown} has a signature that does not match {KEY_VARIABLE}: refused")
