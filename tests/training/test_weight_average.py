"""The served weights are a moving average of the training steps' (``weight_average``): early
stopping must judge exactly the weights the bundle serves, in memory and streamed (the
distributed loop is checked the same way in test_distributed.py)."""

from __future__ import annotations

import numpy as np
import pytest

from cli.main import main
from features.artifacts import load_bundle
from features.errors import DataError
from features.schema import FeatureSpec
from tests.conftest import FAST
from tests.synthetic import planted_frame
from training.loop.auto import average_momentum
from training.loop.config import TrainConfig, seed_config
from training.loop.fitting import MONITOR
from training.loop.trainer import train

SPEC = FeatureSpec(target="label", task="binary", categorical=["color", "city", "size"], numeric=["x", "noise"])


def served_holdout_loss_matches_the_best_epoch(bundle) -> float:
    """The served model's holdout log loss (computed by the bundle writer from the final model)
    against the best epoch's val_fit_loss (what early stopping chose on); returns the gap."""
    training = bundle.manifest["training"]
    best = min(training["history"][MONITOR])
    return abs(bundle.manifest["metrics"]["holdout"]["log_loss"] - best)


@pytest.fixture(scope="module")
def averaged_and_plain(tmp_path_factory):
    root = tmp_path_factory.mktemp("average")
    frame = planted_frame(2000, task="binary")
    bundles = {}
    # a long horizon (3 epochs) makes the average far from the last step's weights, so serving
    # the wrong ones would show in the holdout loss
    for name, epochs in (("averaged", 3.0), ("plain", 0.0)):
        config = TrainConfig(**{**FAST, "epochs": 8, "patience": 8, "weight_average": epochs})
        result = train(frame, SPEC, config, name=name, out=root, log=lambda _: None, verbose=0)
        bundles[name] = load_bundle(result.path.parent, int(result.path.name))
    return bundles


def test_early_stopping_judges_the_weights_that_are_served(averaged_and_plain):
    for bundle in averaged_and_plain.values():
        assert served_holdout_loss_matches_the_best_epoch(bundle) < 2e-4
    assert averaged_and_plain["averaged"].manifest["training"]["config"]["weight_average"] == 3.0


def test_the_average_is_a_different_model_that_still_learns(averaged_and_plain):
    averaged, plain = averaged_and_plain["averaged"], averaged_and_plain["plain"]
    rows = averaged.encoder.transform(planted_frame(300, task="binary", seed=11))
    a = averaged.graph(rows.categorical, rows.numeric)
    b = plain.graph(rows.categorical, rows.numeric)
    assert np.abs(a - b).max() > 1e-3  # the same seed, other weights
    assert averaged.manifest["metrics"]["holdout"]["roc_auc"] > 0.8
    curve = averaged.manifest["training"]["history"][MONITOR]
    assert curve[-1] < curve[0]  # the averaged weights improve over the epochs, not lag at the start


def test_momentum_averages_over_the_given_epochs():
    # 10,000 rows in batches of 100: 100 steps per epoch
    config = TrainConfig(batch_size=100)
    assert average_momentum(config, 10_000) == pytest.approx(0.99)  # the default: one epoch
    assert average_momentum(TrainConfig(batch_size=100, weight_average=0.5), 10_000) == pytest.approx(0.98)
    assert average_momentum(TrainConfig(batch_size=100, weight_average=4), 10_000) == pytest.approx(0.9975)
    # fewer steps than one: the average is the last step's weights, never a negative momentum
    assert average_momentum(TrainConfig(batch_size=512, weight_average=0.1), 1_000) == 0.0
    assert seed_config().fitting.weight_average == 0.0  # the original write-up's network trains as it did


def test_bad_weight_average_is_refused(capsys, tmp_path):
    for bad in (-1, 101, float("nan"), True, "1"):
        with pytest.raises(DataError, match="weight_average is a number of epochs") as caught:
            TrainConfig(weight_average=bad)
        assert caught.value.field == "weight_average"
    data = tmp_path / "t.csv"
    planted_frame(200).to_csv(data, index=False)
    code = main(
        ["train", "--data", str(data), "--target", "label", "--out", str(tmp_path / "o"), "--name", "m", "--weight-average", "-2"]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "weight_average" in err and "-2" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").rglob("manifest.json"))


def test_the_distributed_loop_reads_the_average_fit_swaps_in():
    """training.distributed.strategy evaluates and keeps ``served_weights``: after some steps they are
    the averages keras.callbacks.SwapEMAWeights swaps in under fit, not the last step's."""
    import keras

    from training.loop.fitting import served_weights

    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(4, activation="relu")(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.9), loss="mse")
    x, y = np.random.default_rng(0).normal(size=(64, 3)), np.ones((64, 1))
    for _ in range(5):
        model.train_on_batch(x, y)
    last_step = model.get_weights()
    swap = keras.callbacks.SwapEMAWeights()
    swap.set_model(model)
    swap.on_test_begin()
    averaged = model.get_weights()
    swap.on_test_end()
    served = served_weights(model)
    assert max(np.abs(a - b).max() for a, b in zip(averaged, last_step, strict=True)) > 1e-3
    for got, expected in zip(served, averaged, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
