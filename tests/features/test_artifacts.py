import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from features.artifacts import list_versions, load_bundle, write_bundle
from features.errors import BundleError


def _copy(run, tmp_path) -> Path:
    target = tmp_path / "m" / "1"
    shutil.copytree(run.path, target)
    return target


def _fake_files(folder: Path) -> None:
    for name in ("model.keras", "graph.npz", "encoders.joblib"):
        (folder / name).write_bytes(name.encode())


def test_versions_increase_and_load_newest(binary_run, tmp_path):
    first = write_bundle(tmp_path, "m", {"k": 1}, _fake_files)
    second = write_bundle(tmp_path, "m", {"k": 2}, _fake_files)
    assert (first.name, second.name) == ("1", "2")
    assert list_versions(tmp_path / "m") == [1, 2]
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["version"] == 2 and set(manifest["files"]) == {"model.keras", "graph.npz", "encoders.joblib"}


def test_real_bundle_loads_and_pins_version(binary_run):
    bundle = load_bundle(binary_run.path.parent, int(binary_run.path.name))
    assert bundle.version == int(binary_run.path.name)
    assert bundle.encoder.categorical == ("color", "city", "size")


@pytest.mark.parametrize("filename", ["model.keras", "encoders.joblib", "graph.npz"])
def test_flipped_byte_is_refused_before_unpickling(binary_run, tmp_path, filename):
    folder = _copy(binary_run, tmp_path)
    data = bytearray((folder / filename).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / filename).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=f"{filename} does not match its sha256"):
        load_bundle(folder.parent)


def test_missing_file_is_named(binary_run, tmp_path):
    folder = _copy(binary_run, tmp_path)
    (folder / "encoders.joblib").unlink()
    with pytest.raises(BundleError, match=r"encoders\.joblib is missing"):
        load_bundle(folder.parent)


def test_truncated_model_file(binary_run, tmp_path):
    folder = _copy(binary_run, tmp_path)
    data = (folder / "graph.npz").read_bytes()
    (folder / "graph.npz").write_bytes(data[: len(data) // 3])
    with pytest.raises(BundleError, match=r"graph\.npz does not match"):
        load_bundle(folder.parent)


def test_future_format_version_is_refused(binary_run, tmp_path):
    folder = _copy(binary_run, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="format version 99; this catembed reads format version 1"):
        load_bundle(folder.parent)


def test_empty_model_dir_says_what_to_do(tmp_path):
    with pytest.raises(BundleError, match=r"no model version found.*catembed train"):
        load_bundle(tmp_path / "nothing")


def test_invalid_model_name_is_refused(tmp_path):
    with pytest.raises(BundleError, match="invalid model name"):
        write_bundle(tmp_path, "../escape", {}, _fake_files)


WRITER = """
import sys, time
from pathlib import Path
from features.artifacts import write_bundle
def slow(folder):
    (folder / "model.keras").write_bytes(b"x" * 1000)
    Path(sys.argv[2]).write_text("writing")
    time.sleep(60)
write_bundle(Path(sys.argv[1]), "m", {}, slow)
"""


def test_kill_9_mid_write_leaves_no_loadable_version(tmp_path):
    marker = tmp_path / "marker"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(marker)], cwd=Path(__file__).parents[2])
    deadline = time.time() + 30
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "writer did not start"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    leftovers = list((tmp_path / "m").iterdir())
    assert leftovers and all(p.name.startswith(".tmp-") for p in leftovers)  # half-written, hidden
    assert list_versions(tmp_path / "m") == []
    with pytest.raises(BundleError, match="no model version found"):
        load_bundle(tmp_path / "m")
    # the next run writes version 1 and clears the dead writer's folder
    assert write_bundle(tmp_path, "m", {}, _fake_files).name == "1"
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["1"]


def test_failed_write_leaves_nothing(tmp_path):
    def broken(folder):
        (folder / "model.keras").write_bytes(b"x")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_bundle(tmp_path, "m", {}, broken)
    assert list((tmp_path / "m").iterdir()) == []
