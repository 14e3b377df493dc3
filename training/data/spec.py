"""Resolving the feature spec: from a YAML file, from CLI flags, or inferred from the data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

from features.errors import DataError
from features.schema import FeatureSpec
from training.data.column_types import ColumnType, infer_types, type_table

# targets: integers with at most this many distinct values are classes, else regression
MAX_INTEGER_CLASSES = 20


def load_spec(path: str | Path) -> FeatureSpec:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"spec file {path} does not exist", field="spec", value=str(path))
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DataError(f"spec file {path} is not valid YAML: {exc}", field="spec") from None
    return FeatureSpec.from_dict(data)


def dump_spec(spec: FeatureSpec) -> str:
    return yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True)


def resolve_spec(
    frame: pd.DataFrame,
    *,
    target: str | None,
    task: str | None = None,
    categorical: list[str] | None = None,
    numeric: list[str] | None = None,
    embedding_dims: dict[str, int] | None = None,
    spec: FeatureSpec | None = None,
    log: Callable[[str], None] = print,
) -> FeatureSpec:
    """A complete spec: explicit columns are used as given, anything unstated is inferred (and
    the inferred column types are logged as a table, with the guesses to check marked)."""
    if spec is None:
        if not target:
            raise DataError("name the target column with --target (or give --spec)", field="target")
        _require_columns(frame, [target], "target column")
        if categorical is None and numeric is None:
            task = task or infer_task(frame[target])
            types = infer_types(frame.drop(columns=[target]), frame[target], task)
            categorical, numeric, dropped = spec_columns(types)
            log("column types (inferred; --categorical/--numeric or --spec override them):\n" + type_table(types))
        else:
            dropped = {}
        spec = FeatureSpec(target, task, list(categorical or []), list(numeric or []), dict(embedding_dims or {}), dropped)
    _require_columns(frame, [spec.target], "target column")
    _require_columns(frame, spec.features, "spec column")
    for name in spec.features:
        if frame[name].isna().all():
            raise DataError(f"column {name!r} has only missing values; drop it from the spec", field=name)
    if spec.task is None:
        spec.task = infer_task(frame[spec.target])
    return spec


def infer_task(target: pd.Series) -> str:
    values = target.dropna()
    distinct = values.nunique()
    if distinct < 2:
        raise DataError(
            f"target {target.name!r} has {distinct} distinct value(s); a model needs at least two classes or values",
            field=str(target.name),
        )
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "binary" if distinct == 2 else "multiclass"
    integral = pd.api.types.is_integer_dtype(values) or bool((values == values.round()).all())
    if integral and distinct <= MAX_INTEGER_CLASSES:
        return "binary" if distinct == 2 else "multiclass"
    return "regression"


def spec_columns(types: list[ColumnType]) -> tuple[list[str], list[str], dict[str, str]]:
    """(categorical, numeric, dropped) of a spec from column types: a "both" column is in both lists."""
    categorical = [t.name for t in types if t.role in ("categorical", "both")]
    numeric = [t.name for t in types if t.role in ("numeric", "both")]
    return categorical, numeric, {t.name: t.reason for t in types if t.role == "dropped"}


def _require_columns(frame: pd.DataFrame, names: list[str], what: str) -> None:
    absent = [n for n in names if n not in frame.columns]
    if absent:
        available = ", ".join(map(repr, frame.columns[:30]))
        raise DataError(f"{what} {absent[0]!r} is not in the data; columns are {available}", field=absent[0])
