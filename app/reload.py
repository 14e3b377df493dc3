"""Changing what the repository serves: start-up, hot reload, and the load/unload API.

A version is loaded, verified and warmed in a worker thread while the old ones keep serving;
then the model's version dict is replaced in one assignment. A request that already holds the
old ``ServedModel`` finishes on it. Hot reload refuses a version that cannot be loaded, or whose
inputs or outputs differ from the served one (clients would break mid-flight): it is logged,
counted and remembered so it is not retried every poll, and the old one keeps serving. A model
that cannot be loaded at all shows UNAVAILABLE with the reason; the others are not affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import FastAPI

from app.model_config import read_config
from app.repository import LOADING, READY, UNAVAILABLE, ModelEntry, ModelRepository, VersionState
from app.serving import ServedModel, load_served_model
from features.artifacts import confined, list_versions
from features.errors import BundleError, CatembedError

log = logging.getLogger("catembed")


class ReloadRefused(CatembedError, status=409, kind="reload_refused"):
    """A new version on disk that is refused (bad bundle, other features); the version served before stays."""


class LoadFailed(CatembedError, status=409, kind="load_failed"):
    """A model none of whose selected versions can be loaded; it shows UNAVAILABLE with the reason."""


class Reloader:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._lock = asyncio.Lock()  # one change at a time: the poller, /admin/reload and the repository API

    @property
    def repository(self) -> ModelRepository:
        repository: ModelRepository = self.app.state.repository
        return repository

    async def start(self) -> None:
        """Load every model. In the one-model mode a bad bundle stops the start, as it always did."""
        repository = self.repository
        for entry in list(repository.entries.values()):
            if repository.single:
                served = await asyncio.to_thread(load_served_model, repository.settings)
                self._install(entry, {served.predictor.version: VersionState(READY, served=served)})
                _log_loaded(served)
                continue
            with contextlib.suppress(LoadFailed):  # logged; the model shows UNAVAILABLE with the reason
                await self._load_policy(entry)
        repository.settle_default()
        repository.started = True

    async def load(self, name: str) -> dict[str, Any]:
        """POST /v2/repository/models/{name}/load: read model.json again, load what it selects,
        and swap it in; on failure whatever was serving keeps serving."""
        async with self._lock:
            entry = self.repository.add(name) if not self.repository.single else self.repository.entry(name)
            entry.refused, entry.refused_stamps = {}, {}
            await self._load_policy(entry)
            return entry.describe()

    async def unload(self, name: str) -> dict[str, Any]:
        async with self._lock:
            entry = self.repository.entry(name)
            retired = entry.ready()
            entry.unloaded = True
            self._install(entry, {})
            for served in retired.values():
                self.app.state.metrics.retire(served)
            log.info("unloaded model %s", name, extra={"model": name, "versions": list(retired)})
            return entry.describe()

    async def check(self, name: str | None = None) -> dict[str, Any]:
        """Hot reload of one model (the default one for POST /admin/reload)."""
        async with self._lock:
            return await self._refresh(self.repository.entry(name))

    async def poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for name in self.repository.scan():
                if name not in self.repository.entries:  # a model folder that appeared: serve it
                    try:
                        async with self._lock:
                            await self._load_policy(self.repository.add(name))
                    except LoadFailed:
                        pass  # logged; the model shows UNAVAILABLE with the reason
                    except Exception:
                        log.exception("loading the new model %s failed", name, extra={"model": name})
            for entry in list(self.repository.entries.values()):
                try:
                    async with self._lock:
                        await self._refresh(entry)
                except ReloadRefused:
                    pass  # logged and counted in _refresh()
                except Exception:
                    log.exception("checking %s for a new version failed", entry.directory, extra={"model": entry.name})

    async def _load_policy(self, entry: ModelEntry) -> None:
        """Load every version the model's policy selects, then swap them all in at once."""
        entry.tried = entry.on_disk()
        try:
            self._confine(entry)
            entry.config = read_config(entry.directory) if not self.repository.single else entry.config
            wanted = entry.config.select(list_versions(entry.directory))
            if not wanted:
                raise BundleError(f"no version of {entry.name} is selected by {entry.config.describe()}")
        except BundleError as exc:
            entry.reason = exc.message
            entry.unloaded = False
            log.error("model %s is unavailable: %s", entry.name, exc.message, extra={"model": entry.name})
            raise LoadFailed(
                f"model {entry.name!r} could not be loaded: {exc.message}", field="model", value=entry.name
            ) from None
        previous = entry.versions
        entry.set_versions({**previous, **{v: VersionState(LOADING) for v in wanted if v not in entry.ready()}})
        loaded = {v: await self._load_version(entry, v) for v in wanted}
        if not any(state.state == READY for state in loaded.values()) and entry.ready():
            entry.set_versions(previous)  # nothing new works: the old versions keep serving
        else:
            for served in entry.ready().values():
                self.app.state.metrics.retire(served)
            self._install(entry, loaded)
        entry.unloaded, entry.reason = False, ""
        failed = {v: s.reason for v, s in loaded.items() if s.state != READY}
        if failed and len(failed) == len(loaded):
            raise LoadFailed(f"model {entry.name!r} could not be loaded: {failed}", field="model", value=entry.name)

    def _confine(self, entry: ModelEntry) -> None:
        """A repository's model folder must lie inside it: a symbolic link that leads elsewhere
        would let whoever can make one serve (and probe) any folder of the server."""
        root = self.repository.root
        if root is not None and not confined(entry.directory, root):
            raise BundleError(f"model folder {entry.name} is a link to outside the model repository: refused")

    async def _load_version(self, entry: ModelEntry, version: int) -> VersionState:
        try:
            self._confine(entry)
            served = await asyncio.to_thread(load_served_model, self.repository.settings, version, entry.directory)
        except Exception as exc:
            reason = _reason(exc)
            log.error(
                "model %s version %s is unavailable: %s",
                entry.name,
                version,
                reason,
                extra={"model": entry.name, "version": version},
            )
            return VersionState(UNAVAILABLE, reason)
        _log_loaded(served)
        return VersionState(READY, served=served)

    async def _refresh(self, entry: ModelEntry) -> dict[str, Any]:
        """Load versions the policy newly selects (compatible ones only), retire those it no longer does."""
        ready = entry.ready()
        current = max(ready) if ready else None
        for version in [v for v in entry.refused if entry.version_stamp(v) != entry.refused_stamps.get(v)]:
            del entry.refused[version]  # its files changed since it was refused (repaired, or fully copied): try again
            entry.refused_stamps.pop(version, None)
        available = [v for v in list_versions(entry.directory) if v not in entry.refused]
        wanted = entry.config.select(available)
        if entry.unloaded:
            return {"status": "unchanged", **self._state(entry)}
        if current is None:  # nothing served (it failed to load): try again once the disk changed
            if entry.on_disk() != entry.tried:
                with contextlib.suppress(LoadFailed):
                    await self._load_policy(entry)
            return {"status": "reloaded" if entry.ready() else "unchanged", **self._state(entry)}
        new = [v for v in wanted if v not in ready and v > current]
        if not new:
            return {"status": "unchanged", **self._state(entry)}
        loaded: dict[int, VersionState] = {}
        for version in new:
            state = await self._load_version(entry, version)
            try:
                if state.served is None:
                    raise BundleError(state.reason)
                _check_compatible(ready[current], state.served)
            except BundleError as exc:
                entry.refused[version] = exc.message
                entry.refused_stamps[version] = entry.version_stamp(version)
                self.app.state.metrics.reloads.labels("refused").inc()
                log.error(
                    "refused version %s: %s; still serving version %s",
                    version,
                    exc.message,
                    current,
                    extra={"model": entry.name, "version": version},
                )
                raise ReloadRefused(
                    f"version {version} was refused: {exc.message}; still serving version {current}",
                    field="version",
                    value=version,
                ) from None
            loaded[version] = state
        keep = set(entry.config.select([*ready, *loaded]))
        for version, served in ready.items():
            if version not in keep:
                self.app.state.metrics.retire(served)
        self._install(entry, {**{v: s for v, s in entry.versions.items() if v in keep}, **loaded})
        newest = loaded[max(loaded)].served
        assert newest is not None
        log.info(
            "now serving version %s (was %s; loaded in %.2f s)",
            max(loaded),
            current,
            newest.load_seconds,
            extra={"model": entry.name, "version": max(loaded)},
        )
        self.app.state.metrics.reloads.labels("loaded").inc()
        return {"status": "reloaded", "previous": current, "load_seconds": round(newest.load_seconds, 3), **self._state(entry)}

    def _install(self, entry: ModelEntry, versions: dict[int, VersionState]) -> None:
        for state in versions.values():
            if state.served is not None:
                self.app.state.metrics.track(state.served)
        entry.set_versions(versions)  # the swap: one assignment
        self.app.openapi_schema = None  # /docs describes the new default version

    def _state(self, entry: ModelEntry) -> dict[str, Any]:
        ready = entry.ready()
        return {"model": entry.name, "version": max(ready) if ready else None, "refused": dict(entry.refused)}


def _log_loaded(served: ServedModel) -> None:
    p = served.predictor
    log.info(
        "serving %s version %s from %s (loaded in %.2f s)",
        p.name,
        p.version,
        p.bundle.path,
        served.load_seconds,
        extra={"model": p.name, "version": p.version},
    )


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, CatembedError) else f"{type(exc).__name__}: {exc}"


def _check_compatible(old: ServedModel, new: ServedModel) -> None:
    """Same task, inputs and labels: the request and response shapes clients rely on."""

    def contract(served: ServedModel) -> dict[str, Any]:
        p = served.predictor
        return {"task": p.task, "categorical": p.categorical, "numeric": p.numeric, "labels": [str(x) for x in p.labels]}

    before, after = contract(old), contract(new)
    changed = [key for key in before if before[key] != after[key]]
    if changed:
        details = ", ".join(f"{key} {before[key]} -> {after[key]}" for key in changed)
        raise BundleError(f"incompatible with the served model ({details}); restart the service to switch deliberately")
