"""JSON request bodies → validated feature columns, without a Python frame per row.

A body is one record (``{"carrier": "UA", ...}``) or a batch (``{"records": [...]}``). The checks
run column by column with C-level builtins (``map``, ``itemgetter``, ``zip``), so a batch of
10,000 records costs a few milliseconds; only when a check fails does a loop look for the first
offending record, to name it in the error.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NoReturn

import numpy as np
import orjson

from app import json_body
from features.cells import CATEGORY_EXPECTED, NUMBER_EXPECTED, BadCell, check_categories, numbers
from features.errors import InvalidInput, PayloadTooLarge

_TEXT = frozenset({str})
_LISTED = 5  # unknown keys named in one message
_LARGEST_FLOAT = 1.7976931348623157e308


@dataclass
class ParsedRecords:
    columns: Mapping[str, Sequence[Any]]
    n_rows: int
    single: bool | None  # the body was one bare record, not {"records": [...]}; None: sent as columns
    # the numeric columns as float64 (null → NaN), converted once while checking them, so the
    # encoder does not convert them again; ``columns`` keeps the values as sent, for warnings
    numbers: dict[str, np.ndarray] = field(default_factory=dict)


class RecordParser:
    def __init__(
        self,
        categorical: Sequence[str],
        numeric: Sequence[str],
        max_records: int,
        max_string_length: int,
        ignored: Mapping[str, str] | None = None,
    ) -> None:
        self.categorical = list(categorical)
        self.numeric = list(numeric)
        self.features = list(dict.fromkeys([*self.categorical, *self.numeric]))  # a "both" column is one field
        # columns the training table had but the model does not use (target, dropped, not
        # selected): a record of the training table's shape carries them, so they are ignored
        self.ignored = {name: reason for name, reason in (ignored or {}).items() if name not in self.features}
        self._allowed = frozenset(self.features) | frozenset(self.ignored)
        self.max_records = max_records
        self.max_string_length = max_string_length
        self._getters = [itemgetter(name) for name in self.features]
        self._listing = ", ".join(map(repr, self.features))

    def parse(self, body: bytes) -> ParsedRecords:
        return self.parse_payload(self.loads(body))

    @staticmethod
    def loads(body: bytes) -> Any:
        """The body as Python objects; 422 naming the field for NaN/Infinity, else for bad JSON."""
        try:
            return json_body.loads(body)  # orjson, with duplicate keys refused
        except orjson.JSONDecodeError as exc:
            where = _non_finite_field(body) if b"NaN" in body or b"Infinity" in body or "infinity" in str(exc) else None
            if where is not None:
                raise InvalidInput(
                    f"{where}: NaN, Infinity and numbers beyond ±1.8e308 are not finite numbers",
                    field=where,
                    expected=NUMBER_EXPECTED,
                ) from None
            raise InvalidInput(f"request body is not valid JSON: {exc}", field="body", expected="a JSON object") from None

    def parse_payload(self, payload: Any) -> ParsedRecords:
        if isinstance(payload, dict) and "records" in payload:
            records, single = payload["records"], False
            if len(payload) > 1:
                other = next(k for k in payload if k != "records")
                raise InvalidInput(f"unexpected key {other!r} beside 'records'", field=other, expected="only 'records'")
            if not isinstance(records, list):
                raise InvalidInput("'records' must be a list of records", field="records", value=records, expected="a list")
        elif isinstance(payload, dict):
            records, single = [payload], True
        else:
            raise InvalidInput(
                'the body must be one record (a JSON object) or {"records": [...]}',
                field="body",
                value=payload,
                expected="a JSON object",
            )
        if not records:
            raise InvalidInput("'records' is empty: send at least one record", field="records", expected="1 or more records")
        if len(records) > self.max_records:
            raise PayloadTooLarge(
                f"{len(records):,} records is over the limit of {self.max_records:,} per request",
                field="records",
                value=len(records),
                expected=f"at most {self.max_records:,} records",
            )
        named = dict(zip(self.features, self._columns(records, single), strict=True))
        for name in self.categorical:
            self._check_categories(name, named[name], single)
        numbers = {name: self._check_numbers(name, named[name], single) for name in self.numeric}
        return ParsedRecords(named, len(records), single, numbers)

    def parse_columns(self, columns: Mapping[str, Any], text: Collection[str] = ()) -> ParsedRecords:
        """Columns already split by feature (the v2 codec's output): the same checks as records,
        with the field named ``feature[row]``. Numeric columns may be float arrays (binary tensors).
        ``text`` names columns the caller has already proven to hold only ``str`` (v2 BYTES
        tensors): their type scan is not repeated, the length check still runs."""
        mismatch = self._mismatch(list(columns), frozenset(self.features), "input", "missing input")
        if mismatch is not None:
            raise mismatch
        lengths = {name: len(columns[name]) for name in self.features}
        n = lengths[self.features[0]]
        uneven = next((name for name, length in lengths.items() if length != n), None)
        if uneven is not None:
            raise InvalidInput(
                f"input {uneven!r} has {lengths[uneven]:,} rows, {self.features[0]!r} has {n:,}",
                field=uneven,
                value=lengths[uneven],
                expected=f"{n:,} rows, like every input",
            )
        if n == 0:
            raise InvalidInput("the inputs are empty: send at least one row", field=self.features[0], expected="1 or more rows")
        if n > self.max_records:
            raise PayloadTooLarge(
                f"{n:,} rows is over the limit of {self.max_records:,} per request",
                field=self.features[0],
                value=n,
                expected=f"at most {self.max_records:,} rows",
            )
        named = {name: columns[name] for name in self.features}
        for name in self.categorical:
            self._check_categories(name, named[name], None, _TEXT if name in text else None)
        numbers = {name: self._check_numbers(name, named[name], None) for name in self.numeric}
        return ParsedRecords(named, n, None, numbers)

    def parse_column_body(self, columns: Any) -> ParsedRecords:
        """``{"columns": {feature: [values...]}}``, the native columnar request: no dict per row to
        build and take apart (a 10,000-row batch is 2.6× smaller than as records and parses ~2×
        faster). The checks and messages are ``parse_columns``'; the training table's ignored
        columns are dropped, as they are from records."""
        if not isinstance(columns, dict):
            raise InvalidInput(
                "'columns' must be an object of feature → list", field="columns", value=columns, expected="an object"
            )
        kept = {}
        for name, values in columns.items():
            if type(values) is not list:
                raise InvalidInput(f"column {name!r} must be a list of values", field=f"columns.{name}", expected="a list")
            if name not in self.ignored:
                kept[name] = values
        return self.parse_columns(kept)

    def _field(self, row: int, name: str, single: bool | None) -> str:
        if single is None:
            return f"{name}[{row}]"
        return name if single else f"records[{row}].{name}"

    def _columns(self, records: list[Any], single: bool) -> list[list[Any]]:
        """One list per feature, in feature order; the fast path is a C-level itemgetter map."""
        if set(map(type, records)) != {dict}:
            row = next(i for i, r in enumerate(records) if type(r) is not dict)
            raise InvalidInput(
                f"records[{row}] is not a JSON object", field=f"records[{row}]", value=records[row], expected="a JSON object"
            )
        exact = set(map(len, records)) == {len(self.features)}
        if exact or (self.ignored and set().union(*records) <= self._allowed):
            try:  # itemgetter takes the features and leaves ignored fields behind
                return [list(map(getter, records)) for getter in self._getters]
            except KeyError:
                pass  # a feature is absent or a key is wrong: find it below
        for row, record in enumerate(records):
            who = "record" if single else f"records[{row}]"
            mismatch = self._mismatch(list(record), self._allowed, "field", f"{who} is missing feature", (row, single))
            if mismatch is not None:
                raise mismatch
        raise AssertionError("unreachable: a malformed record was not found")

    def _mismatch(
        self, keys: list[Any], allowed: frozenset[str], noun: str, absent_words: str, record: tuple[int, bool] | None = None
    ) -> InvalidInput | None:
        """Keys outside ``allowed`` first, each with the feature it may be a misspelling of, then the features
        that are absent: ``{"carier": "UA"}`` says both that 'carier' is unknown and that 'carrier'
        is missing. ``record``: (row, single) of a record, whose fields are named by their path in
        the body; columns are named as they are. None when the keys are right."""
        unknown = [key for key in keys if key not in allowed]
        present = set(keys)
        absent = [name for name in self.features if name not in present]
        if not unknown and not absent:
            return None
        name = str(unknown[0]) if unknown else absent[0]
        parts = []
        if unknown:
            shown = ", ".join(map(self._suggested, unknown[:_LISTED])) + (
                f" and {len(unknown) - _LISTED} more" if len(unknown) > _LISTED else ""
            )
            parts.append(f"unknown {noun}{'s' if len(unknown) > 1 else ''} {shown}")
        if absent:
            parts.append(f"{absent_words}{'s' if len(absent) > 1 else ''} {', '.join(map(repr, absent))}")
        return InvalidInput(
            "; ".join(parts) + f"; the model needs {self._listing}",
            field=name if record is None else self._field(record[0], name, record[1]),
            expected="only the model's features" if unknown else "a value or null for every feature",
        )

    def _suggested(self, key: Any) -> str:
        close = difflib.get_close_matches(key, self.features, n=1) if isinstance(key, str) else []
        return f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key)

    def _check_categories(
        self, name: str, values: Sequence[Any], single: bool | None, types: frozenset[type] | None = None
    ) -> None:
        if types is None:
            types = frozenset(map(type, values))
        try:
            check_categories(values, typed=True, types=types)
        except BadCell as exc:
            self._refuse(name, values, exc.row, single, exc.problem, exc.expected or CATEGORY_EXPECTED)
        if str in types:
            # one C-level pass when every value is a string (BYTES tensors, most columns)
            longest = max(len(v) for v in values if type(v) is str) if len(types) > 1 else max(map(len, values))
            if longest > self.max_string_length:
                limit = self.max_string_length
                row = _first(values, lambda v: type(v) is str and len(v) > limit)
                self._refuse(
                    name, values, row, single,
                    f"a value of {len(values[row]):,} characters is over the limit of {limit:,}",
                    f"at most {limit:,} characters",
                )  # fmt: skip

    def _check_numbers(self, name: str, values: Sequence[Any], single: bool | None) -> np.ndarray:
        """JSON numbers (a blank string is missing) or a binary tensor's typed array, as float64."""
        try:
            return numbers(values, typed=True)
        except BadCell as exc:
            self._refuse(name, values, exc.row, single, exc.problem, NUMBER_EXPECTED)

    def _refuse(self, name: str, values: Sequence[Any], row: int, single: bool | None, problem: str, expected: str) -> NoReturn:
        """The one 422 of every per-value check: names the feature's field path and echoes the value."""
        raise InvalidInput(
            f"feature {name!r}: {problem}", field=self._field(row, name, single), value=values[row], expected=expected
        )


def _first(values: Sequence[Any], bad: Callable[[Any], bool]) -> int:
    """Row of the first offending value: only called once a vectorised check has failed."""
    return next(i for i, v in enumerate(values) if bad(v))


def _non_finite_field(body: bytes) -> str | None:
    """Where a NaN, Infinity or out-of-range number sits. orjson refuses them without saying where;
    the stdlib parser reads them (as float nan/inf), so it can name the record and the feature."""
    import json

    try:
        payload = json.loads(body)
        if isinstance(payload, dict) and isinstance(payload.get("records"), list):
            for row, record in enumerate(payload["records"]):
                for key, value in record.items() if isinstance(record, dict) else ():
                    if _has_non_finite(value):
                        return f"records[{row}].{key}"
        elif isinstance(payload, dict):
            for key, value in payload.items():
                if _has_non_finite(value):
                    return str(key)
        return "body" if _has_non_finite(payload) else None
    except (ValueError, RecursionError):  # not JSON even to the stdlib, or nested too deep
        return None


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, int):  # the stdlib keeps a 400-digit integer exact; as a double it is inf
        return abs(value) > _LARGEST_FLOAT
    if isinstance(value, dict):
        return any(map(_has_non_finite, value.values()))
    if isinstance(value, list):
        return any(map(_has_non_finite, value))
    return False
