"""Small synthetic tables with a planted signal: a model that learns must beat the baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd

# the settings of the tests' tiny networks (tests/conftest.py's session bundles and most others)
FAST = {"epochs": 25, "patience": 3, "batch_size": 128, "hidden_units": (32, 16), "dropout": (0.0, 0.0), "ensemble": 1}


def planted_frame(n: int = 3000, task: str = "binary", seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colors = np.array(["red", "green", "blue", "black", "white", "grey"])
    color_effect = np.array([2.0, -2.0, 1.0, -1.0, 0.5, 0.0])
    cities = np.array([f"city/{i} é" for i in range(40)])  # '/', space, unicode on purpose
    city_effect = rng.normal(0, 1.0, size=len(cities))
    c = rng.integers(0, len(colors), n)
    city_idx = np.minimum(rng.zipf(1.6, n) - 1, len(cities) - 1)  # long tail: some cities are rare
    size = rng.integers(1, 6, n)  # a low-cardinality integer category
    x = rng.normal(0, 1, n)
    noise = rng.normal(0, 1, n)
    score = color_effect[c] + city_effect[city_idx] + 1.5 * x + 0.3 * size
    frame = pd.DataFrame(
        {
            "color": colors[c],
            "city": cities[city_idx],
            "size": size,
            "x": x,
            "noise": noise,
        }
    )
    frame.loc[rng.random(n) < 0.05, "x"] = np.nan  # missing numerics: imputed + indicator
    frame.loc[rng.random(n) < 0.03, "color"] = None  # missing categories: index 0
    if task == "binary":
        frame["label"] = np.where(score + rng.logistic(0, 0.5, n) > 0.5, "yes", "no")
    elif task == "multiclass":
        frame["label"] = np.select([score < -0.5, score < 1.5], ["low", "mid"], "high")
    else:
        frame["label"] = 10.0 * score + 50 + rng.normal(0, 1.0, n)
    return frame


def streamed_cli_run(tmp_path, *options: str):
    """``catembed train --stream`` on a planted Parquet table with ``options``: (the table, the bundle)."""
    from cli.main import main
    from features.artifacts import load_bundle

    data = tmp_path / "t.parquet"
    frame = planted_frame(n=1200, seed=3)
    frame.to_parquet(data)
    argv = ["train", "--data", str(data), "--target", "label", "--stream", *options, "--epochs", "3", "--hidden", "16,8"]
    assert main([*argv, "--name", "m", "--out", str(tmp_path / "o")]) == 0
    return frame, load_bundle(tmp_path / "o" / "m")


def train_with_every_op(task: str, out, **averaging):
    """The planted table trained with every op kind around the averaged layers: the regression
    network carries batch norm and the piecewise-linear ramps, the multiclass one periodic
    embeddings (weights that each member of an ensemble has of its own)."""
    from features.schema import FeatureSpec
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    spec = FeatureSpec(target="label", task=task, categorical=["color", "city", "size"], numeric=["x", "noise"])
    extra = (
        {"batch_norm": True, "numeric_encoding": "ple", "ple_bins": 4}
        if task == "regression"
        else {"numeric_encoding": "plr", "plr_frequencies": 4, "plr_dims": 3}
    )
    config = TrainConfig(**{**FAST, **extra, "epochs": 4, **averaging})
    return train(planted_frame(task=task), spec, config, name="ens", out=out, log=lambda _: None, verbose=0)
