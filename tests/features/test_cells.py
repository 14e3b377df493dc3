"""features.cells: one rule for a valid cell, and every entry point (the service's JSON records,
the encoder's columns, Arrow batches, catembed predict's row check) applies it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from app.records import RecordParser
from features import cells
from features.arrow_batch import numbers as arrow_numbers
from features.encoder import to_float
from features.errors import InvalidInput
from scoring import rejects

# (value, a number or missing for a file's text?, for JSON?)
NUMERIC_CELLS = [
    (None, True, True),
    ("", True, True),  # a CSV's empty field: missing, everywhere
    ("   ", True, True),
    (3, True, True),
    (-2.5, True, True),
    ("3.5", True, False),  # JSON has numbers: text is not one there
    (" 1e3 ", True, False),
    (True, True, False),
    ("lots", False, False),
    ("inf", False, False),
    (10**400, False, False),  # an integer beyond the float range
    ([1], False, False),
]


@pytest.mark.parametrize(("value", "in_files", "in_json"), NUMERIC_CELLS)
def test_every_entry_point_gives_a_numeric_cell_the_same_verdict(value, in_files, in_json):
    assert (cells.number_problem(value) is None) == in_files
    assert (cells.number_problem(value, typed=True) is None) == in_json
    column = [1.0, value, 2.0]
    verdicts = {
        "to_float": _passes(lambda: to_float("x", column)),
        "pandas": _passes(lambda: to_float("x", pd.Series(column, dtype=object))),
        "rejects": not rejects.find(pa.record_batch({"x": _arrow(value)}), [], ["x"], "f.csv", 0),
        "arrow": _passes(lambda: arrow_numbers("x", _arrow(value))),
    }
    assert verdicts == dict.fromkeys(verdicts, in_files)
    parser = RecordParser([], ["x"], max_records=10, max_string_length=100)
    assert _passes(lambda: parser.parse_payload({"records": [{"x": v} for v in column]})) == in_json


def _arrow(value) -> pa.Array:
    """The cell in a file's column: text (a CSV) or, for a value Arrow types, a typed column (Parquet)."""
    if value is None or isinstance(value, str):
        return pa.array(["1", value, "2"])
    try:
        return pa.array([value] * 3)
    except (pa.ArrowException, OverflowError):
        return pa.array(["1", str(value), "2"])


def _passes(call) -> bool:
    try:
        call()
    except InvalidInput:
        return False
    return True


def test_a_blank_is_missing_and_text_is_a_number_only_where_there_are_no_types():
    np.testing.assert_array_equal(cells.numbers(["1", "", None, " 2 ", True]), [1.0, np.nan, np.nan, 2.0, 1.0])
    np.testing.assert_array_equal(cells.numbers([1, "", None, 2.5], typed=True), [1.0, np.nan, np.nan, 2.5])
    with pytest.raises(cells.BadCell) as refused:
        cells.numbers([1, 2, "3"], typed=True)
    assert (refused.value.row, refused.value.problem) == (2, "'3' is not a number")


def test_the_first_bad_value_is_named_by_its_row():
    with pytest.raises(cells.BadCell) as infinite:
        cells.numbers(np.array([0.0, 1.0, math.inf, -math.inf]))
    assert infinite.value.row == 2 and infinite.value.problem == "inf is not a finite number"
    with pytest.raises(cells.BadCell) as listed:
        cells.check_categories(["a", "b", ["c"]])
    assert listed.value.row == 2 and listed.value.problem == "list is not a category value"
    cells.check_categories(["a", 1, 2.0**70, None])  # a file's float is a float
    with pytest.raises(cells.BadCell) as large:
        cells.check_categories(["a", 1, 2.0**70], typed=True)  # JSON read a 22-digit integer as a float
    assert large.value.row == 2 and "send it as a string" in large.value.problem


def test_a_file_row_is_named_from_one_with_its_line():
    assert cells.where("bad.csv", 4) == "bad.csv, row 5 (line 6)"
    assert cells.where("data/part-7.parquet", 18_213) == "data/part-7.parquet, row 18,214"
