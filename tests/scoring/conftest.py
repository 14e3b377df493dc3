"""Helpers for the ``catembed predict`` tests: real bundles from tests/conftest.py, real files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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


def assert_same_predictions(table: pd.DataFrame, answers: list[dict[str, Any]], task: str) -> None:
    """Bit for bit: a record's answer does not depend on the batch it is scored in (features.row_blocks),
    so ``catembed predict``'s batches and the service's give the same floats."""
    assert len(table) == len(answers)
    if task == "regression":
        assert table["prediction"].tolist() == [a["value"] for a in answers]
        return
    for label in answers[0]["probabilities"]:
        assert table[f"p_{label}"].tolist() == [a["probabilities"][label] for a in answers]
    assert table["label"].tolist() == [a["label"] for a in answers]
