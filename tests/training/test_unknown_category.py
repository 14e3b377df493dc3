"""An unseen category value gets a sensible prediction: the one learned from the feature's rare
values, not whatever a random unknown row gives. Every value seen at least min_frequency times
keeps its own vector, and the unknown row 0 is still trained: by the folded rare rows, and with
shrinkage (features of ≥ 1,000 values by default) by every row through e_0 + s_c·d_c."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.artifacts import load_bundle
from features.coverage import Coverage
from features.schema import FeatureSpec
from training.loop.config import TrainConfig
from training.loop.trainer import train

RARE_EFFECT = 3.0  # rare shops all sell dearer than any frequent one
FREQUENT_EFFECTS = np.linspace(-1.5, 1.5, 8)


def _planted(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frequent = [f"shop{i}" for i in range(len(FREQUENT_EFFECTS))]
    shops = list(rng.choice(frequent, 2400))
    effects = [FREQUENT_EFFECTS[int(s[4:])] for s in shops]
    for i in range(300):  # 300 rare shops, one or two rows each: below min_frequency 5
        for _ in range(1 + i % 2):
            shops.append(f"tiny{i}")
            effects.append(RARE_EFFECT)
    x = rng.normal(0, 1, len(shops))
    y = np.asarray(effects) + 0.5 * x + rng.normal(0, 0.2, len(shops))
    return pd.DataFrame({"shop": shops, "x": x, "price": y}).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _predict(bundle, shops: list[str]) -> np.ndarray:
    batch = bundle.encoder.transform({"shop": shops, "x": [0.0] * len(shops)})
    return bundle.target.values(bundle.graph(batch.categorical, batch.numeric)).reshape(-1)


VARIANTS = {
    "default": {},
    # no folding at all, every table shrunk: row 0 is trained through the shrinkage
    "every_value_shrunk": {"min_frequency": 1, "shrinkage_min_values": 0},
    "untrained_row_0": {"min_frequency": 1, "shrinkage": 0.0},  # plain tables, nothing ever indexes row 0
}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    frame = _planted()
    spec = FeatureSpec(target="price", task="regression", categorical=["shop"], numeric=["x"])
    # one network each: the default five-network average of a small regression table would
    # blur what one untrained row 0 does (five random rows average towards the mean)
    fast = {"hidden_units": (32, 16), "dropout": (0.0, 0.0), "epochs": 40, "batch_size": 128, "ensemble": 1}
    out = tmp_path_factory.mktemp("unknown")
    loaded = {}
    for label, overrides in VARIANTS.items():
        config = TrainConfig().with_overrides(**fast, **overrides)
        run = train(frame, spec, config, name=label, out=out, log=lambda _: None, verbose=0)
        loaded[label] = load_bundle(run.path.parent, int(run.path.name))
    return loaded


def test_default_min_frequency_folds_only_the_one_or_two_row_shops(bundles):
    encoder = bundles["default"].encoder.categorical_["shop"]
    # (the trainer holds 20 % out for early stopping, so not every rare shop is in the fit part)
    assert encoder.n_rare_values_ > 200 and encoder.vocabulary_ == sorted(encoder.vocabulary_, key=encoder.index_.get)
    assert sorted(encoder.vocabulary_) == [f"shop{i}" for i in range(len(FREQUENT_EFFECTS))]
    assert Coverage.of(encoder).coverage == 1.0


def test_unseen_value_predicts_like_the_rare_values(bundles):
    bundle = bundles["default"]
    unseen = _predict(bundle, ["a-shop-opened-today"])[0]
    rare = _predict(bundle, [f"tiny{i}" for i in range(300)])
    frequent = _predict(bundle, [f"shop{i}" for i in range(len(FREQUENT_EFFECTS))])
    # close to what the model predicts for rare values, and to what rare shops really cost ...
    assert abs(unseen - rare.mean()) < 1e-5
    assert abs(unseen - RARE_EFFECT) < 0.4, unseen
    # ... and not arbitrary: each frequent shop's prediction tracks its own effect, far from it
    assert np.all(np.abs(frequent - FREQUENT_EFFECTS) < 0.4), frequent
    assert np.min(np.abs(frequent - unseen)) > 1.0


def test_with_shrinkage_the_unknown_row_is_trained_even_when_nothing_is_folded(bundles):
    # every tiny shop has its own row, next to e_0: e_0 is learned through their rows
    bundle = bundles["every_value_shrunk"]
    assert bundle.encoder.categorical_["shop"].n_rare_values_ == 0
    unseen = _predict(bundle, ["a-shop-opened-today"])[0]
    rare = _predict(bundle, [f"tiny{i}" for i in range(300)])
    frequent = _predict(bundle, [f"shop{i}" for i in range(len(FREQUENT_EFFECTS))])
    assert abs(unseen - RARE_EFFECT) < 0.4, unseen
    assert np.max(np.abs(rare - unseen)) < 0.1  # one or two rows move a value barely off e_0
    assert np.all(np.abs(frequent - FREQUENT_EFFECTS) < 0.4), frequent


def test_an_untrained_unknown_row_is_worse(bundles):
    # plain tables and no folding: nothing trains row 0, the unseen prediction lands far from the rare shops'
    trained = _predict(bundles["default"], ["a-shop-opened-today"])[0]
    untrained = _predict(bundles["untrained_row_0"], ["a-shop-opened-today"])[0]
    assert abs(untrained - RARE_EFFECT) > abs(trained - RARE_EFFECT) + 0.5, (trained, untrained)
