"""The numeric scalings the trainer can pick: standard, quantile (rank-gauss), both."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from features.numeric import NumericEncoder


@pytest.fixture(scope="module")
def skewed() -> np.ndarray:
    X = np.random.default_rng(0).lognormal(0, 1.5, size=(5000, 2))
    X[::10, 1] = np.nan
    return X


def test_quantile_spreads_a_skewed_column_evenly(skewed):
    standard = NumericEncoder(("a", "b"), "standard").fit(skewed).transform(skewed)
    quantile = NumericEncoder(("a", "b"), "quantile").fit(skewed).transform(skewed)
    assert standard[:, 0].max() > 10  # a few huge outliers after standardising ...
    assert abs(quantile[:, 0].mean()) < 0.05 and abs(quantile[:, 0].std() - 1) < 0.05
    assert quantile[:, 0].max() <= 3.1 and quantile[:, 0].min() >= -3.1  # ... none after rank-gauss
    order = np.argsort(skewed[:, 0])
    assert np.all(np.diff(quantile[order, 0]) >= 0)  # monotone: the ranking is kept


def test_both_concatenates_linear_and_rank_columns(skewed):
    enc = NumericEncoder(("a", "b"), "both").fit(skewed)
    out = enc.transform(skewed)
    assert list(enc.get_feature_names_out()) == ["a", "b", "a__quantile", "b__quantile", "b__missing"]
    assert out.shape == (5000, enc.n_outputs) == (5000, 5)
    np.testing.assert_allclose(out[:, :2], NumericEncoder(("a", "b")).fit(skewed).transform(skewed)[:, :2], atol=1e-6)
    np.testing.assert_allclose(
        out[:, 2:4], NumericEncoder(("a", "b"), "quantile").fit(skewed).transform(skewed)[:, :2], atol=1e-6
    )


def test_ties_and_unseen_values_map_sensibly():
    counts = np.array([[0.0]] * 800 + [[1.0]] * 150 + [[5.0]] * 50)  # mostly zero, like a count
    enc = NumericEncoder(("n",), "quantile").fit(counts)
    zero, one, five = enc.transform(np.array([[0.0], [1.0], [5.0]]))[:, 0]
    assert zero < one < five
    beyond = enc.transform(np.array([[-10.0], [99.0]]))[:, 0]  # clipped to the training range first
    assert beyond[0] == zero and beyond[1] == five
    restored = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(restored.transform(counts), enc.transform(counts))


def test_unknown_scaling_is_refused():
    with pytest.raises(ValueError, match="unknown numeric scaling"):
        NumericEncoder(("a",), "log").fit(np.ones((3, 1)))


@pytest.mark.parametrize("scaling", ["standard", "quantile", "both"])
def test_transform_equals_the_reference_arithmetic_bit_for_bit(scaling):
    # the model input is every part computed in float64, concatenated and cast once, imputed and
    # clipped rows included; the input array is never written to
    rng = np.random.default_rng(11)
    train = rng.lognormal(size=(400, 3))
    train[rng.random(train.shape) < 0.1] = np.nan
    encoder = NumericEncoder(("a", "b", "c"), scaling).fit(train)
    X = rng.lognormal(size=(3000, 3)) * 3 - 1
    X[rng.random(X.shape) < 0.1] = np.nan
    X[0] = [1e300, -1e300, np.nan]
    before = X.copy()
    out, imputed, clipped = encoder.transform_with_report(X)
    np.testing.assert_array_equal(X, before)  # the input is not written to
    filled = np.where(np.isnan(X), encoder.medians_, X)
    values = np.clip(filled, encoder.mins_, encoder.maxs_)
    parts = [] if scaling == "quantile" else [(values - encoder.means_) / encoder.scales_]
    if scaling != "standard":
        knots = zip(encoder.quantile_values_, encoder.quantile_scores_, strict=True)
        parts.append(np.column_stack([np.interp(values[:, j], xp, fp) for j, (xp, fp) in enumerate(knots)]))
    parts.append(np.isnan(X)[:, encoder.indicators_].astype(np.float64))
    expected = np.concatenate(parts, axis=1).astype(np.float32)
    assert out.dtype == np.float32 and encoder.indicators_.all()
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(imputed, np.isnan(X))
    np.testing.assert_array_equal(clipped, values != filled)
    assert clipped[0, 0] and clipped[0, 1] and imputed[0, 2]
