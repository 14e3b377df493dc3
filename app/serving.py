"""The model being served: a loaded bundle with its predictor, embedding index and schemas.

Everything a request needs hangs off one ``ServedModel`` object, so swapping in a new version
(hot reload) is a single attribute assignment: a request that already holds the old object
finishes on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from app.embeddings import EmbeddingIndex
from app.predictor import Predictor
from app.projection import Projections
from app.schemas import record_models
from app.settings import Settings
from features.artifacts import load_bundle
from features.coverage import RETIRED_NAMES, Coverage


@dataclass
class ServedModel:
    predictor: Predictor
    embeddings: EmbeddingIndex
    models: dict[str, type[BaseModel]]
    load_seconds: float
    projections: Projections

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
            # training-table columns a record may carry; accepted and ignored
            "ignored_columns": [{"name": name, "reason": why} for name, why in self.predictor.ignored.items()],
            "metrics": m.get("metrics", {}),
            "importance": m.get("importance"),  # permutation importance on the holdout; None for older bundles
            "created_at": m.get("created_at"),
            "training": {
                k: m.get("training", {}).get(k)
                for k in (
                    "rows",
                    "epochs_run",
                    "best_epoch",
                    "fit_seconds",
                    "data_fingerprint",
                    "ple_features",
                    "plr_features",
                    "ensemble",
                    "batch_ensemble",
                )
            },
            "parameters": m.get("model", {}).get("parameters"),
            "parity": m.get("parity"),
            "example": m.get("example"),
            "versions": m.get("versions"),
            "path": f"{self.predictor.name}/{self.predictor.version}",  # relative: no server path in answers
            "coverage": self.coverage(),
        }

    def coverage(self) -> dict[str, dict[str, Any]]:
        """Per categorical feature: how much of what training saw got its own vector (the facts of
        ``features.coverage``), and how often served records fell back to the unknown vector (the
        explorer's feature picker)."""
        drift = self.predictor.drift
        found = {}
        for name, table in self.embeddings.tables.items():
            unknown = drift.unknown.get(name, 0)
            found[name] = {
                **Coverage.of(self.predictor.encoder.categorical_[name]).to_dict(),
                "embedding_dim": int(table.shape[1]),
                "served_rows": drift.rows,
                "served_unknown": unknown,
                "served_unknown_rate": unknown / drift.rows if drift.rows else None,
            }
        return found

    def _features(self) -> list[dict[str, Any]]:
        """The manifest's features, each categorical one with today's coverage facts from its
        encoder (a bundle written before them, or under their old names, gets the same)."""
        encoders = self.predictor.bundle.encoder.categorical_
        return [
            {**{k: v for k, v in f.items() if k not in RETIRED_NAMES}, **Coverage.of(encoders[f["name"]]).to_dict()}
            if f.get("kind") == "categorical" and f["name"] in encoders
            else f
            for f in self.manifest["features"]
        ]


def load_served_model(settings: Settings, version: int | None = None, model_dir: Path | None = None) -> ServedModel:
    """Load, verify and warm a bundle; raises features.errors.BundleError when it cannot.

    ``model_dir`` is a repository's model folder: its name is the one clients address, so it
    wins over the manifest's (a copied folder is a model of its own, also in the metrics)."""
    started = time.perf_counter()
    if model_dir is None:
        bundle = load_bundle(settings.model_dir, version if version is not None else settings.model_version)
    else:
        bundle = load_bundle(model_dir, version)
        bundle.name = model_dir.name
    predictor = Predictor(bundle, max_records=settings.max_records, max_string_length=settings.max_string_length)
    predictor.warm_up()  # resets the counters: the warm-up is not a prediction anyone asked for
    embeddings = EmbeddingIndex(bundle.encoder, bundle.graph.vectors)
    models = record_models(bundle.manifest, settings.max_records, settings.max_string_length)
    projections = Projections(predictor, embeddings)  # computed on first request, per feature
    return ServedModel(predictor, embeddings, models, time.perf_counter() - started, projections)
