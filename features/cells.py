"""Cells: what one value of a feature must be, wherever the records come from.

The service's JSON records, ``catembed predict``'s CSV and Parquet files and ``catembed train``'s
tables all check their values here, so a value one of them refuses, the others refuse in the
same words, and a value one of them takes as missing, the others take as missing too.

- Missing, for every feature: None, NaN and a blank string (empty once stripped), the rule
  ``features.canonical`` applies to categories. A missing number is imputed with the training
  median (the ``imputed`` warning); a CSV's empty cell arrives as exactly that.
- A category: any hashable value; a list or an object is not one.
- A number: a finite int or float.

``typed=True`` is for JSON, whose values carry their type: there ``"3"`` is text and ``true`` a
boolean, so neither is a number, and a float of 2**63 or more is no category (JSON parsers read
a longer integer as a float and lose its digits, which would silently miss the vocabulary entry
training made from its exact text). A file's text carries no type: untyped, a number may be
spelled as text (what Python's ``float`` reads) and booleans count as 0 and 1.

The column functions check a whole column with vectorised calls and only look value by value
once that fails, to name the first bad row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from features.categorical import as_list
from features.errors import InvalidInput

CATEGORY_EXPECTED = "a string, number, boolean or null"
NUMBER_EXPECTED = "a finite number or null"
_JSON_CATEGORY_TYPES = frozenset({str, int, float, bool, type(None)})
_JSON_NUMBER_TYPES = frozenset({int, float, type(None)})
_EXACT_INTEGER_LIMIT = 2.0**63
_LINE_FILES = (".csv", ".tsv", ".txt")  # text files: a header line, then one line per row


class BadCell(InvalidInput):
    """The first invalid value of a column: its ``row`` (0-based position) and the ``problem``
    (what is wrong, without where). Callers name the place: a field path, a file row."""

    def __init__(
        self, problem: str, *, row: int, value: Any, expected: str, place: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(problem if place is None else f"{place}: {problem}", field=field, value=value, expected=expected)
        self.problem = problem
        self.row = row

    def named(self, place: str, field: str) -> BadCell:
        """The same bad value, its message saying where: ``{place}: {problem}``."""
        return BadCell(self.problem, row=self.row, value=self.value, expected=self.expected or "", place=place, field=field)


def category_problem(value: Any, *, typed: bool = False) -> str | None:
    """Why ``value`` cannot be a category value, or None when it can."""
    found = _category_check(value, typed)
    return None if found is None else found[0]


def number_problem(value: Any, *, typed: bool = False) -> str | None:
    """Why ``value`` cannot be a numeric feature's value, or None when it is a number or missing."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None  # blank: missing
        if typed:
            return f"{value!r} is not a number"
    elif isinstance(value, bool) or type(value).__name__ == "bool_":
        return f"{value!r} is not a number" if typed else None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the float range
        number = math.inf
    except (TypeError, ValueError):
        return f"{value!r} is not a number"
    return f"{value!r} is not a finite number" if math.isinf(number) else None


def check_categories(values: Sequence[Any], *, typed: bool = False, types: frozenset[type] | None = None) -> None:
    """BadCell for the first value of a categorical column that is not a category value.
    ``types``: the column's value types when the caller knows them already."""
    if typed:
        types = frozenset(map(type, values)) if types is None else types
        if types <= _JSON_CATEGORY_TYPES and not (float in types and any(map(_large_float, values))):
            return
    else:
        try:
            set(values)  # every value hashable: one C-level pass
            return
        except TypeError:
            pass
    for row, value in enumerate(values):
        found = _category_check(value, typed)
        if found is not None:
            raise BadCell(found[0], row=row, value=value, expected=found[1])


def numbers(values: Any, *, typed: bool = False) -> np.ndarray:
    """A numeric column (list, NumPy array or pandas Series) as float64 with NaN where missing;
    BadCell for its first value that is not a number."""
    array = _vectorised(values, typed)
    if array is None:  # a blank, text or an odd type somewhere: value by value
        cells = as_list(values)
        for row, value in enumerate(cells):
            problem = number_problem(value, typed=typed)
            if problem is not None:
                raise BadCell(problem, row=row, value=value, expected=NUMBER_EXPECTED)
        array = np.asarray([_number(value) for value in cells], dtype=np.float64)
    infinite = np.isinf(array)
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        value = as_list(values)[row]
        raise BadCell(f"{value!r} is not a finite number", row=row, value=value, expected=NUMBER_EXPECTED)
    return array


def where(source: str | Path, row: int) -> str:
    """A data row of a file as people find it: ``bad.csv, row 5 (line 6)``, 1-based, the line
    counting the header (and assuming no line break inside a quoted value); Parquet has no lines."""
    place = f"{source}, row {row + 1:,}"
    return place + f" (line {row + 2:,})" if Path(source).suffix.lower() in _LINE_FILES else place


def _vectorised(values: Any, typed: bool) -> np.ndarray | None:
    """The column as float64 in C, or None when some value needs a closer look."""
    if isinstance(values, np.ndarray) and values.dtype.kind in ("fiu" if typed else "fiub"):
        return values.astype(np.float64, copy=False)  # a typed array (a binary tensor, a Parquet column)
    try:
        if hasattr(values, "to_numpy"):  # a pandas Series
            return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        if typed and not frozenset(map(type, values)) <= _JSON_NUMBER_TYPES:
            return None
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None


def _number(value: Any) -> float:
    """A value that passed ``number_problem`` as a float."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    return float(value)


def _category_check(value: Any, typed: bool) -> tuple[str, str] | None:
    """(problem, what was expected) for a value that cannot be a category value."""
    try:
        hash(value)
    except TypeError:
        return f"{type(value).__name__} is not a category value", CATEGORY_EXPECTED
    if typed and _large_float(value):
        return (
            f"{value!r} is too large to be an exact category value; send it as a string",
            "a number below 2**63 in magnitude, or a string",
        )
    return None


def _large_float(value: Any) -> bool:
    return type(value) is float and abs(value) >= _EXACT_INTEGER_LIMIT
