"""`--numeric-encoding auto`: the step score picks staircase features, and the networks built
from the pick (in memory and streamed) expand exactly those, parity-checked and served."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from features.artifacts import load_bundle
from features.numeric import NumericEncoder
from features.schema import FeatureSpec
from tests.app.conftest import records, settings_for
from tests.conftest import FAST
from training.loop.config import TrainConfig
from training.model.step_features import STEP_THRESHOLD, noise_margin, one_hot, step_features, step_scores

NAMES = ("stair", "line", "curve", "noise")


def table(n: int, seed: int) -> pd.DataFrame:
    """price = a non-monotone staircase in `stair` + a line in `line` + a parabola in `curve`."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.uniform(0, 100, n) for name in NAMES})
    frame["shop"] = rng.choice(["a", "b", "c"], n)
    stair = np.select([frame["stair"] < 20, frame["stair"] < 45, frame["stair"] < 70], [0.0, 3.0, -1.0], 2.0)
    line = 0.03 * frame["line"]
    curve = ((frame["curve"] - 50) / 25) ** 2
    frame["price"] = 10 + stair + line + curve + (frame["shop"] == "a") + rng.normal(0, 0.5, n)
    return frame


def scores_of(frame: pd.DataFrame) -> np.ndarray:
    encoder = NumericEncoder(NAMES, "both").fit(frame[list(NAMES)].to_numpy())
    return encoder.transform(frame[list(NAMES)].to_numpy())[:, encoder.score_columns()]


def test_only_the_staircase_is_picked():
    frame = table(6000, seed=1)
    scores = step_scores(scores_of(frame), frame["price"].to_numpy())
    assert scores[0] > 0.3  # the staircase: bins explain far more than any cubic
    assert all(abs(s) < 0.02 for s in scores[1:])  # a line and a parabola are smooth, noise is nothing
    assert step_features(scores_of(frame), frame["price"].to_numpy()) == [0]


@pytest.mark.parametrize("n", [300, 3000, 30000])
def test_noise_scores_about_zero_at_any_size(n):
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=(n, 3)), rng.normal(size=n)
    # the adjustment removes the bins' free fit on average; the noise margin covers the spread
    assert np.abs(step_scores(x, y)).max() < noise_margin(n) + (0.0 if n < 3000 else STEP_THRESHOLD / 2)
    assert step_features(x, y) == []


def test_class_labels_are_judged_as_indicator_columns():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(5000, 2))
    labels = np.where(np.abs(z[:, 0]) < 0.5, 2, np.where(z[:, 0] > 0, 1, 0))  # a band in the middle is class 2
    assert step_features(z, one_hot(labels, 3)) == [0]
    assert step_scores(np.zeros((10, 1)), np.ones(10)).tolist() == [0.0]  # a constant target: nothing to explain


def test_auto_expands_the_picked_feature_in_memory_and_streamed(tmp_path):
    from training.loop.trainer import train, train_files

    frame = table(2400, seed=2)
    spec = FeatureSpec(target="price", task="regression", categorical=["shop"], numeric=list(NAMES))
    config = TrainConfig(**{**FAST, "numeric_encoding": "auto", "ple_bins": 8})
    logged: list[str] = []
    memory = train(
        frame.iloc[:2000], spec, config, name="auto", out=tmp_path, valid=frame.iloc[2000:], log=logged.append, verbose=0
    )
    assert memory.manifest["training"]["ple_features"] == ["stair"]
    assert any("piecewise-linear encoding (auto" in line and "stair" in line for line in logged)
    bundle = load_bundle(memory.path.parent, int(memory.path.name))
    stair_score = bundle.encoder.numeric_.score_columns()[0]
    assert bundle.graph.expansion is not None and bundle.graph.expansion.parts[0].columns.tolist() == [stair_score]
    # 2,000 rows: auto is auto+plr, ramps then periodic embeddings, the staircase's started sharp
    assert bundle.graph.expansion.kind == "piecewise_linear+periodic"
    periodic = memory.model.get_layer("periodic_embedding")
    assert periodic.sharp == [stair_score] and periodic.sharp_sigma == config.encoding.plr_step_sigma == 3.0
    assert memory.manifest["parity"]["max_abs_diff"] <= 1e-5
    batch = bundle.encoder.transform(frame.iloc[2000:])
    served = bundle.target.values(bundle.graph(batch.categorical, batch.numeric)).reshape(-1)
    assert float(np.sqrt(np.mean((served - frame["price"].iloc[2000:]) ** 2))) < 0.8 * frame["price"].std()
    with TestClient(create_app(settings_for(memory))) as client:  # the real app serves the expanded graph
        assert client.get("/model").json()["training"]["ple_features"] == ["stair"]
        answer = client.post("/predict", json={"records": records(frame.iloc[2000:2010].drop(columns=["price"]))})
        assert answer.status_code == 200
        np.testing.assert_allclose([p["value"] for p in answer.json()["predictions"]], served[:10], rtol=1e-5)

    folder = tmp_path / "shards"
    folder.mkdir()
    pq.write_table(pa.Table.from_pandas(frame.iloc[:2000], preserve_index=False), folder / "part-0.parquet")
    pq.write_table(pa.Table.from_pandas(frame.iloc[2000:], preserve_index=False), tmp_path / "valid.parquet")
    streamed = train_files(
        str(folder), spec, config, name="auto", out=tmp_path, valid=str(tmp_path / "valid.parquet"), log=lambda _: None, verbose=0
    )
    assert streamed is not None and streamed.manifest["training"]["ple_features"] == ["stair"]
    assert load_bundle(streamed.path.parent, int(streamed.path.name)).graph.expansion.parts[0].columns.tolist() == [stair_score]


def test_no_pick_builds_the_plain_network(tmp_path):
    from training.loop.trainer import train

    frame = table(1200, seed=4).drop(columns=["stair"])
    spec = FeatureSpec(target="price", task="regression", categorical=["shop"], numeric=["line", "curve", "noise"])
    run = train(
        frame,
        spec,
        TrainConfig(**{**FAST, "numeric_encoding": "auto"}),
        name="plain",
        out=tmp_path,
        log=lambda _: None,
        verbose=0,
    )
    assert run.manifest["training"]["ple_features"] == []
    # no ramps; a table this small gets periodic embeddings of every feature (auto+plr), alone
    expansion = load_bundle(run.path.parent, int(run.path.name)).graph.expansion
    assert expansion is not None and expansion.kind == "periodic"
    assert "numeric_expansion" not in run.manifest["model"]["layers"]
