import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.categorical import UNKNOWN_INDEX, CategoricalEncoder
from features.encoder import TabularEncoder
from features.errors import InvalidInput
from features.numeric import NumericEncoder
from features.target import LabelTarget, ScaledTarget

values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(-3, 3), st.sampled_from(["a", "b", " a", "1", "1.0", ""])
)


def test_vocabulary_order_unknown_and_missing():
    enc = CategoricalEncoder(min_frequency=2).fit(["b", "a", "a", "b", "b", "c", None, float("nan")])
    assert enc.vocabulary_ == ["b", "a"]  # most frequent first; "c" is rarer than min_frequency
    assert enc.counts_ == [3, 2]
    assert enc.n_rare_values_ == 1 and enc.n_rare_rows_ == 1 and enc.n_missing_rows_ == 2
    out = enc.transform(["a", "b", "c", "zzz", None, float("nan"), ""])
    assert out.tolist() == [2, 1, UNKNOWN_INDEX, UNKNOWN_INDEX, 0, 0, 0]
    assert out.dtype == np.int32


def test_rare_values_train_the_unknown_row():
    # during training the rare value maps to 0, so row 0 of the embedding gets gradient
    train = ["x"] * 10 + ["rare"]
    enc = CategoricalEncoder(min_frequency=2).fit(train)
    assert (enc.transform(train) == 0).sum() == 1


def test_equivalent_spellings_share_an_index():
    enc = CategoricalEncoder().fit([1, 2, 2, True])
    assert len(set(enc.transform([1, 1.0, "1", "1.0", True, np.int64(1)]).tolist())) == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(values, min_size=1, max_size=30), st.lists(values, min_size=1, max_size=30))
def test_vectorised_transform_equals_value_by_value(train, serve):
    enc = CategoricalEncoder(min_frequency=1).fit(train)
    first = enc.transform(serve).tolist()
    again = enc.transform(serve).tolist()  # second call goes through the warmed cache
    assert first == again == [enc.index_of(v) for v in serve]
    assert all(0 <= i < enc.n_indices for i in first)


def test_unhashable_value_is_a_clear_error():
    enc = TabularEncoder(categorical=("c",)).fit({"c": ["a", "b"]})
    with pytest.raises(InvalidInput) as info:
        enc.transform({"c": [["a"]]})
    assert info.value.field == "c"


def test_pickle_round_trip_keeps_behaviour(tmp_path):
    import joblib

    enc = CategoricalEncoder().fit(["a", "b", "b"])
    enc.transform(["a", "zz"])  # fills the cache; it must not be needed after loading
    joblib.dump(enc, tmp_path / "e.joblib")
    loaded = joblib.load(tmp_path / "e.joblib")
    assert loaded.transform(["a", "b", "zz", None]).tolist() == enc.transform(["a", "b", "zz", None]).tolist()


def test_numeric_impute_indicator_clip_standardise():
    X = np.array([[1.0, 10.0], [2.0, np.nan], [3.0, 30.0], [4.0, 20.0]])
    enc = NumericEncoder(("a", "b")).fit(X)
    assert enc.medians_.tolist() == [2.5, 20.0]
    assert enc.indicators_.tolist() == [False, True]
    assert list(enc.get_feature_names_out()) == ["a", "b", "b__missing"]
    out, imputed, clipped = enc.transform_with_report(np.array([[np.nan, 100.0]]))
    assert imputed.tolist() == [[True, False]] and clipped.tolist() == [[False, True]]
    a = (2.5 - 2.5) / np.std([1, 2, 3, 4])
    b = (30.0 - 20.0) / np.std([10, 30, 20])  # clipped to the training max, 30
    np.testing.assert_allclose(out, [[a, b, 0.0]], rtol=1e-6)


def test_text_in_numeric_column_names_column_row_and_value():
    enc = TabularEncoder(numeric=("n",))
    with pytest.raises(InvalidInput) as info:
        enc.fit(pd.DataFrame({"n": ["1", "2", "three"]}))
    assert info.value.field == "n" and info.value.value == "three" and "row 2" in info.value.message


