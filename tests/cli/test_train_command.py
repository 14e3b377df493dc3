"""`catembed train` and `export-embeddings` end to end, and every error the CLI promises."""

import contextlib
import errno
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli.main import main
from features.artifacts import REQUIRED_FILES, list_versions, load_bundle
from features.bundle_writer import write_bundle
from tests.synthetic import planted_frame

FAST = ["--epochs", "20", "--patience", "3", "--batch-size", "128", "--hidden", "32,16", "--seed", "3"]


@pytest.fixture(scope="module")
def planted_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "planted.csv"
    planted_frame(task="binary").to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def cli_model(planted_csv, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli_out")
    # the real console script, in its own process: exit code, stdout and the bundle it writes
    command = [str(Path(sys.executable).parent / "catembed"), "train", "--data", str(planted_csv), "--target", "label"]
    result = subprocess.run(
        [*command, "--name", "planted", "--out", str(out), *FAST],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resolved spec" in result.stdout and "holdout:" in result.stdout
    # the inferred column types, printed as a table: size (5 integer values) is a category
    types = result.stdout.split("column types", 1)[1].split("resolved spec", 1)[0]
    assert [line.split()[:2] for line in types.splitlines()[2:7]] == [
        ["color", "categorical"], ["city", "categorical"], ["size", "categorical"], ["x", "numeric"], ["noise", "numeric"]
    ]  # fmt: skip
    assert_only_catembed_progress(result)
    return out / "planted"


TENSORFLOW_LOG_MARKS = ("absl::InitializeLog", "oneDNN", "NodeDef", "I0000", "W0000", "E0000", "tensorflow/")


def assert_only_catembed_progress(result: subprocess.CompletedProcess[str]) -> None:
    """What `catembed train` prints: its spec, one line per epoch with the losses, holdout metrics, the bundle."""
    for mark in TENSORFLOW_LOG_MARKS:
        assert mark not in result.stdout + result.stderr, (mark, result.stderr[-2000:])
    assert result.stderr == ""
    epochs = [line for line in result.stdout.splitlines() if " - loss: " in line]
    assert epochs and all("val_loss: " in line for line in epochs), result.stdout
    assert result.stdout.count("Epoch ") == len(epochs)
    assert "\nwrote " in result.stdout


def test_verbose_shows_tensorflow_log(planted_csv, tmp_path):
    # the quiet run above proves nothing unless TensorFlow does log here: --verbose shows it
    catembed = str(Path(sys.executable).parent / "catembed")
    argv = ["train", "--data", str(planted_csv), "--target", "label", "--name", "v", "--out", str(tmp_path), *FAST]
    result = subprocess.run([catembed, *argv, "--epochs", "1", "--verbose"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert any(mark in result.stderr for mark in TENSORFLOW_LOG_MARKS), result.stderr[-2000:]


def test_cli_learns_the_planted_signal(cli_model):
    bundle = load_bundle(cli_model)
    holdout, baseline = bundle.manifest["metrics"]["holdout"], bundle.manifest["metrics"]["baseline"]
    assert holdout["roc_auc"] > 0.85 > baseline["roc_auc"] == 0.5
    assert holdout["log_loss"] < baseline["log_loss"] - 0.15
    assert bundle.manifest["target"]["labels"] == ["no", "yes"]
    spec = (bundle.path / "spec.yaml").read_text()
    assert "categorical:\n- city\n- size" in spec or "- city" in spec  # inferred and saved for editing
    assert bundle.manifest["training"]["epochs_run"] <= 20
    assert bundle.manifest["training"]["data_fingerprint"].startswith("sha256:")


def test_same_seed_same_model(planted_csv, tmp_path, cli_model):
    code = main(["train", "--data", str(planted_csv), "--target", "label", "--name", "planted", "--out", str(tmp_path), *FAST])
    assert code == 0
    again = load_bundle(tmp_path / "planted")
    first = load_bundle(cli_model)
    for a, b in zip(first.graph.embeddings, again.graph.embeddings, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_export_embeddings_formats(cli_model, tmp_path):
    assert main(["export-embeddings", str(cli_model), "--out", str(tmp_path / "pq")]) == 0
    table = pd.read_parquet(tmp_path / "pq" / "embeddings.parquet")
    bundle = load_bundle(cli_model)
    city = table[table.feature == "city"]
    assert len(city) == len(bundle.encoder.categorical_["city"].vocabulary_) + 1
    row = city[city.value == "city/0 é"].iloc[0]
    np.testing.assert_allclose(row.vector, bundle.graph.embeddings[1][row["index"]], rtol=1e-6)

    assert main(["export-embeddings", str(cli_model), "--out", str(tmp_path / "csv"), "--format", "csv"]) == 0
    assert pd.read_csv(tmp_path / "csv" / "embeddings.csv").shape[0] == len(table)

    assert (
        main(
            [
                "export-embeddings",
                str(cli_model),
                "--out",
                str(tmp_path / "tb"),
                "--format",
                "projector",
                "--version",
                str(list_versions(cli_model)[-1]),
            ]
        )
        == 0
    )
    vectors = np.loadtxt(tmp_path / "tb" / "color.vectors.tsv", delimiter="\t")
    metadata = (tmp_path / "tb" / "color.metadata.tsv").read_text().splitlines()
    assert vectors.shape[0] == len(metadata) - 1  # header row


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: ")
    return err


def test_cli_errors_are_one_clear_line(capsys, tmp_path, planted_csv):
    out = ["--out", str(tmp_path / "o"), "--name", "m"]
    assert "does not exist" in _error(capsys, ["train", "--data", str(tmp_path / "nope.csv"), "--target", "y", *out])
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"\x00\x01")
    assert "unknown format '.xlsx'" in _error(capsys, ["train", "--data", str(odd), "--target", "y", *out])
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    assert "could not read" in _error(capsys, ["train", "--data", str(broken), "--target", "y", *out])
    assert "target column 'nope' is not in the data" in _error(
        capsys, ["train", "--data", str(planted_csv), "--target", "nope", *out]
    )
    assert "spec column 'ghost'" in _error(
        capsys, ["train", "--data", str(planted_csv), "--target", "label", "--categorical", "ghost", *out]
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b,label\n")
    assert "has no rows" in _error(capsys, ["train", "--data", str(empty), "--target", "label", *out])
    frame = planted_frame(n=100)
    one = tmp_path / "one.csv"
    frame.assign(label="yes").to_csv(one, index=False)
    assert "1 distinct value" in _error(capsys, ["train", "--data", str(one), "--target", "label", *out])
    blank = tmp_path / "blank.csv"
    frame.assign(x=np.nan).to_csv(blank, index=False)
    assert "'x' has only missing values" in _error(
        capsys, ["train", "--data", str(blank), "--target", "label", "--numeric", "x", *out]
    )
    texty = tmp_path / "texty.csv"
    unlabelled = frame.assign(x=["3.5"] * 99 + ["lots"], label=[None] * 3 + ["yes", "no"] * 48 + ["yes"])
    unlabelled.to_csv(texty, index=False)
    err = _error(capsys, ["train", "--data", str(texty), "--target", "label", "--numeric", "x", "--categorical", "color", *out])
    # the file's row from 1 and its line, though the 3 unlabelled rows before it were dropped
    assert f"{texty}, row 100 (line 101), field 'x': 'lots' is not a number" in err
    assert "lots" in texty.read_text().splitlines()[101 - 1]
    assert "invalid model name" in _error(capsys, ["train", "--data", str(planted_csv), "--target", "label", "--name", "../x"])
    assert list((tmp_path / "o").glob("*/*/manifest.json")) == []  # no error wrote a bundle


def test_unwritable_output_is_a_clear_error(capsys, tmp_path, planted_csv):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    err = _error(
        capsys,
        [
            "train",
            "--data",
            str(planted_csv),
            "--target",
            "label",
            "--name",
            "m",
            "--out",
            str(blocker),
            "--epochs",
            "1",
            "--hidden",
            "8",
        ],
    )
    assert f"could not write the model under {blocker}" in err


@contextlib.contextmanager
def refused_writes(folder: Path) -> Iterator[str]:
    """Make ``folder`` refuse writes for this process, and say how.

    Permissions do not stop root, so as root the folder becomes a read-only bind mount of itself
    (the kernel answers EROFS) or, where mounting is not allowed, immutable (chattr +i: EPERM).
    Both act on the folder alone, so the test does not care where the checkout or the venv lives.
    """
    if os.geteuid() != 0:
        os.chmod(folder, 0o555)
        try:
            yield "chmod 555"
        finally:
            os.chmod(folder, 0o755)
        return
    for lock, unlock in (
        (
            [["mount", "--bind", str(folder), str(folder)], ["mount", "-o", "remount,bind,ro", str(folder)]],
            [["umount", str(folder)]],
        ),
        ([["chattr", "+i", str(folder)]], [["chattr", "-i", str(folder)]]),
    ):
        if shutil.which(lock[0][0]) is None:
            continue
        done = [subprocess.run(step, capture_output=True).returncode == 0 for step in lock]
        if not done[0]:
            continue
        try:
            if all(done):
                yield lock[-1][0]
                return
        finally:
            for step in unlock:
                subprocess.run(step, capture_output=True, check=True)
    pytest.skip("as root, neither a read-only bind mount nor chattr +i is available here")


def _files(folder: Path) -> None:
    for name in REQUIRED_FILES:
        (folder / name).write_bytes(b"x")


def test_read_only_output_keeps_earlier_versions(tmp_path, cli_model):
    out = tmp_path / "ro"
    shutil.copytree(cli_model, out / "planted")
    before = sorted(p.name for p in (out / "planted").iterdir())
    with refused_writes(out / "planted"), pytest.raises(OSError) as refused:
        write_bundle(out, "planted", {}, _files)
    assert refused.value.errno in (errno.EACCES, errno.EPERM, errno.EROFS), refused.value
    assert sorted(p.name for p in (out / "planted").iterdir()) == before
    load_bundle(out / "planted")  # the earlier version still loads


def test_version_prints_the_installed_version(capsys):
    with open(Path(__file__).parents[2] / "pyproject.toml", "rb") as f:
        declared = tomllib.load(f)["project"]["version"]
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"catembed {declared}"
