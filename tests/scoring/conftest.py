"""Helpers for the ``catembed predict`` tests: real bundles from tests/conftest.py, real files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from app.predictor import Predictor
from cli.main import main
from features.artifacts import load_bundle

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


def assert_same_predictions(table: pd.DataFrame, answers: list[dict[str, Any]], task: str, scale: float = 1.0) -> None:
    """scale: a regression target's scale_. The network's float32 output is held to the parity
    gate (1e-5) whatever the batch shape, and BLAS rounds a sum differently in a matrix of another
    height; in target units that tolerance is multiplied by the target's scale."""
    assert len(table) == len(answers)
    if task == "regression":
        np.testing.assert_allclose(table["prediction"], [a["value"] for a in answers], rtol=0, atol=1e-5 * scale)
        return
    for label in answers[0]["probabilities"]:
        np.testing.assert_allclose(table[f"p_{label}"], [a["probabilities"][label] for a in answers], rtol=0, atol=1e-6)
    assert table["label"].tolist() == [a["label"] for a in answers]