def test_missing_column_lists_expected():
    enc = TabularEncoder(categorical=("a",), numeric=("b",)).fit({"a": ["x"], "b": [1.0]})
    with pytest.raises(InvalidInput, match="missing column 'b'"):
        enc.transform({"a": ["x"]})


def test_dataframe_and_lists_encode_identically():
    frame = pd.DataFrame({"c": ["a", None, "b", "a"], "n": [1.0, None, 3.0, 4.0]})
    enc = TabularEncoder(("c",), ("n",)).fit(frame)
    from_frame = enc.transform(frame)
    from_lists = enc.transform({"c": ["a", None, "b", "a"], "n": [1, None, 3, 4]})
    for x, y in zip(from_frame.model_inputs(), from_lists.model_inputs(), strict=True):
        np.testing.assert_array_equal(x, y)


def test_label_target_keeps_label_types_and_order():
    target = LabelTarget().fit(pd.Series([3, 1, 2, 1]))
    assert target.classes_ == [1, 2, 3] and type(target.classes_[0]) is int
    assert target.transform([2, 3]).tolist() == [1, 2]
    np.testing.assert_allclose(target.probabilities(np.array([[0.2, 0.3, 0.5]])), [[0.2, 0.3, 0.5]])
    binary = LabelTarget().fit(["no", "yes"])
    np.testing.assert_allclose(binary.probabilities(np.array([[0.8]])), [[0.2, 0.8]])
    with pytest.raises(ValueError, match="not seen in training"):
        binary.transform(["maybe"])


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=50))
def test_scaled_target_inverse_is_exact(y):
    target = ScaledTarget().fit(y)
    np.testing.assert_allclose(target.inverse_transform(target.transform(y)), y, rtol=1e-9, atol=1e-6)


@given(st.lists(st.floats(0, 1e6), min_size=2, max_size=50))
def test_log_target_inverse_is_exact(y):
    target = ScaledTarget("log").fit(y)
    assert target.log_
    np.testing.assert_allclose(target.inverse_transform(target.transform(y)), y, rtol=1e-9, atol=1e-6)


def test_auto_target_scale_logs_only_skewed_non_negative_targets():
    rng = np.random.default_rng(0)
    prices = rng.lognormal(4, 0.6, 2000)  # skewed, positive: multiplicative
    assert ScaledTarget("auto").fit(prices).log_
    assert not ScaledTarget("auto").fit(np.log(prices)).log_  # already symmetric
    assert not ScaledTarget("auto").fit(prices - 100).log_  # negative values: never log
    assert not ScaledTarget().fit(prices).log_  # linear by default for direct use
    with pytest.raises(ValueError, match="needs values"):
        ScaledTarget("log").fit([-1.0, 2.0])


def test_bundles_from_before_the_option_still_load():
    import pickle

    target = ScaledTarget().fit([1.0, 2.0, 3.0])
    state = target.__dict__.copy()
    del state["scale"], state["log_"]  # what an older bundle pickled
    old = ScaledTarget.__new__(ScaledTarget)
    old.__setstate__(state)
    restored = pickle.loads(pickle.dumps(old))
    np.testing.assert_allclose(restored.inverse_transform(np.array([0.0])), [2.0])


def test_encoders_follow_scikit_learn_conventions():
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    enc = TabularEncoder(categorical=("c",), min_frequency=3)
    assert enc.get_params() == {
        "categorical": ("c",),
        "numeric": (),
        "min_frequency": 3,
        "max_categories": None,
        "numeric_transform": "standard",
    }
    assert not hasattr(enc, "categorical_")  # __init__ learns nothing
    assert enc.fit({"c": ["a"]}) is enc  # fit returns self
    copy = clone(enc)
    assert copy.get_params() == enc.get_params() and not hasattr(copy, "categorical_")
    assert list(Pipeline([("enc", clone(enc))]).fit({"c": ["a", "b"]}).named_steps["enc"].get_feature_names_out()) == ["c"]
    with pytest.raises(ValueError, match="invalid parameter"):
        enc.set_params(nope=1)
