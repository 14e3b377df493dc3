"""The feature spec: which column is the target, which are categorical or numeric, and how wide
each embedding is. Saved next to the model so a user can edit it and train again.

A column may be in both lists ("both"): its number feeds the numeric input and its value gets an
embedding of its own, from the one raw column a record carries."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from features.errors import DataError

TASKS = ("binary", "multiclass", "regression")
# model, feature and file names end up in paths and layer names: keep them boring
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class FeatureSpec:
    target: str
    task: str | None = None
    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    embedding_dims: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task is not None and self.task not in TASKS:
            raise DataError(f"unknown task {self.task!r}; tasks are {', '.join(map(repr, TASKS))}", field="task", value=self.task)
        for names in (self.categorical, self.numeric):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise DataError(f"feature {name!r} is listed twice in the spec", field=name)
                if name == self.target:
                    raise DataError(f"the target {name!r} cannot also be a feature", field=name)
                seen.add(name)
        for name, dim in self.embedding_dims.items():
            if name not in self.categorical:
                raise DataError(f"embedding size given for {name!r}, which is not a categorical feature", field=name)
            if not isinstance(dim, int) or dim < 1:
                raise DataError(f"embedding size of {name!r} must be a positive integer", field=name, value=dim)
        if not self.categorical and not self.numeric:
            raise DataError("the spec has no features: name at least one categorical or numeric column")

    @property
    def features(self) -> list[str]:
        """The raw columns the model reads, each once (a "both" column is one column)."""
        return list(dict.fromkeys([*self.categorical, *self.numeric]))

    @property
    def both(self) -> list[str]:
        """The columns that are a number and a category at once."""
        numeric = set(self.numeric)
        return [name for name in self.categorical if name in numeric]

    def ignored_columns(self, columns: Iterable[Any]) -> dict[str, str]:
        """Every column of the training table that is not a feature, with why it was left out.

        Saved in the manifest, so the service accepts records of the training table's shape
        and ignores these fields, while a field the table never had is still an error."""
        features = set(self.features)
        ignored = {}
        for name in map(str, columns):
            if name == self.target:
                ignored[name] = "the target"
            elif name in self.dropped:
                ignored[name] = self.dropped[name]
            elif name not in features:
                ignored[name] = "not selected: not among the spec's categorical or numeric columns"
        return ignored

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        if not isinstance(data, dict) or "target" not in data:
            raise DataError("a spec needs at least 'target' and some 'categorical' or 'numeric' columns")
        known = {"target", "task", "categorical", "numeric", "embedding_dims", "dropped"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataError(f"unknown spec keys {unknown}; keys are {sorted(known)}")
        return cls(
            target=str(data["target"]),
            task=data.get("task"),
            categorical=[str(c) for c in data.get("categorical") or []],
            numeric=[str(c) for c in data.get("numeric") or []],
            embedding_dims={str(k): v for k, v in (data.get("embedding_dims") or {}).items()},
            dropped={str(k): str(v) for k, v in (data.get("dropped") or {}).items()},
        )
