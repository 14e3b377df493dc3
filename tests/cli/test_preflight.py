"""`catembed train` refuses a path that does not exist and a table without rows before it imports
TensorFlow or pandas (issue 29: that took 7–8 s; how long it takes now is in docs/training.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

# runs the CLI in a fresh interpreter and says which heavy modules it had imported when it returned
PROBE = """
import sys
from cli.main import main
code = main(sys.argv[1:])
print(code, sorted(m for m in ("tensorflow", "keras", "pandas", "sklearn") if m in sys.modules))
"""


def _train(tmp_path: Path, data: str, *extra: str) -> tuple[str, str]:
    argv = ["train", "--data", data, "--target", "label", "--name", "m", "--out", str(tmp_path / "out"), *extra]
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120, check=False)
    return done.stdout.strip(), done.stderr.strip()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "empty.csv").write_text("")
    (folder / "header.csv").write_text("color,x,label\n\n")
    (folder / "good.csv").write_text("color,x,label\nred,1,yes\n")
    pq.write_table(pa.table({"color": pa.array([], pa.string()), "label": pa.array([], pa.string())}), folder / "none.parquet")
    return folder


@pytest.mark.parametrize(
    ("data", "extra", "said"),
    [
        ("nope.csv", (), "error: data {folder}/nope.csv does not exist"),
        ("empty.csv", (), "error: {folder}/empty.csv has no rows"),
        ("header.csv", (), "error: {folder}/header.csv has no rows"),
        ("none.parquet", (), "error: {folder}/none.parquet has no rows"),
        ("*.tsv", (), "error: data pattern '{folder}/*.tsv' matches no file"),
        ("good.csv", ("--valid", "{folder}/gone.csv"), "error: valid {folder}/gone.csv does not exist"),
        ("good.csv", ("--spec", "{folder}/gone.yaml"), "error: spec {folder}/gone.yaml does not exist"),
    ],
)
def test_inputs_are_refused_before_the_heavy_imports(inputs, tmp_path, data, extra, said):
    out, err = _train(tmp_path, f"{inputs}/{data}", *(e.format(folder=inputs) for e in extra))
    assert err == said.format(folder=inputs)
    assert out == "2 []"  # exit code 2, and neither TensorFlow nor pandas was imported
