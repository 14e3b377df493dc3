import math
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.canonical import canonical


@pytest.mark.parametrize(
    "value", [1, 1.0, "1", "1.0", "+1", " 1 ", True, np.int64(1), np.float32(1.0), np.bool_(True), "true", "TRUE"]
)
def test_spellings_of_one_are_one_category(value):
    assert canonical(value) == "1"


@pytest.mark.parametrize("value", [None, float("nan"), np.nan, pd.NA, pd.NaT, "", "   ", np.float64("nan")])
def test_missing_values_are_none(value):
    assert canonical(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (False, "0"),
        (0, "0"),
        (-0.0, "0"),
        ("false", "0"),
        ("1.50", "1.5"),
        (1.5, "1.5"),
        ("-2", "-2"),
        ("007", "007"),
        ("UA", "UA"),
        (" UA ", "UA"),
        ("1e3", "1e3"),
        (2**70, str(2**70)),
        ("a/b c", "a/b c"),
    ],
)
def test_examples(value, expected):
    assert canonical(value) == expected


def test_composed_and_decomposed_unicode_agree():
    composed = "café"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert canonical(composed) == canonical(decomposed) == composed


def test_long_digit_strings_are_identifiers_not_numbers():
    digits = "1" * 5000  # int() would refuse this many digits
    assert canonical(digits) == digits


@given(st.integers(min_value=-(2**52), max_value=2**52))
def test_integers_floats_and_strings_agree(n):
    assert canonical(n) == canonical(float(n)) == canonical(str(n)) == canonical(f"{n}.0") == str(n)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_and_its_repr_string_agree(x):
    text = repr(x)
    assert canonical(x) == canonical(text) or "e" in text  # exponent strings stay verbatim


@given(st.text())
def test_any_string_is_stable(text):
    once = canonical(text)
    assert once is None or canonical(once) == once  # idempotent: stored vocabulary re-canonicalises to itself


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()))
def test_result_is_str_or_none(value):
    result = canonical(value)
    assert result is None or (isinstance(result, str) and result == result.strip() and result != "")
    if isinstance(value, float) and math.isnan(value):
        assert result is None
