"""A batch answered column by column: one array per output and the warnings as compact triples.

The row format builds a dict per record and a dict per warning; for 10,000 records that is most
of the time a batch takes (bench/batch.py). Here the outputs stay NumPy arrays until orjson
writes them, and a warning is ``[row, field, type]``. Both ``/predict?orient=columns`` and the
Open Inference Protocol v2 route (app/v2/) answer from a ``ColumnarPrediction``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

WARNING_TYPES = ("unknown_category", "missing_category", "imputed", "out_of_range")


@dataclass
class Flag:
    """Rows of one feature that drew one kind of warning."""

    type: str
    field: str
    rows: np.ndarray


@dataclass
class ColumnarPrediction:
    model: str
    version: int
    n_rows: int
    # "label" (object array of labels), "label_index" (its position in ``labels``) and
    # "probabilities" (float64, n × k) for classification, "value" (float64, n) for regression
    outputs: dict[str, np.ndarray]
    labels: list[Any]
    flags: list[Flag]

    def label_texts(self) -> list[str]:
        """The predicted labels as text (the v2 ``label`` tensor): ``str`` of each label once,
        then one index, instead of a ``str()`` call per row."""
        texts = np.empty(len(self.labels), dtype=object)
        texts[:] = [str(label) for label in self.labels]
        return list(texts[self.outputs["label_index"]].tolist())

    def warnings(self) -> list[list[Any]]:
        """``[row, field, type]`` for every warning, ordered by row as the row format lists them."""
        flags = [f for f in self.flags if len(f.rows)]
        if not flags:
            return []
        rows = np.concatenate([f.rows for f in flags])
        which = np.repeat(np.arange(len(flags)), [len(f.rows) for f in flags])
        order = np.argsort(rows, kind="stable")  # stable: within a row, the features' own order
        names = [f.field for f in flags]
        types = [f.type for f in flags]
        return [[r, names[k], types[k]] for r, k in zip(rows[order].tolist(), which[order].tolist(), strict=True)]

    def counts(self) -> dict[str, dict[str, int]]:
        """Warnings per type and feature, only those that occurred."""
        found: dict[str, dict[str, int]] = {}
        for flag in self.flags:
            if len(flag.rows):
                found.setdefault(flag.type, {})[flag.field] = len(flag.rows)
        return found

    def native(self) -> dict[str, Any]:
        """The body of ``/predict?orient=columns``: arrays that orjson renders without a Python loop."""
        body: dict[str, Any] = {"model": self.model, "version": self.version, "orient": "columns", "rows": self.n_rows}
        if "value" in self.outputs:
            body["value"] = self.outputs["value"]
        else:
            body["label"] = self.outputs["label"].tolist()
            by_label = np.ascontiguousarray(self.outputs["probabilities"].T)  # orjson writes contiguous arrays only
            body["probabilities"] = {str(label): by_label[j] for j, label in enumerate(self.labels)}
        body["warnings"] = self.warnings()
        return body


def outputs_of(task: str, target: Any, label_array: np.ndarray, output: np.ndarray) -> dict[str, np.ndarray]:
    """The graph's raw output as named output columns (the same arithmetic as the row format)."""
    if task == "regression":
        return {"value": target.values(output)}
    proba = target.probabilities(output)
    best = proba.argmax(axis=1)
    return {"label": label_array[best], "label_index": best, "probabilities": np.ascontiguousarray(proba, dtype=np.float64)}
