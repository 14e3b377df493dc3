"""Which numeric features get more than their scores: the piecewise-linear ramps of the
staircase features (``numeric_encoding`` "auto", "auto+plr"; every feature under "ple") and
periodic embeddings (every feature under "plr", "auto+plr"), and the manifest entry naming them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from features.encoder import TabularEncoder
from features.schema import FeatureSpec
from features.target import LabelTarget, ScaledTarget
from training.loop.config import TrainConfig
from training.model.step_features import one_hot, step_features


def numeric_expansions(
    encoder: TabularEncoder,
    spec: FeatureSpec,
    config: TrainConfig,
    inputs: list[np.ndarray],
    y: np.ndarray,
    judged_on: str,
    target: LabelTarget | ScaledTarget,
    log: Callable[[str], None],
) -> tuple[list[int], dict[str, Any]]:
    """(the numeric features, by position, whose effect on y is a staircase and so get ramps
    under "auto" (training/model/step_features.py); the manifest entries ``ple_features`` and
    ``plr_features``). inputs: the model inputs of the rows to judge on (``judged_on`` names
    them in the log line of auto's pick), y: their encoded target."""
    encoding = config.encoding.numeric_encoding
    if encoding == "ple":
        return [], {"ple_features": list(spec.numeric)}
    periodic = {"plr_features": list(spec.numeric)} if encoding in ("plr", "auto+plr") else {}
    if encoding == "plr":
        return [], {"ple_features": [], **periodic}
    if encoding not in ("auto", "auto+plr") or encoder.numeric_ is None:
        return [], {"ple_features": []}
    y = np.asarray(y)
    if isinstance(target, LabelTarget) and (y.ndim == 1 or y.shape[1] == 1) and len(target.classes_) > 2:
        y = one_hot(y, len(target.classes_))
    expanded = step_features(inputs[-1][:, encoder.numeric_.score_columns()], y)  # numeric is the last input
    names = [spec.numeric[j] for j in expanded]
    log(f"piecewise-linear encoding (auto, judged on {judged_on}): {', '.join(names) if names else 'no numeric feature'}")
    return expanded, {"ple_features": names, **periodic}
