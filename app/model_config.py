"""A model's serving config: which versions to serve, and labels for them (TF Serving's ideas).

An optional ``<repository>/<name>/model.json`` next to the version folders::

    {"version_policy": {"latest": 2}, "labels": {"stable": 3, "canary": 4}}

``version_policy`` is one of ``{"latest": N}`` (the N newest; the default is the newest one),
``{"all": {}}`` or ``{"specific": [1, 3]}``. JSON rather than YAML: the service does not depend
on a YAML parser, and the file is three lines. A file that cannot be read makes that model
UNAVAILABLE with the reason; the other models are not affected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from features.errors import BundleError
from features.schema import NAME_PATTERN

CONFIG_FILE = "model.json"


@dataclass(frozen=True)
class ModelConfig:
    policy: str = "latest"  # latest | all | specific
    latest: int = 1
    specific: tuple[int, ...] = ()
    labels: dict[str, int] = field(default_factory=dict)

    def select(self, available: list[int]) -> list[int]:
        """The versions to serve out of those on disk (oldest first)."""
        if self.policy == "all":
            return list(available)
        if self.policy == "specific":
            return [v for v in available if v in self.specific]
        return list(available[-self.latest :]) if available else []

    def describe(self) -> dict[str, Any]:
        policy: dict[str, Any] = {"latest": self.latest} if self.policy == "latest" else {}
        if self.policy == "all":
            policy = {"all": {}}
        elif self.policy == "specific":
            policy = {"specific": list(self.specific)}
        return {"version_policy": policy, "labels": dict(self.labels)}


def pinned(version: int) -> ModelConfig:
    """CATEMBED_MODEL_VERSION in the one-model mode: exactly that version."""
    return ModelConfig(policy="specific", specific=(version,))


def read_config(model_dir: Path) -> ModelConfig:
    """``model_dir/model.json``, or the default policy when there is none."""
    path = model_dir / CONFIG_FILE
    if not path.is_file():
        return ModelConfig()
    file = f"{model_dir.name}/{CONFIG_FILE}"  # named in answers: never the server's absolute path
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{file} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or set(raw) - {"version_policy", "labels"}:
        raise BundleError(f"{file} must be an object with 'version_policy' and/or 'labels'", value=raw)
    return ModelConfig(**_policy(file, raw.get("version_policy", {"latest": 1})), labels=_labels(file, raw.get("labels", {})))


def _policy(file: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise BundleError(f"{file}: version_policy must be one of {{'latest': N}}, {{'all': {{}}}}, {{'specific': [...]}}")
    kind, value = next(iter(raw.items()))
    if kind == "latest" and _positive(value):
        return {"policy": "latest", "latest": value}
    if kind == "all" and value in ({}, None, True):
        return {"policy": "all"}
    if kind == "specific" and isinstance(value, list) and value and all(_positive(v) for v in value):
        return {"policy": "specific", "specific": tuple(sorted(set(value)))}
    raise BundleError(f"{file}: version_policy {raw!r} is invalid", field="version_policy", value=raw)


def _labels(file: str, raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and NAME_PATTERN.fullmatch(k) and _positive(v) for k, v in raw.items()
    ):
        raise BundleError(f"{file}: labels must map names to version numbers, e.g. {{'stable': 3}}", field="labels", value=raw)
    return dict(raw)


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
