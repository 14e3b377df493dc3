"""Real training runs meeting real write faults: ``kill -9`` while the bundle is being written,
a full disk, a read-only filesystem. Each time: a clear outcome, no loadable half version, and
the versions written before stay intact and loadable.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import main
from features.artifacts import list_versions, load_bundle
from tests.synthetic import planted_frame

TINY = ["--epochs", "2", "--patience", "1", "--batch-size", "512", "--hidden", "8", "--seed", "3"]


@pytest.fixture(scope="module")
def planted_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kill_data") / "planted.csv"
    planted_frame(n=1500, task="binary").to_csv(path, index=False)
    return path


def _train_args(csv: Path, out: Path) -> list[str]:
    return ["train", "--data", str(csv), "--target", "label", "--name", "m", "--out", str(out), *TINY]


def _with_version_1(binary_run, out: Path) -> Path:
    """An output folder that already holds one real, earlier version."""
    shutil.copytree(binary_run.path, out / "m" / "1")
    return out / "m"


def test_kill_9_of_a_training_run_mid_write(binary_run, planted_csv, tmp_path):
    model_dir = _with_version_1(binary_run, tmp_path)
    catembed = Path(sys.executable).parent / "catembed"
    process = subprocess.Popen(
        [str(catembed), *_train_args(planted_csv, tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # the run trains first, then writes into a hidden .tmp-<pid>-* folder: kill it the moment that appears
    deadline, temporary = time.time() + 300, []
    while not temporary and process.poll() is None and time.time() < deadline:
        temporary = [p for p in model_dir.iterdir() if p.name.startswith(".tmp-")]
        time.sleep(0.001)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert temporary, "the training run never started writing its bundle"
    assert process.returncode == -signal.SIGKILL

    half = [p for p in model_dir.iterdir() if p.name.startswith(".tmp-")]
    assert half and not any((p / "manifest.json").exists() for p in half)  # half-written, hidden, unlisted
    assert sorted(p.name for p in model_dir.iterdir() if p not in half) == ["1"]
    assert list_versions(model_dir) == [1]
    assert load_bundle(model_dir).version == 1  # the server would keep loading the earlier version

    # the next run writes the next version and clears the dead run's folder
    assert main(_train_args(planted_csv, tmp_path)) == 0
    assert sorted(p.name for p in model_dir.iterdir()) == ["1", "2"]
    assert load_bundle(model_dir).version == 2


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 1 MB tmpfs, so 'disk full' and 'read-only' are the kernel's answers, not simulated."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN); tests/features/test_artifacts.py simulates ENOSPC")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"this container cannot mount a tmpfs: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_and_read_only_filesystem(binary_run, planted_csv, small_tmpfs, capsys):
    model_dir = _with_version_1(binary_run, small_tmpfs)
    before = {p.name: p.read_bytes() for p in (model_dir / "1").iterdir()}
    # leave 40 KB: the new model.keras (~80 KB) starts to be written and runs out of space midway
    stats = os.statvfs(small_tmpfs)
    (small_tmpfs / "filler").write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - 40 * 1024))

    assert main(_train_args(planted_csv, small_tmpfs)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: could not write the model under {small_tmpfs}: No space left on device"), err
    assert "Traceback" not in err
    assert sorted(p.name for p in model_dir.iterdir()) == ["1"]  # the partial write was removed
    assert {p.name: p.read_bytes() for p in (model_dir / "1").iterdir()} == before
    assert load_bundle(model_dir).version == 1

    (small_tmpfs / "filler").unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)  # root cannot write here either
    assert main(_train_args(planted_csv, small_tmpfs)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: could not write the model under {small_tmpfs}: Read-only file system"), err
    assert sorted(p.name for p in model_dir.iterdir()) == ["1"]
    assert load_bundle(model_dir).version == 1
