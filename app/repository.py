"""The model repository: every served model, by name and version, each a loaded ``ServedModel``.

One object the routes consult. ``CATEMBED_MODEL_REPOSITORY=model_artifacts`` serves every
``<name>/<version>/`` folder under it; ``CATEMBED_MODEL_DIR`` is the same object holding one
model. The default model (the only one, or ``CATEMBED_DEFAULT_MODEL``) answers today's routes.

A model's versions live in one dict that is replaced, never edited, when a version is loaded or
retired: a request that already holds a ``ServedModel`` finishes on it, and a reader never sees
a half-made change. Loading itself (threads, refusals, hot reload) is app/reload.py's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.model_config import CONFIG_FILE, ModelConfig, pinned
from app.serving import ServedModel
from app.settings import Settings
from features.artifacts import list_versions
from features.errors import BundleError, CatembedError
from features.schema import NAME_PATTERN

READY, LOADING, UNAVAILABLE, UNLOADED = "READY", "LOADING", "UNAVAILABLE", "UNLOADED"


class ModelNotFound(CatembedError, status=404, kind="model_not_found"):
    """No model of that name is served."""


class ModelNotReady(CatembedError, status=503, kind="model_not_ready"):
    """The model is known but has no version ready (loading, unloaded or failed)."""


@dataclass(frozen=True)
class VersionState:
    state: str
    reason: str = ""
    served: ServedModel | None = None


@dataclass
class ModelEntry:
    name: str
    directory: Path
    config: ModelConfig = field(default_factory=ModelConfig)
    versions: dict[int, VersionState] = field(default_factory=dict)  # replaced whole, never edited
    refused: dict[int, str] = field(default_factory=dict)  # bad versions hot reload does not retry while unchanged
    refused_stamps: dict[int, tuple[Any, ...]] = field(default_factory=dict)  # their files when refused
    reason: str = ""  # why the model as a whole is unavailable (bad model.json, no version)
    unloaded: bool = False  # unloaded through the API: hot reload leaves it alone
    tried: tuple[Any, ...] = ()  # what the last load saw on disk: hot reload retries only after a change

    def on_disk(self) -> tuple[Any, ...]:
        """The versions with their files' stamps, and the model.json stamp: a failed model is tried
        again when they change (a version caught half-copied is retried once the copy is done)."""
        config = self.directory / CONFIG_FILE
        versions = tuple((v, self.version_stamp(v)) for v in list_versions(self.directory))
        return (versions, config.stat().st_mtime_ns if config.is_file() else None)

    def version_stamp(self, version: int) -> tuple[Any, ...]:
        """Name, size and mtime of every file of a version folder: cheap enough for every poll."""
        try:
            files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in (self.directory / str(version)).iterdir())
        except OSError:
            return ()
        return tuple(files)

    def ready(self) -> dict[int, ServedModel]:
        return {v: s.served for v, s in sorted(self.versions.items()) if s.served is not None and s.state == READY}

    @property
    def state(self) -> str:
        states = {s.state for s in self.versions.values()}
        for state in (READY, LOADING):
            if state in states:
                return state
        return UNLOADED if self.unloaded else UNAVAILABLE

    def set_versions(self, versions: dict[int, VersionState]) -> None:
        self.versions = dict(sorted(versions.items()))  # the swap: one assignment

    def resolve(self, version: int | None = None, label: str | None = None) -> ServedModel:
        if label is not None:
            if label not in self.config.labels:
                raise ModelNotFound(
                    f"model {self.name!r} has no version label {label!r}",
                    field="label",
                    value=label,
                    expected=_known(self.config.labels),
                )
            version = self.config.labels[label]
        ready = self.ready()
        if version is None:
            if not ready:
                raise ModelNotReady(
                    f"model {self.name!r} has no version ready ({self.state.lower()}{self._why()})",
                    field="model",
                    value=self.name,
                )
            return ready[max(ready)]
        if version in ready:
            return ready[version]
        known = self.versions.get(version)
        if known is None and version not in list_versions(self.directory):
            raise ModelNotFound(
                f"model {self.name!r} has no version {version}", field="version", value=version, expected=_known(self.versions)
            )
        why = f": {known.reason}" if known is not None and known.reason else ""
        state = known.state.lower() if known is not None else "not served by the version policy"
        raise ModelNotReady(f"version {version} of model {self.name!r} is {state}{why}", field="version", value=version)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "reason": self.reason or next((s.reason for s in self.versions.values() if s.reason), ""),
            "versions": [{"version": v, "state": s.state, "reason": s.reason} for v, s in self.versions.items()],
            **self.config.describe(),
            "refused": {str(v): reason for v, reason in self.refused.items()},
        }

    def _why(self) -> str:
        reason = self.reason or next((s.reason for s in self.versions.values() if s.reason), "")
        return f": {reason}" if reason else ""


class ModelRepository:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.model_repository
        self.entries: dict[str, ModelEntry] = {}
        self.started = False  # the first load is over: /ready may say so
        self._settled: str | None = None  # the default without CATEMBED_DEFAULT_MODEL: settle_default()
        if self.root is None:  # CATEMBED_MODEL_DIR: one model, exactly as before the repository
            config = pinned(settings.model_version) if settings.model_version is not None else ModelConfig()
            name = settings.model_dir.name
            self.entries[name] = ModelEntry(name, settings.model_dir, config)
        else:
            if not self.root.is_dir():
                raise BundleError(f"CATEMBED_MODEL_REPOSITORY={self.root} is not a folder")
            for name in self.scan():
                self.entries[name] = ModelEntry(name, self.root / name)
            if settings.default_model is not None and settings.default_model not in self.entries:
                raise BundleError(
                    f"CATEMBED_DEFAULT_MODEL={settings.default_model} is not a model folder in {self.root}"
                    f" ({_known(self.entries)})"
                )

    @property
    def default_name(self) -> str | None:
        """The model today's unprefixed routes serve: CATEMBED_DEFAULT_MODEL, else the one model
        loaded when start-up finished. Fixed from then on: loading a second model or unloading one
        through the repository API never changes which model /predict answers with (issue 28)."""
        if self.root is None or self.settings.default_model is not None:
            return self.settings.default_model or next(iter(self.entries))
        return self._settled if self.started else None

    def settle_default(self) -> None:
        """Called once start-up has loaded every model: the only loaded one, if one, is the default."""
        loaded = [name for name, entry in self.entries.items() if entry.ready()]
        self._settled = loaded[0] if len(loaded) == 1 else None

    @property
    def single(self) -> bool:
        return self.root is None

    def scan(self) -> list[str]:
        """Model folders under the repository root: valid names, not hidden, not temporary."""
        if self.root is None or not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and NAME_PATTERN.fullmatch(p.name))

    def entry(self, name: str | None) -> ModelEntry:
        if name is None:
            if self.default_name is None:
                raise ModelNotFound(
                    "no default model: set CATEMBED_DEFAULT_MODEL, or call /models/{name}/...",
                    field="model",
                    expected=_known(self.entries),
                )
            name = self.default_name
        found = self.entries.get(name)
        if found is None:
            raise ModelNotFound(f"no model named {name!r}", field="model", value=name, expected=_known(self.entries))
        return found

    def add(self, name: str) -> ModelEntry:
        """A model folder that appeared after start-up (POST /v2/repository/models/{name}/load)."""
        if self.root is None or name not in self.scan():
            raise ModelNotFound(
                f"no model named {name!r} in the repository", field="model", value=name, expected=_known(self.entries)
            )
        entry = self.entries.setdefault(name, ModelEntry(name, self.root / name))
        self.entries = dict(sorted(self.entries.items()))
        return entry

    def served(self, name: str | None = None, version: int | None = None, label: str | None = None) -> ServedModel:
        return self.entry(name).resolve(version, label)

    def default(self) -> ServedModel | None:
        """Today's ``app.state.served``: the default model's newest ready version, if any."""
        try:
            return self.served()
        except CatembedError:
            return None

    def ready(self) -> bool:
        if not self.started:
            return False
        if self.default_name is not None:
            return self.default() is not None
        return any(e.ready() for e in self.entries.values())

    def index(self) -> list[dict[str, Any]]:
        """Triton's repository index: one row per model version (or per model without one)."""
        rows = []
        for entry in self.entries.values():
            if not entry.versions:
                rows.append({"name": entry.name, "state": entry.state, "reason": entry.reason})
            for version, state in entry.versions.items():
                rows.append({"name": entry.name, "version": str(version), "state": state.state, "reason": state.reason})
        return rows


def _known(items: Any) -> str:
    names = [str(x) for x in items]
    return "one of " + ", ".join(names[:20]) if names else "none are available"
