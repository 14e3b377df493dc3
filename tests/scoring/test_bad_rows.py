"""Rows that cannot be scored: stop with file, row and field (exit 2, no output), or skip them into
OUT.rejects.parquet; and a killed run leaves no output file behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tests.scoring.conftest import FEATURES, assert_same_predictions, predict, service_answers

BAD_ROWS = (5, 130)


def _with_text_in_x(run, folder: Path) -> tuple[Path, pd.DataFrame]:
    """A CSV whose numeric column x holds text on two rows (in different batches)."""
    frame = run.valid.reset_index(drop=True)[FEATURES].copy()
    x = frame["x"].astype(object)
    for row in BAD_ROWS:
        x[row] = "n/a!"
    frame["x"] = x
    path = folder / "in.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_a_bad_row_stops_the_run_naming_file_row_and_field(binary_run, tmp_path, capsys):
    data, _ = _with_text_in_x(binary_run, tmp_path)
    out = tmp_path / "out.parquet"
    assert predict(binary_run, data, out, "--batch-rows", "64") == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0, error
    # the data row counted from 1, and the file's line (the header is line 1): where an editor shows it
    assert f"{data}, row {BAD_ROWS[0] + 1} (line {BAD_ROWS[0] + 2}), field 'x': 'n/a!' is not a number" in error
    assert "n/a!" in data.read_text().splitlines()[BAD_ROWS[0] + 2 - 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no output, no temporary file


def test_skip_writes_the_bad_rows_to_rejects_and_scores_the_rest(binary_run, tmp_path, capsys):
    data, frame = _with_text_in_x(binary_run, tmp_path)
    out = tmp_path / "out.parquet"
    assert predict(binary_run, data, out, "--on-error", "skip") == 0
    assert "rejected rows: 2" in capsys.readouterr().out
    rejects = pq.read_table(tmp_path / "out.rejects.parquet").to_pylist()
    assert [(r["file"], r["row"], r["field"], r["value"]) for r in rejects] == [(str(data), row, "x", "n/a!") for row in BAD_ROWS]
    assert all("not a number" in r["reason"] for r in rejects)
    good = frame.drop(index=list(BAD_ROWS)).reset_index(drop=True)
    good["x"] = good["x"].astype(float)
    answers, _ = service_answers(binary_run, good)
    assert_same_predictions(pd.read_parquet(out), answers, "binary")


def test_unhashable_categories_and_infinite_numbers_are_rejected(binary_run, tmp_path):
    frame = binary_run.valid.reset_index(drop=True)[FEATURES].head(50)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    city = [[c] if i == 7 else c for i, c in enumerate(frame["city"])]  # a list is no category
    table = table.set_column(table.schema.get_field_index("city"), "city", pa.array([str(c) for c in city]))
    noise = frame["noise"].tolist()
    noise[9] = float("inf")
    table = table.set_column(table.schema.get_field_index("noise"), "noise", pa.array(noise))
    pq.write_table(table, tmp_path / "in.parquet")
    assert predict(binary_run, tmp_path / "in.parquet", tmp_path / "out.parquet", "--on-error", "skip") == 0
    rejects = pq.read_table(tmp_path / "out.rejects.parquet").to_pylist()
    assert [(r["row"], r["field"]) for r in rejects] == [(9, "noise")]
    assert "not a finite number" in rejects[0]["reason"]
    lists = table.set_column(table.schema.get_field_index("city"), "city", pa.array([[c] for c in frame["city"]]))
    pq.write_table(lists, tmp_path / "lists.parquet")
    assert predict(binary_run, tmp_path / "lists.parquet", tmp_path / "out2.parquet", "--on-error", "skip") == 0
    rejects = pq.read_table(tmp_path / "out2.rejects.parquet").to_pylist()
    assert len(rejects) == 50 and {r["field"] for r in rejects} == {"city"}
    assert "list is not a category value" in rejects[0]["reason"]
    assert pq.read_table(tmp_path / "out2.parquet").num_rows == 0


def test_a_killed_run_leaves_no_output(binary_run, tmp_path):
    frame = binary_run.valid.reset_index(drop=True)[FEATURES]
    big = pd.concat([frame] * (300_000 // len(frame) + 1), ignore_index=True)
    big.to_parquet(tmp_path / "big.parquet", row_group_size=20_000)
    out = tmp_path / "out.parquet"
    catembed = Path(sys.executable).parent / "catembed"
    command = [str(catembed), "predict", str(binary_run.path.parent), "--data", str(tmp_path / "big.parquet"), "--out", str(out)]
    process = subprocess.Popen([*command, "--batch-rows", "500"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, temporary = time.time() + 120, []
    while not temporary and process.poll() is None and time.time() < deadline:
        temporary = list(tmp_path.glob(".out.parquet.tmp-*"))
        time.sleep(0.01)
    time.sleep(0.2)  # well into the writing
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert temporary, "the run never started writing"
    assert process.returncode == -signal.SIGKILL
    assert not out.exists()
    # the next run in that folder removes the dead run's temporary file and writes the whole output
    assert subprocess.run(command, capture_output=True, check=False).returncode == 0
    assert pq.read_metadata(out).num_rows == len(big)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.parquet", "out.parquet"]
