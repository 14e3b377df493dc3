"""``catembed predict`` on real bundles: the service's answers, kept columns, shards, CSV, the summary."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from tests.scoring.conftest import FEATURES, assert_same_predictions, predict, service_answers


def _inputs(run) -> pd.DataFrame:
    frame = run.valid.reset_index(drop=True).copy()
    frame.loc[::17, "color"] = "purple"  # unseen: the trained unknown vector, counted
    frame.loc[::23, "city"] = None  # missing category
    frame["row_id"] = range(len(frame))
    return frame


def test_predictions_equal_the_services_answers(any_run, tmp_path, capsys):
    frame = _inputs(any_run)
    frame.to_parquet(tmp_path / "in.parquet")
    assert predict(any_run, tmp_path / "in.parquet", tmp_path / "out.parquet", "--batch-rows", "97") == 0
    table = pd.read_parquet(tmp_path / "out.parquet")
    answers, predictor = service_answers(any_run, frame)
    assert_same_predictions(table, answers, any_run.manifest["task"])
    summary = capsys.readouterr().out
    assert f"scored {len(frame):,} rows from 1 file(s)" in summary and "rejected rows: 0" in summary
    # the warnings the service would give, counted per feature the same way
    unseen = predictor.drift.unknown["color"] / len(frame)
    assert predictor.drift.unknown["color"] >= len(frame) // 17 and f"{unseen:.2%}" in summary.split("color")[1].split("\n")[0]


def test_keep_columns_and_a_folder_of_shards_keep_the_input_order(binary_run, tmp_path):
    frame = _inputs(binary_run)
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, part in enumerate(range(0, len(frame), 200)):
        frame.iloc[part : part + 200].to_parquet(shards / f"part-{i:02d}.parquet")
    (shards / ".part-99.parquet.tmp-1-x").write_bytes(b"half a file")  # hidden: an unfinished write, not data
    assert predict(binary_run, shards, tmp_path / "out.parquet", "--keep", "row_id,city") == 0
    table = pd.read_parquet(tmp_path / "out.parquet")
    assert list(table.columns) == ["row_id", "city", "p_no", "p_yes", "label"]
    assert table["row_id"].tolist() == frame["row_id"].tolist()
    assert table["city"].tolist() == frame["city"].tolist()
    answers, _ = service_answers(binary_run, frame)
    assert_same_predictions(table, answers, "binary")


def test_a_csv_scores_like_its_parquet(multiclass_run, tmp_path):
    frame = _inputs(multiclass_run)
    frame.to_csv(tmp_path / "in.csv", index=False)
    assert predict(multiclass_run, tmp_path / "in.csv", tmp_path / "out.parquet", "--keep", "row_id") == 0
    table = pd.read_parquet(tmp_path / "out.parquet")
    assert table["row_id"].tolist() == frame["row_id"].tolist()
    answers, _ = service_answers(multiclass_run, frame)
    assert_same_predictions(table, answers, "multiclass")


def test_keep_cannot_shadow_a_prediction_column(binary_run, tmp_path, capsys):
    _inputs(binary_run).to_parquet(tmp_path / "in.parquet")
    assert predict(binary_run, tmp_path / "in.parquet", tmp_path / "out.parquet", "--keep", "row_id,label") == 2
    assert "clashes with a prediction column" in capsys.readouterr().err
    assert not (tmp_path / "out.parquet").exists()


def test_one_process_imports_neither_ray_nor_tensorflow(binary_run, tmp_path):
    _inputs(binary_run).to_parquet(tmp_path / "in.parquet")
    code = (
        "import sys; from cli.main import main; "
        f"rc = main(['predict', {str(binary_run.path.parent)!r}, '--data', {str(tmp_path / 'in.parquet')!r}, "
        f"'--out', {str(tmp_path / 'out.parquet')!r}]); "
        "loaded = [m for m in ('ray', 'tensorflow', 'keras') if m in sys.modules]; "
        "assert rc == 0 and not loaded, loaded"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("columns", [FEATURES[:-1]])
def test_an_absent_column_stops_before_anything_is_written(binary_run, tmp_path, capsys, columns):
    _inputs(binary_run)[columns].to_parquet(tmp_path / "in.parquet")
    assert predict(binary_run, tmp_path / "in.parquet", tmp_path / "out.parquet") == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "missing column 'noise'" in error and "in.parquet" in error
    assert list(tmp_path.iterdir()) == [tmp_path / "in.parquet"]


def test_the_output_cannot_be_one_of_the_inputs(binary_run, tmp_path, capsys):
    shards = tmp_path / "shards"
    shards.mkdir()
    _inputs(binary_run).to_parquet(shards / "part-0.parquet")
    assert predict(binary_run, shards, shards / "part-0.parquet") == 2
    assert "is one of the input files" in capsys.readouterr().err
    assert predict(binary_run, shards, shards / "scored.parquet") == 0  # a new name in the folder is fine, once
    assert predict(binary_run, shards, shards / "scored.parquet") == 2


def test_with_a_bundle_key_an_unsigned_bundle_is_refused_in_one_line(binary_run, tmp_path, monkeypatch, capsys):
    """CATEMBED_BUNDLE_KEY binds `catembed predict` as it binds the service (docs/bundle.md)."""
    binary_run.valid.to_parquet(tmp_path / "in.parquet")
    monkeypatch.setenv("CATEMBED_BUNDLE_KEY", "team key")
    assert predict(binary_run, tmp_path / "in.parquet", tmp_path / "out.parquet") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "is not signed" in error and "CATEMBED_BUNDLE_KEY" in error
    assert not (tmp_path / "out.parquet").exists()
