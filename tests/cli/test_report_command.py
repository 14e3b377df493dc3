"""`catembed report` in its own process: the path, --open through $BROWSER, and one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CATEMBED = [sys.executable, "-m", "cli.main", "report"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CATEMBED, *args], capture_output=True, text=True, timeout=60, env=env)


def without_report(bundle: Path, into: Path) -> Path:
    """A copy of a bundle as an older catembed wrote it: no report.html, none in the manifest."""
    copy = into / "old" / "1"
    shutil.copytree(bundle, copy)
    (copy / "report.html").unlink()
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["files"]["report.html"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy.parent


def test_prints_the_newest_report_path(binary_run):
    result = run(str(binary_run.path.parent))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str((binary_run.path / "report.html").resolve())
    pinned = run(str(binary_run.path.parent), "--version", binary_run.path.name)
    assert pinned.stdout == result.stdout


def test_open_uses_the_browser_when_there_is_one(binary_run, tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    result = run(str(binary_run.path.parent), "--open", env={**os.environ, "BROWSER": str(browser)})
    assert result.returncode == 0, result.stderr
    assert opened.read_text().strip() == (binary_run.path / "report.html").resolve().as_uri()


def test_open_without_a_browser_prints_the_path_and_why(binary_run):
    env = {k: v for k, v in os.environ.items() if k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY")}
    result = run(str(binary_run.path.parent), "--open", env={**env, "PATH": "/nonexistent"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("report.html")
    assert "not opened: no web browser is available" in result.stderr


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no bundle", "no model version found"),
        ("bad version", "has no version 99; versions: "),
        ("old bundle", "has no report.html: it was trained by a catembed without training reports"),
        ("modified", "does not match its sha256"),
    ],
)
def test_errors_are_one_line_and_exit_2(binary_run, tmp_path, case, message):
    args = [str(binary_run.path.parent)]
    if case == "no bundle":
        args = [str(tmp_path / "nothing")]
    elif case == "bad version":
        args += ["--version", "99"]
    elif case == "old bundle":
        args = [str(without_report(binary_run.path, tmp_path))]
    else:
        copy = tmp_path / "m" / "1"
        shutil.copytree(binary_run.path, copy)
        (copy / "report.html").write_text("<p>edited</p>")
        args = [str(copy.parent)]
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
