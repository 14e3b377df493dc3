"""Request bodies as JSON, with duplicate keys refused.

JSON parsers disagree on ``{"color": "red", "color": "blue"}``: most keep the last value, some the
first, so a proxy or WAF in front of the service may check one value while the model gets the
other. The service refuses such bodies (422, v2: 400) instead of picking one.

orjson keeps the last value silently, and a second, duplicate-aware parse of every body would
cost more than the request. So the check is two-step: every key in the text is a string followed
by ``:``, and an escaped quote inside a string is the only other place ``"`` then ``:`` can occur,
so the number of ``"\\s*:`` in the text is at least the number of keys sent. When it equals the
number of keys the parsed objects hold (counted without visiting scalars), no key was repeated;
only otherwise does the exact, slower check run.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from features.errors import InvalidInput

_KEY_END = re.compile(rb'"[ \t\r\n]*:')
_SPACED = (b'" ', b'"\t', b'"\r', b'"\n')
_CONTAINERS = (dict, list)
_MANY = 256  # a list of this many objects is a batch of records: their own keys are counted, not nested ones


def loads(body: bytes, *, nan: bool = False) -> Any:
    """``orjson.loads(body)``, then InvalidInput naming a key that an object repeats.

    ``nan``: also read the tokens ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON, but what
    Python's json module and tritonclient write for a missing FP64); the caller judges the values."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        if not nan or (b"NaN" not in body and b"Infinity" not in body):
            raise
        return _stdlib(body)
    if type(payload) in _CONTAINERS and _key_ends(body) != _count(payload):
        _refuse_duplicates(body)
    return payload


def _key_ends(body: bytes) -> int:
    """Occurrences of ``"``, optional whitespace, ``:``: a C-speed count unless whitespace sits there."""
    if any(spaced in body for spaced in _SPACED):
        return len(_KEY_END.findall(body))
    return body.count(b'":')


def _count(value: Any) -> int:
    """Keys held by the parsed objects, or fewer (never more): fewer only sends the body to the exact check."""
    if type(value) is dict:
        return len(value) + sum(_count(v) for v in value.values() if type(v) in _CONTAINERS)
    if type(value) is list and value:
        kinds = set(map(type, value))
        if kinds == {dict} and len(value) > _MANY:
            return sum(map(len, value))
        if kinds & {dict, list}:
            return sum(_count(v) for v in value if type(v) in _CONTAINERS)
    return 0


def _refuse_duplicates(body: bytes) -> None:
    try:
        _stdlib(body)
    except (ValueError, RecursionError):  # orjson read it; what the stdlib cannot is no duplicate finding
        return


def _stdlib(body: bytes) -> Any:
    """The exact, slower parse: duplicate keys refused, NaN and ±Infinity read as floats."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                raise InvalidInput(
                    f"duplicate key {key[:100]!r} in the request body: each key may appear once per object",
                    field=key[:100],
                    expected="a JSON object without repeated keys",
                )
            seen[key] = value
        return seen

    return json.loads(body, object_pairs_hook=pairs)
