"""The fitted encoders as data: ``encoders.json`` (names, vocabularies, settings) and
``encoders.npz`` (the numeric encoder's arrays), never a pickle.

Loading a bundle must not run code from it (docs/reliability.md, threat model). So the encoders
are written as plain values and rebuilt by explicit construction: every field is checked for
its type and shape, and anything else is a ``BundleError`` naming the field, never an object the
file chose. Arrays are read with ``allow_pickle=False``, so an object array cannot even be read.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from features.categorical import CategoricalEncoder
from features.encoder import TabularEncoder
from features.errors import BundleError
from features.numeric import TRANSFORMS, NumericEncoder
from features.target import TARGET_SCALES, LabelTarget, ScaledTarget

JSON_FILE, ARRAYS_FILE = "encoders.json", "encoders.npz"
_NUMERIC_ARRAYS = ("medians_", "means_", "scales_", "mins_", "maxs_")


def write_encoders(folder: Path, encoder: TabularEncoder, target: LabelTarget | ScaledTarget) -> None:
    document, arrays = encoders_as_data(encoder, target)
    (Path(folder) / JSON_FILE).write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    (Path(folder) / ARRAYS_FILE).write_bytes(buffer.getvalue())


def read_encoders(folder: Path) -> tuple[TabularEncoder, LabelTarget | ScaledTarget]:
    try:
        document = json.loads((Path(folder) / JSON_FILE).read_text(encoding="utf-8"))
        with np.load(Path(folder) / ARRAYS_FILE, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # bad JSON, not a zip, a truncated member, an object array (no pickles)
        raise BundleError(f"the encoders could not be read: {type(exc).__name__}: {str(exc)[:200]}") from None
    return encoders_from_data(document, arrays)


def encoders_as_data(encoder: TabularEncoder, target: LabelTarget | ScaledTarget) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    categorical = {}
    for name in encoder.categorical:
        enc = encoder.categorical_[name]
        categorical[name] = {
            "min_frequency": enc.min_frequency,
            "max_categories": enc.max_categories,
            "vocabulary": list(enc.vocabulary_),
            "counts": [int(n) for n in enc.counts_],
            "n_rare_values": int(enc.n_rare_values_),
            "n_rare_rows": int(enc.n_rare_rows_),
            "n_missing_rows": int(enc.n_missing_rows_),
            "n_common_values": getattr(enc, "n_common_values_", None),  # absent in encoders fitted before it
        }
    numeric = None
    if encoder.numeric_ is not None:
        num = encoder.numeric_
        numeric = {"names": list(num.names), "scaling": num.scaling_in_use}
        for key in _NUMERIC_ARRAYS:
            arrays[f"numeric.{key}"] = np.asarray(getattr(num, key), dtype=np.float64)
        arrays["numeric.indicators_"] = np.asarray(num.indicators_, dtype=bool)
        if num.scaling_in_use in ("quantile", "both"):
            for j, (values, scores) in enumerate(zip(num.quantile_values_, num.quantile_scores_, strict=True)):
                arrays[f"numeric.quantile_values_.{j}"] = np.asarray(values, dtype=np.float64)
                arrays[f"numeric.quantile_scores_.{j}"] = np.asarray(scores, dtype=np.float64)
    document = {
        "encoder": {
            "categorical": list(encoder.categorical),
            "numeric": list(encoder.numeric),
            "min_frequency": encoder.min_frequency,
            "max_categories": encoder.max_categories,
            "numeric_transform": getattr(encoder, "numeric_transform", "standard"),
            "categorical_": categorical,
            "numeric_": numeric,
        },
        "target": _target_as_data(target),
    }
    return document, arrays


def _target_as_data(target: LabelTarget | ScaledTarget) -> dict[str, Any]:
    if isinstance(target, LabelTarget):
        return {"kind": "labels", "classes": list(target.classes_)}
    return {
        "kind": "scaled",
        "scale": getattr(target, "scale", "linear"),
        "mean": float(target.mean_),
        "scale_value": float(target.scale_),
        "log": bool(target.log_),
        "link": target.link_,
    }


def encoders_from_data(document: Any, arrays: dict[str, np.ndarray]) -> tuple[TabularEncoder, LabelTarget | ScaledTarget]:
    doc = _fields(document, "encoders.json", {"encoder": dict, "target": dict})
    spec = _fields(
        doc["encoder"],
        "encoder",
        {
            "categorical": list,
            "numeric": list,
            "min_frequency": int,
            "max_categories": (int, type(None)),
            "numeric_transform": str,
            "categorical_": dict,
            "numeric_": (dict, type(None)),
        },
    )
    categorical = tuple(_strings(spec["categorical"], "encoder.categorical"))
    numeric = tuple(_strings(spec["numeric"], "encoder.numeric"))
    # a column may be in both lists (a number and a category), but in each list once
    for names, where in ((categorical, "encoder.categorical"), (numeric, "encoder.numeric")):
        if len(set(names)) != len(names):
            raise BundleError(f"encoders.json: {where} names a feature twice", field=where)
    _one_of(spec["numeric_transform"], TRANSFORMS, "encoder.numeric_transform")
    encoder = TabularEncoder(categorical, numeric, spec["min_frequency"], spec["max_categories"], spec["numeric_transform"])
    if list(spec["categorical_"]) != list(categorical):
        raise BundleError("encoders.json: encoder.categorical_ does not hold exactly the categorical features, in order")
    encoder.categorical_ = {name: _categorical(spec["categorical_"][name], name) for name in categorical}
    encoder.numeric_ = None
    if numeric:
        if spec["numeric_"] is None:
            raise BundleError("encoders.json: numeric features without a numeric encoder", field="encoder.numeric_")
        encoder.numeric_ = _numeric(spec["numeric_"], numeric, arrays)
    elif spec["numeric_"] is not None:
        raise BundleError("encoders.json: a numeric encoder without numeric features", field="encoder.numeric_")
    return encoder, _target(doc["target"])


def _categorical(raw: Any, name: str) -> CategoricalEncoder:
    where = f"encoder.categorical_.{name}"
    fields = _fields(
        raw,
        where,
        {
            "min_frequency": int,
            "max_categories": (int, type(None)),
            "vocabulary": list,
            "counts": list,
            "n_rare_values": int,
            "n_rare_rows": int,
            "n_missing_rows": int,
            "n_common_values": (int, type(None)),
        },
    )
    vocabulary = _strings(fields["vocabulary"], f"{where}.vocabulary")
    counts = fields["counts"]
    if len(counts) != len(vocabulary) or not all(type(n) is int and n >= 0 for n in counts):
        raise BundleError(f"encoders.json: {where}.counts must be one count ≥ 0 per vocabulary value", field=where)
    if len(set(vocabulary)) != len(vocabulary):
        raise BundleError(f"encoders.json: {where}.vocabulary repeats a value", field=where)
    enc = CategoricalEncoder(fields["min_frequency"], fields["max_categories"])
    enc.vocabulary_, enc.counts_ = vocabulary, counts
    enc.index_ = {v: i + 1 for i, v in enumerate(vocabulary)}
    enc.n_rare_values_, enc.n_rare_rows_ = fields["n_rare_values"], fields["n_rare_rows"]
    enc.n_missing_rows_ = fields["n_missing_rows"]
    if fields["n_common_values"] is not None:
        enc.n_common_values_ = fields["n_common_values"]
    enc._cache = None
    return enc


def _numeric(raw: Any, names: tuple[str, ...], arrays: dict[str, np.ndarray]) -> NumericEncoder:
    fields = _fields(raw, "encoder.numeric_", {"names": list, "scaling": str})
    if tuple(_strings(fields["names"], "encoder.numeric_.names")) != names:
        raise BundleError("encoders.json: encoder.numeric_.names differ from encoder.numeric", field="encoder.numeric_")
    scaling = _one_of(fields["scaling"], TRANSFORMS, "encoder.numeric_.scaling")
    num = NumericEncoder(names, scaling)
    k = len(names)
    for key in _NUMERIC_ARRAYS:
        setattr(num, key, _array(arrays, f"numeric.{key}", "f", (k,)))
    num.indicators_ = _array(arrays, "numeric.indicators_", "b", (k,))
    if scaling in ("quantile", "both"):
        num.quantile_values_, num.quantile_scores_ = [], []
        for j in range(k):
            values = _array(arrays, f"numeric.quantile_values_.{j}", "f", None)
            scores = _array(arrays, f"numeric.quantile_scores_.{j}", "f", values.shape)
            if values.ndim != 1 or not len(values):
                raise BundleError(f"encoders.npz: numeric.quantile_values_.{j} must be a non-empty 1-D array")
            num.quantile_values_.append(values)
            num.quantile_scores_.append(scores)
    return num


def _target(raw: dict[str, Any]) -> LabelTarget | ScaledTarget:
    kind = _one_of(raw.get("kind"), ("labels", "scaled"), "target.kind")
    if kind == "labels":
        classes = _fields(raw, "target", {"kind": str, "classes": list})["classes"]
        if not classes or not all(type(c) in (str, int, float, bool) for c in classes):
            raise BundleError("encoders.json: target.classes must be a non-empty list of strings, numbers or booleans")
        labels = LabelTarget()
        labels.classes_ = classes
        labels.index_ = {c: i for i, c in enumerate(classes)}
        if len(labels.index_) != len(classes):
            raise BundleError("encoders.json: target.classes repeats a label", field="target.classes")
        return labels
    fields = _fields(
        raw, "target", {"kind": str, "scale": str, "mean": (int, float), "scale_value": (int, float), "log": bool, "link": str}
    )
    scaled = ScaledTarget(_one_of(fields["scale"], TARGET_SCALES, "target.scale"))
    scaled.mean_, scaled.scale_ = float(fields["mean"]), float(fields["scale_value"])
    if not (math.isfinite(scaled.mean_) and math.isfinite(scaled.scale_) and scaled.scale_ > 0):
        raise BundleError("encoders.json: target.mean and target.scale_value must be finite, the scale > 0", field="target")
    scaled.log_, scaled.link_ = fields["log"], _one_of(fields["link"], ("identity", "log"), "target.link")
    return scaled


def _fields(raw: Any, where: str, expected: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """``raw`` as an object with exactly these keys, each of its type (a bool is not an int here)."""
    if not isinstance(raw, dict):
        raise BundleError(f"encoders.json: {where} must be an object", field=where)
    for key, types in expected.items():
        value = raw.get(key, ...)
        allowed = types if isinstance(types, tuple) else (types,)
        if value is ... or type(value) not in allowed:
            names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise BundleError(f"encoders.json: {where}.{key} must be {names}", field=f"{where}.{key}")
    return raw


def _strings(values: list[Any], where: str) -> list[str]:
    if not all(type(v) is str for v in values):
        raise BundleError(f"encoders.json: {where} must be a list of strings", field=where)
    return values


def _one_of(value: Any, choices: tuple[str, ...], where: str) -> str:
    if type(value) is not str or value not in choices:
        raise BundleError(f"encoders.json: {where} must be one of {', '.join(choices)}", field=where, value=value)
    return value


def _array(arrays: dict[str, np.ndarray], key: str, kind: str, shape: tuple[int, ...] | None) -> np.ndarray:
    found = arrays.get(key)
    if found is None or found.dtype.kind != kind or (shape is not None and found.shape != shape):
        wanted = {"f": "float", "b": "bool"}[kind] + (f" of shape {shape}" if shape is not None else "")
        raise BundleError(f"encoders.npz: {key} must be a {wanted} array", field=key)
    if kind == "f" and not np.isfinite(found).all():
        raise BundleError(f"encoders.npz: {key} holds NaN or infinity", field=key)
    return found.astype(np.float64) if kind == "f" else found
