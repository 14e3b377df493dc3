"""Out-of-fold vectors (training/loop/out_of_fold.py): real fold networks, real bundles, the real CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cli.main import main
from features.embedding_features import EmbeddingFeatures
from training.data.spec import resolve_spec
from training.loop.config import TrainConfig
from training.loop.out_of_fold import Rotation, out_of_fold_features
from training.loop.trainer import train

FOLDS = 3


def users(n: int, seed: int) -> pd.DataFrame:
    """y = a per-user effect + x + noise: 200 users with ~12 rows each, enough for a network to
    fit the rows' own noise into their users' vectors."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 200, n)
    effect = np.random.default_rng(0).normal(0, 1, 200)
    x = rng.normal(0, 1, n)
    return pd.DataFrame({"user": [f"u{i}" for i in ids], "x": x, "y": effect[ids] + x + rng.normal(0, 1.5, n)})


@pytest.fixture(scope="module")
def crossed(tmp_path_factory):
    frame = users(2500, 1)
    frame.loc[[3, 10], "y"] = np.nan  # unlabelled rows get no vector, and the positions skip them
    spec = resolve_spec(frame, target="y", task="regression", categorical=["user"], numeric=["x"], log=lambda _: None)
    # one network: the leak is a property of each network's vectors (ensemble=None would average five)
    config = TrainConfig().with_overrides(epochs=30, patience=100, hidden_units=(32,), seed=0, ensemble=1)
    out = tmp_path_factory.mktemp("oof")
    result = train(frame, spec, config, name="m", out=out, log=lambda _: None, verbose=0)
    lines: list[str] = []
    return frame, result, out_of_fold_features(frame, spec, config, result.path, folds=FOLDS, log=lines.append), lines


def _r2(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> tuple[float, float]:
    """R² of a least-squares fit on the training rows, on the training rows and on new rows."""
    design = np.c_[train_x, np.ones(len(train_x))]
    coef, *_ = np.linalg.lstsq(design, train_y, rcond=None)

    def r2(x: np.ndarray, y: np.ndarray) -> float:
        residual = y - np.c_[x, np.ones(len(x))] @ coef
        return float(1 - (residual**2).sum() / ((y - y.mean()) ** 2).sum())

    return r2(train_x, train_y), r2(test_x, test_y)


def test_out_of_fold_vectors_do_not_carry_their_rows_targets(crossed):
    # the leak, measured: a linear model on in-sample vectors fits the training rows far better
    # than new rows; on out-of-fold vectors it does as well on new rows as on the training rows
    frame, result, oof, _ = crossed
    labelled = frame.dropna(subset=["y"]).reset_index(drop=True)
    test = users(2000, 2)
    reference = EmbeddingFeatures(result.path.parent).fit()
    in_sample = _r2(reference.transform(labelled), labelled["y"].to_numpy(), reference.transform(test), test["y"].to_numpy())
    crossed_r2 = _r2(oof.features, labelled["y"].to_numpy(), reference.transform(test), test["y"].to_numpy())
    assert in_sample[0] - in_sample[1] > 0.05, in_sample
    assert abs(crossed_r2[0] - crossed_r2[1]) < 0.03, crossed_r2
    assert crossed_r2[1] > 0.1  # and they still carry the users' effects onto new rows


def test_rows_names_and_the_holdout(crossed):
    frame, result, oof, lines = crossed
    assert list(oof.rows) == [i for i in range(len(frame)) if i not in (3, 10)]
    reference = EmbeddingFeatures(result.path.parent).fit()
    assert oof.names == list(reference.get_feature_names_out())
    assert oof.features.shape == (len(frame) - 2, len(oof.names)) and oof.features.dtype == np.float32
    # the holdout rows were never trained on, so they keep the final bundle's own vectors; the
    # training rows all get another network's
    labelled = frame.iloc[oof.rows].reset_index(drop=True)
    own = reference.transform(labelled)
    same = np.all(own == oof.features, axis=1)
    holdout = result.manifest["training"]["rows"]["valid"]
    assert same.sum() == holdout
    assert len(oof.fit) == FOLDS and all(0 < f <= 1 for f in oof.fit)
    assert sum("out-of-fold: network" in line for line in lines) == FOLDS


def test_rotation_recovers_a_turned_and_shifted_space():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(500, 4))
    turn, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    x = (y - 3.0) @ turn.T  # y turned away and shifted
    rotation = Rotation.fit(x, y)
    assert rotation.explained > 0.999999
    np.testing.assert_allclose(rotation(x), y, atol=1e-4)
    narrower = Rotation.fit(x[:, :3], y)  # a fold network with a narrower table: a 3 → 4 map
    assert narrower(x[:5, :3]).shape == (5, 4) and 0 < narrower.explained < 1


