"""Permutation importance on the holdout, through the exported NumPy graph: stored in the manifest."""

from __future__ import annotations

import numpy as np
import pytest

from features.artifacts import load_bundle
from training.export.importance import SHUFFLES, permutation_importance


def test_the_planted_signal_ranks_above_the_noise_column(binary_run):
    found = binary_run.manifest["importance"]
    assert found["metric"] == "roc_auc" and found["shuffles"] == SHUFFLES == 5
    assert found["rows"] == len(binary_run.valid)
    assert found["score"] == pytest.approx(binary_run.manifest["metrics"]["holdout"]["roc_auc"], abs=1e-4)
    drops = {f["name"]: f for f in found["features"]}
    assert set(drops) == {"color", "city", "size", "x", "noise"}
    assert [f["drop"] for f in found["features"]] == sorted((f["drop"] for f in found["features"]), reverse=True)
    for name, f in drops.items():
        assert len(f["drops"]) == 5 and f["drop"] == pytest.approx(np.mean(f["drops"]), abs=1e-6)
        assert f["sd"] == pytest.approx(np.std(f["drops"], ddof=1), abs=1e-6), name
    # the score is built from color, city and x (tests/synthetic.py); noise carries nothing
    for planted in ("color", "city", "x"):
        assert drops[planted]["drop"] > max(0.005, 3 * abs(drops["noise"]["drop"])), (planted, drops)


def test_recomputed_from_the_bundle_alone(binary_run, regression_run):
    for run, metric in ((binary_run, "roc_auc"), (regression_run, "rmse")):
        bundle = load_bundle(run.path.parent, int(run.path.name))
        inputs = bundle.encoder.transform(run.valid).model_inputs()
        again = permutation_importance(
            bundle.graph, bundle.encoder, bundle.target, bundle.manifest["task"], inputs, run.valid["label"]
        )
        stored = run.manifest["importance"]
        assert again["metric"] == metric
        assert [f["name"] for f in again["features"]] == [f["name"] for f in stored["features"]]
        np.testing.assert_allclose([f["drop"] for f in again["features"]], [f["drop"] for f in stored["features"]], atol=1e-5)
        # a worse RMSE is a positive drop too: every planted feature loses when shuffled
        assert next(f for f in again["features"] if f["name"] == "x")["drop"] > 0


def test_a_sampled_holdout_and_the_numeric_missing_flag_travel_together(binary_run):
    bundle = load_bundle(binary_run.path.parent, int(binary_run.path.name))
    inputs = bundle.encoder.transform(binary_run.valid).model_inputs()
    found = permutation_importance(
        bundle.graph, bundle.encoder, bundle.target, "binary", inputs, binary_run.valid["label"], shuffles=2, max_rows=100
    )
    assert found["rows"] == 100 and all(len(f["drops"]) == 2 for f in found["features"])
    names = list(bundle.encoder.numeric_.get_feature_names_out())
    assert "x__missing" in names  # x has missing values: its flag column is shuffled with it
