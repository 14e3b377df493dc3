"""The ONNX export's parity gate: onnxruntime must answer as the bundle's NumPy graph does.

A bundle keeps no holdout rows, so the rows are built from what it does keep (docs/onnx.md):

- every vocabulary value of every categorical feature, in every spelling the graph maps (``7``
  and ``7.0``, ``1`` and ``true``), an unseen value and a missing one (``""``);
- for every numeric feature: missing (NaN), the training min, max, median and mean, values beyond
  both clip bounds, every rank-gauss knot and the midpoints between knots (where the
  interpolation, the piecewise-linear ramps and the periodic embeddings all bend), and uniform
  draws over the range;
- the manifest's example record.

Feature by feature these lists are cycled over as many rows as the longest needs, so every value
is met, next to varying values of the other features. The NumPy side receives the same raw
values (Python strings or None, floats) through the service's own encoder
(``TabularEncoder.transform``); the ONNX side their canonical strings and doubles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from features.artifacts import Bundle
from features.canonical import canonical
from training.export.onnx_encoding import spellings

TOLERANCE = 1e-5  # the NumPy graph's own gate against Keras (training-serving parity)
_UNSEEN = "\u2400 never seen in training"


@dataclass
class ParityRows:
    raw: dict[str, list[Any]]  # what the service's encoder gets: None for a missing category
    feeds: dict[str, np.ndarray]  # what onnxruntime gets: strings ("" missing) and doubles

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.raw.values())))


def parity_rows(bundle: Bundle, seed: int = 0) -> ParityRows:
    encoder, rng = bundle.encoder, np.random.default_rng(seed)
    example = bundle.manifest.get("example") or {}
    columns: dict[str, list[Any]] = {}
    for name in encoder.categorical:
        vocabulary = encoder.categorical_[name].vocabulary_
        values: list[Any] = [s for v in vocabulary for s in spellings(v)] + [_UNSEEN, None]
        columns[name] = values + ([example[name]] if name in example else [])
    numeric = encoder.numeric_
    for j, name in enumerate(encoder.numeric):
        # a column that is also categorical: its vocabulary's numbers as well (every row exercised)
        known = [float(v) for v in encoder.categorical_[name].vocabulary_] if name in encoder.categorical_ else []
        columns[name] = known + _numbers(numeric, j, rng) + ([example[name]] if name in example else [])
    n = max(len(v) for v in columns.values())
    raw = {name: [values[i % len(values)] for i in range(n)] for name, values in columns.items()}
    feeds: dict[str, np.ndarray] = {}
    for name in encoder.categorical:
        feeds[name] = np.asarray(["" if (c := canonical(v)) is None else c for v in raw[name]], dtype=object)
    for name in encoder.numeric:
        feeds[name] = np.asarray([np.nan if v is None else float(v) for v in raw[name]], dtype=np.float64)
    return ParityRows(raw, feeds)


def _numbers(numeric: Any, j: int, rng: np.random.Generator) -> list[Any]:
    low, high = float(numeric.mins_[j]), float(numeric.maxs_[j])
    span = max(high - low, 1.0)
    values = [np.nan, low, high, float(numeric.medians_[j]), float(numeric.means_[j]), low - span, high + span, low - 1e-9 * span]
    knots = getattr(numeric, "quantile_values_", None)
    if knots is not None:
        xp = np.asarray(knots[j], dtype=np.float64)
        values += xp.tolist() + ((xp[1:] + xp[:-1]) / 2).tolist()
    values += rng.uniform(low, high, 64).tolist()
    return values


def network_outputs(bundle: Bundle, rows: ParityRows) -> np.ndarray:
    """The bundle's NumPy graph on the rows, through the service's encoder."""
    batch = bundle.encoder.transform(rows.raw)
    return bundle.graph(batch.categorical, batch.numeric)


def differences(bundle: Bundle, rows: ParityRows, expected: np.ndarray, got: dict[str, np.ndarray]) -> dict[str, float]:
    """The largest difference of each answer, measured where the NumPy graph's gate measures it:
    the network's output (probabilities, or a regression's standardised value) and the vectors."""
    found = {"output": float(np.abs(got["output"] - expected).max())}
    batch = bundle.encoder.transform(rows.raw)
    for name, table, codes in zip(bundle.encoder.categorical, bundle.graph.vectors, batch.categorical, strict=True):
        found[f"{name}__embedding"] = float(np.abs(got[f"{name}__embedding"] - table[codes]).max())
    if "probabilities" in got:
        probabilities = bundle.target.probabilities(expected)
        found["probabilities"] = float(np.abs(got["probabilities"] - probabilities).max())
        clear = _clear_winners(probabilities)  # a near tie may go either way within the tolerance
        labels = np.asarray([str(label) for label in bundle.target.classes_], dtype=object)
        found["label_mismatches"] = float((got["label"][clear] != labels[probabilities.argmax(axis=1)][clear]).sum())
    else:
        # in the target's own units the tolerance is the output's, carried through the inverse transform
        values = bundle.target.values(expected)
        allowed = np.maximum(
            np.abs(bundle.target.values(expected + TOLERANCE) - values),
            np.abs(bundle.target.values(expected - TOLERANCE) - values),
        )
        found["value"] = float((np.abs(got["value"] - values) / np.maximum(allowed, 1e-300)).max() * TOLERANCE)
    return found


def _clear_winners(probabilities: np.ndarray) -> np.ndarray:
    top = np.sort(probabilities, axis=1)
    return (top[:, -1] - top[:, -2]) > 2 * TOLERANCE if probabilities.shape[1] > 1 else np.ones(len(top), dtype=bool)