def _error(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_cli_writes_the_vectors_whole_and_refuses_what_it_cannot(capsys, tmp_path, monkeypatch):
    data = tmp_path / "t.csv"
    users(600, 3).to_csv(data, index=False)
    argv = [
        "train",
        "--data",
        str(data),
        "--target",
        "y",
        "--out",
        str(tmp_path / "models"),
        "--epochs",
        "2",
        "--hidden",
        "8",
        "--ensemble",
        "1",
    ]
    out = tmp_path / "oof.parquet"
    assert main([*argv, "--name", "m", "--out-of-fold", str(out), "--folds", "2"]) == 0
    written = pd.read_parquet(out)
    assert list(written["row"]) == list(range(600))
    assert [c for c in written.columns if c != "row"] == [c for c in written.columns if c.startswith("user__emb")]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial file left

    # refused before any training: an existing file (never overwritten), a format, a folder, folds
    before = out.read_bytes()
    assert "already exists" in _error(capsys, [*argv, "--name", "n", "--out-of-fold", str(out)])
    assert out.read_bytes() == before
    assert "expected a .parquet or .csv file" in _error(capsys, [*argv, "--name", "n", "--out-of-fold", str(tmp_path / "v.json")])
    assert "does not exist" in _error(capsys, [*argv, "--name", "n", "--out-of-fold", str(tmp_path / "no" / "v.csv")])
    assert "--folds must be at least 2" in _error(
        capsys, [*argv, "--name", "n", "--out-of-fold", str(tmp_path / "v.csv"), "--folds", "1"]
    )
    assert "does not stream" in _error(capsys, [*argv, "--name", "n", "--out-of-fold", str(tmp_path / "v.csv"), "--stream"])
    assert "use --workers 1" in _error(capsys, [*argv, "--name", "n", "--out-of-fold", str(tmp_path / "v.csv"), "--workers", "2"])
    no_vectors = [*argv, "--name", "n", "--out-of-fold", str(tmp_path / "v.csv"), "--numeric", "x", "--categorical", ""]
    assert "no categorical feature" in _error(capsys, no_vectors)
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}')
    assert "TF_CONFIG workers stream" in _error(capsys, [*argv, "--name", "n", "--out-of-fold", str(tmp_path / "v.csv")])
    monkeypatch.delenv("TF_CONFIG")
    assert not (tmp_path / "models" / "n").exists()

    # CSV, with a separate holdout: every row of --data is a training row and gets a fold's vector
    valid = tmp_path / "v.csv"
    users(200, 4).to_csv(valid, index=False)
    csv_out = tmp_path / "oof.csv"
    assert main([*argv, "--name", "c", "--valid", str(valid), "--out-of-fold", str(csv_out), "--folds", "2"]) == 0
    crossed = pd.read_csv(csv_out)
    own = EmbeddingFeatures(tmp_path / "models" / "c").fit().transform(pd.read_csv(data))
    assert len(crossed) == 600 and not np.any(np.all(np.isclose(crossed.drop(columns="row").to_numpy(), own), axis=1))


def test_a_bundle_whose_members_crossed_folds_gets_every_row_out_of_fold(tmp_path):
    # trained on every row (each member held out its own fold), it has no holdout rows to keep
    # its own vectors: every row's vector comes from a fold network that never saw it
    frame = users(600, 4)
    spec = resolve_spec(frame, target="y", task="regression", categorical=["user"], numeric=["x"], log=lambda _: None)
    config = TrainConfig().with_overrides(epochs=3, hidden_units=(8,), seed=0, ensemble=2, ensemble_holdout="folds")
    result = train(frame, spec, config, name="m", out=tmp_path, log=lambda _: None, verbose=0)
    assert result.manifest["training"]["ensemble"]["holdout"] == "folds"
    assert result.manifest["training"]["rows"]["train"] == len(frame)
    oof = out_of_fold_features(frame, spec, config, result.path, folds=2, log=lambda _: None)
    own = EmbeddingFeatures(result.path.parent).fit().transform(frame)
    assert oof.features.shape == own.shape
    assert not np.any(np.all(own == oof.features, axis=1))
