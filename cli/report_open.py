"""``catembed report``: find a bundle's ``report.html``, check it, and print its path or open it.

Kept apart from ``training.export.report`` so that finding a file does not import Keras or Matplotlib.
"""

from __future__ import annotations

import webbrowser
from pathlib import Path

from features.artifacts import REPORT, list_versions, read_manifest, sha256_of
from features.errors import BundleError, NotFound


def locate_report(model_dir: Path, version: int | None = None) -> Path:
    """The verified report of ``model_dir/<version>`` (newest when None)."""
    versions = list_versions(model_dir)
    if not versions:
        raise BundleError(f"no model version found in {model_dir} (expected {model_dir}/<n>/manifest.json)")
    if version is None:
        version = versions[-1]
    elif version not in versions:
        raise NotFound(
            f"{model_dir} has no version {version}; versions: {', '.join(map(str, versions))}",
            field="version",
            value=version,
        )
    folder = model_dir / str(version)
    expected = read_manifest(folder).get("files", {}).get(REPORT)
    if expected is None:
        raise NotFound(
            f"{folder} has no {REPORT}: it was trained by a catembed without training reports; train it again to get one",
            field="version",
            value=version,
        )
    path = folder / REPORT
    if not path.is_file():
        raise BundleError(f"{path} is missing from the bundle")
    if sha256_of(path) != expected:
        raise BundleError(f"{path} does not match its sha256 in the manifest: the file is corrupt or was modified")
    return path.resolve()


def open_report(path: Path) -> str | None:
    """Open the report in a browser; None when it opened, else why it could not."""
    try:
        browser = webbrowser.get()  # honours $BROWSER; raises when none is available (a headless server)
    except webbrowser.Error:
        return "no web browser is available here (set $BROWSER, or open the file on a machine with one)"
    if not browser.open(path.as_uri()):
        return f"the browser {getattr(browser, 'name', '')!r} could not be started"
    return None
