"""Helpers for the ``catembed predict`` tests: real bundles from tests/conftest.py, real files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from app.predictor import Predictor
from features.artifacts import load_bundle
from training.cli import main

FEATURES = ["color", "city", "size", "x", "noise"]


def predict(run, data: Path, out: Path, *extra: str) -> int:
    return main(["predict", str(run.path.parent), "--version", run.path.name, "--data", str(data), "--out", str(out), *extra])


def service_answers(run, frame: pd.DataFrame) -> tuple[list[dict[str, Any]], Predictor]:
    """What the service's Predictor answers for these rows, sent as JSON records."""
    predictor = Predictor(load_bundle(run.path.parent, int(run.path.name)), max_records=len(frame) + 1)
    rows = [
        {k: (None if isinstance(v, float) and math.isnan(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
        for r in frame[FEATURES].to_dict("records")
    ]
    return predictor.predict(orjson.dumps({"records": rows}))["predictions"], predictor


def assert_same_predictions(table: pd.DataFrame, answers: list[dict[str, Any]], task: str) -> None:
    assert len(table) == len(answers)
    if task == "regression":
        # the network's output is float32: in target units (values ~60 here) its resolution is
        # ~4e-6, and a different batch shape may round the last bit differently
        np.testing.assert_allclose(table["prediction"], [a["value"] for a in answers], rtol=1e-6, atol=1e-6)
        return
    for label in answers[0]["probabilities"]:
        np.testing.assert_allclose(table[f"p_{label}"], [a["probabilities"][label] for a in answers], rtol=0, atol=1e-6)
    assert table["label"].tolist() == [a["label"] for a in answers]
