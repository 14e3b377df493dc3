"""Declarative checks of training settings: each field's rule (kind, range, choices) in a table,
one validator that raises the ``DataError(field=, value=)`` users see as one CLI line."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from features.errors import DataError


@dataclass(frozen=True)
class Rule:
    """What a setting accepts. ``kind``: "whole" (an int, not a bool), "number" (an int or a
    float, not a bool) or "choice" (one of ``choices``). ``low``/``high`` bound numbers, each
    inclusive unless ``open_low``/``open_high``; ``optional``: None is accepted too (an "auto"
    setting). ``message`` is formatted with name, value, low, high and choices."""

    kind: str
    message: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[Any, ...] = ()
    optional: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if self.kind == "choice":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, int if self.kind == "whole" else (int, float)):
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or (value < self.high if self.open_high else value <= self.high)


def whole(message: str, low: int, high: int | None = None, *, optional: bool = False) -> Rule:
    return Rule("whole", message, low=low, high=high, optional=optional)


def number(
    message: str,
    low: float,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    optional: bool = False,
) -> Rule:
    return Rule("number", message, low=low, high=high, open_low=open_low, open_high=open_high, optional=optional)


def choice(message: str, *choices: Any, optional: bool = False) -> Rule:
    return Rule("choice", message, choices=choices, optional=optional)


def check(settings: Any, rules: Mapping[str, Rule]) -> None:
    """Raise the first broken rule of the dataclass ``settings``, in field order."""
    for item in dataclasses.fields(settings):
        rule = rules.get(item.name)
        value = getattr(settings, item.name)
        if rule is not None and not rule.accepts(value):
            text = rule.message.format(
                name=item.name,
                value=value,
                low=_plain(rule.low),
                high=_plain(rule.high),
                choices=", ".join(map(str, rule.choices)),
            )
            raise DataError(text, field=item.name, value=list(value) if isinstance(value, tuple) else value)


def _plain(bound: float | None) -> str:
    return "" if bound is None else f"{bound:g}"
