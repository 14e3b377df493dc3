"""``catembed upgrade-bundle``: format-1 bundles (pickled encoders) rewritten as data, in place,
whole or not at all; ``make run`` on a checkout holding an old demo bundle still serves."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from features.artifacts import list_versions, load_bundle
from features.errors import BundleError
from tests.bundles import Payload, copy_version, make_format_1

ROOT = Path(__file__).parents[2]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_an_old_bundle_is_refused_then_upgraded_and_predicts_the_same(binary_run, tmp_path, capsys):
    folder = make_format_1(copy_version(binary_run, tmp_path))
    with pytest.raises(BundleError, match="upgrade-bundle"):
        load_bundle(folder.parent)

    assert main(["upgrade-bundle", str(folder.parent)]) == 0
    assert "m/1: upgraded to format 2" in capsys.readouterr().out
    names = {p.name for p in folder.iterdir()}
    assert "encoders.joblib" not in names and {"encoders.json", "encoders.npz"} <= names
    assert [p.name for p in folder.parent.iterdir()] == ["1"]  # no temporary folder left

    bundle, original = load_bundle(folder.parent), load_bundle(binary_run.path.parent, int(binary_run.path.name))
    batch = bundle.encoder.transform(binary_run.valid)
    expected = original.encoder.transform(binary_run.valid)
    np.testing.assert_array_equal(
        bundle.graph(batch.categorical, batch.numeric), original.graph(expected.categorical, expected.numeric)
    )

    assert main(["upgrade-bundle", str(folder.parent)]) == 0  # a second run changes nothing
    assert "already format 2" in capsys.readouterr().out


def test_a_failed_upgrade_leaves_the_old_version_as_it_was(binary_run, tmp_path, monkeypatch, capsys):
    folder = make_format_1(copy_version(binary_run, tmp_path))
    before = _snapshot(folder)

    def full_disk(target: Path, *_args) -> None:
        (target / "encoders.json").write_text("{")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cli.upgrade_bundle.write_encoders", full_disk)
    with pytest.raises(OSError, match="No space left"):
        main(["upgrade-bundle", str(folder.parent)])
    assert _snapshot(folder) == before
    assert [p.name for p in folder.parent.iterdir()] == ["1"]


def test_a_corrupt_old_bundle_is_not_unpickled(binary_run, tmp_path, capsys):
    marker = tmp_path / "pickle-ran"
    folder = make_format_1(copy_version(binary_run, tmp_path), payload=Payload(marker))
    data = bytearray((folder / "encoders.joblib").read_bytes())
    data[-2] ^= 0x01
    (folder / "encoders.joblib").write_bytes(bytes(data))
    assert main(["upgrade-bundle", str(folder.parent)]) == 2
    assert "encoders.joblib does not match its sha256" in capsys.readouterr().err
    assert not marker.exists() and (folder / "encoders.joblib").exists()


def test_an_upgrade_with_a_key_signs_the_bundle(binary_run, tmp_path, monkeypatch):
    folder = make_format_1(copy_version(binary_run, tmp_path))
    monkeypatch.setenv("CATEMBED_BUNDLE_KEY", "k")
    assert main(["upgrade-bundle", str(folder.parent), "--version", "1"]) == 0
    assert (folder / "manifest.sig").is_file() and load_bundle(folder.parent).version == 1


def test_make_run_upgrades_an_old_demo_bundle_before_serving(binary_run, tmp_path):
    """`make run` = `make demo` then serve: demo finds the old bundle and upgrades it (it was
    trained by this checkout's own earlier `make run`), so the server then starts on it."""
    model_dir = make_format_1(copy_version(binary_run, tmp_path, name="flights")).parent
    done = subprocess.run(
        ["make", "-s", "demo", f"MODEL_DIR={model_dir}"], cwd=ROOT, capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert done.returncode == 0, done.stderr
    assert "upgraded to format 2" in done.stdout
    assert list_versions(model_dir) == [1] and json.loads((model_dir / "1" / "manifest.json").read_text())["format_version"] == 2
    assert load_bundle(model_dir).encoder.categorical == binary_run.encoder.categorical
