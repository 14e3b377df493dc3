"""The one function that decides when two raw category values are the same category.

Training reads CSV/parquet through pandas, the service reads JSON: the same category can arrive
as ``1``, ``1.0``, ``"1"``, ``"1.0"`` or ``numpy.int64(1)``; a missing value as ``None``, ``NaN``,
``pd.NA`` or ``""``. Both sides call :func:`canonical`, so they cannot disagree.

Rules (documented in the README, property-tested in tests/features/test_canonical.py):
- missing: None, float NaN, pandas NA/NaT, and strings that are empty after stripping → ``None``
- booleans follow Python's own equality: True == 1, False == 0 → ``"1"`` / ``"0"``;
  the strings "true"/"false" (any case) are booleans too
- integral numbers print as integers: 1, 1.0, "1", "1.0", "+1" → ``"1"``; other floats use repr
- decimal strings are numbers, but strings with leading zeros ("007", zip codes) stay verbatim
- other strings are stripped and NFC-normalised (so composed and decomposed "é" agree)
"""

from __future__ import annotations

import math
import re
import unicodedata
from numbers import Integral, Real
from typing import Any

_DECIMAL = re.compile(r"[+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
# Longer digit strings are identifiers, not numbers (and int() refuses > 4300 digits anyway).
_MAX_NUMBER_CHARS = 40
_BOOL_STRINGS = {"true": "1", "false": "0"}
_MISSING_TYPE_NAMES = frozenset({"NAType", "NaTType"})


def canonical(value: Any) -> str | None:
    """Return the canonical string of a category value, or None when it is missing."""
    if value is None:
        return None
    if isinstance(value, str):
        return _canonical_str(value)
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "1" if value else "0"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return _canonical_float(float(value))
    if type(value).__name__ in _MISSING_TYPE_NAMES:
        return None
    if isinstance(value, bytes):
        return _canonical_str(value.decode("utf-8", errors="replace"))
    return _canonical_str(str(value))


def _canonical_float(number: float) -> str | None:
    if math.isnan(number):
        return None
    if number.is_integer() and abs(number) < 2**63:
        return str(int(number))
    return repr(number)


def _canonical_str(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    lowered = text.lower()
    if lowered in _BOOL_STRINGS:
        return _BOOL_STRINGS[lowered]
    if len(text) <= _MAX_NUMBER_CHARS and _DECIMAL.fullmatch(text):
        if "." not in text:
            return str(int(text))
        return _canonical_float(float(text))
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text
