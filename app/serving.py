"""The model being served: a loaded bundle with its predictor, embedding index and schemas.

Everything a request needs hangs off one ``ServedModel`` object, so swapping in a new version
(hot reload) is a single attribute assignment: a request that already holds the old object
finishes on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app.embeddings import EmbeddingIndex
from app.predictor import Predictor
from app.schemas import record_models
from app.settings import Settings
from features.artifacts import load_bundle


@dataclass
class ServedModel:
    predictor: Predictor
    embeddings: EmbeddingIndex
    models: dict[str, type[BaseModel]]
    load_seconds: float

    @property
    def manifest(self) -> dict[str, Any]:
        return self.predictor.manifest

    def describe(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "name": self.predictor.name,
            "version": self.predictor.version,
            "task": m["task"],
            "target": m["target"]["name"],
            "labels": m["target"].get("labels"),
            "features": self._features(),
            "numeric_inputs": m.get("numeric_inputs", []),
            "metrics": m.get("metrics", {}),
            "created_at": m.get("created_at"),
            "training": {
                k: m.get("training", {}).get(k) for k in ("rows", "epochs_run", "best_epoch", "fit_seconds", "data_fingerprint")
            },
            "parameters": m.get("model", {}).get("parameters"),
            "parity": m.get("parity"),
            "example": m.get("example"),
            "versions": m.get("versions"),
            "path": str(self.predictor.bundle.path),
        }

    def _features(self) -> list[dict[str, Any]]:
        """The manifest's features; a bundle written before coverage was recorded gets it from its encoder."""
        encoders = self.predictor.bundle.encoder.categorical_
        return [
            {**encoders[f["name"]].coverage(), **f}
            if f.get("kind") == "categorical" and "values_with_vector" not in f and f["name"] in encoders
            else f
            for f in self.manifest["features"]
        ]


def load_served_model(settings: Settings, version: int | None = None) -> ServedModel:
    """Load, verify and warm a bundle; raises features.errors.BundleError when it cannot."""
    started = time.perf_counter()
    bundle = load_bundle(settings.model_dir, version if version is not None else settings.model_version)
    predictor = Predictor(bundle, max_records=settings.max_records, max_string_length=settings.max_string_length)
    predictor.warm_up()  # resets the counters: the warm-up is not a prediction anyone asked for
    embeddings = EmbeddingIndex(bundle.encoder, bundle.graph.embeddings)
    models = record_models(bundle.manifest, settings.max_records, settings.max_string_length)
    return ServedModel(predictor, embeddings, models, time.perf_counter() - started)
