import numpy as np
import pandas as pd
import pytest

from features.errors import DataError
from features.schema import FeatureSpec
from training.data.spec import dump_spec, infer_task, load_spec, resolve_spec


def frame(n=200):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "code": [f"c{i}" for i in range(n)],
            "carrier": rng.choice(["UA", "AA"], n),
            "hour": rng.integers(0, 24, n),
            "distance": rng.integers(100, 5000, n),
            "price": rng.normal(size=n),
            "flag": rng.random(n) > 0.5,
            "const": 1,
            "empty": np.nan,
            "y": rng.integers(0, 2, n),
        }
    )


def test_inference_rules():
    logged = []
    spec = resolve_spec(frame(), target="y", log=logged.append)
    assert spec.categorical == ["carrier", "hour", "flag"]
    assert spec.numeric == ["hour", "distance", "price"]  # hour: 24 integer values, a number and a category
    assert spec.dropped == {
        "id": "id-like: one value per row",
        "code": "id-like: one value per row",
        "const": "constant: a single value",
        "empty": "all values missing",
    }
    assert spec.task == "binary"
    assert any("id-like: one value per row" in line.split("  id ", 1)[-1] for line in logged)


def test_explicit_columns_are_used_as_given():
    spec = resolve_spec(frame(), target="price", categorical=["carrier"], numeric=["distance"])
    assert (spec.categorical, spec.numeric, spec.task) == (["carrier"], ["distance"], "regression")


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1] * 5, "binary"),
        (list("abcab"), "multiclass"),
        ([0.5, 1.5, 2.25], "regression"),
        (list(range(100)), "regression"),
        ([True, False], "binary"),
    ],
)
def test_task_inference(values, task):
    assert infer_task(pd.Series(values, name="t")) == task


def test_single_class_target_is_an_error():
    with pytest.raises(DataError, match="1 distinct value"):
        infer_task(pd.Series([1, 1, 1], name="t"))


def test_spec_errors_name_the_column():
    with pytest.raises(DataError, match="target column 'nope' is not in the data"):
        resolve_spec(frame(), target="nope")
    with pytest.raises(DataError, match="spec column 'ghost'"):
        resolve_spec(frame(), target="y", categorical=["ghost"])
    with pytest.raises(DataError, match="'empty' has only missing values"):
        resolve_spec(frame(), target="y", numeric=["empty"])


def test_yaml_round_trip(tmp_path):
    spec = FeatureSpec("y", "binary", ["a"], ["b"], {"a": 3})
    path = tmp_path / "spec.yaml"
    path.write_text(dump_spec(spec))
    assert load_spec(path) == spec


def test_bad_spec_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("target: y\ncolour: [a]\n")
    with pytest.raises(DataError, match="unknown spec keys"):
        load_spec(bad)
    with pytest.raises(DataError, match="does not exist"):
        load_spec(tmp_path / "missing.yaml")
    with pytest.raises(DataError, match="listed twice"):
        FeatureSpec("y", None, ["a", "a"], [])
    both = FeatureSpec("y", None, ["a"], ["a", "b"])  # "a" is a number and a category: one column
    assert (both.features, both.both) == (["a", "b"], ["a"])
