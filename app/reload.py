"""Hot reload: switch to a newer model version without dropping a request.

A new version is loaded, verified and warmed in a worker thread while the old one keeps
serving; then ``app.state.served`` is replaced in one assignment. A request that already
holds the old ``ServedModel`` finishes on it. A version that cannot be loaded, or whose
inputs or outputs differ from the served one (clients would break mid-flight), is refused,
logged, counted, and remembered so it is not retried every poll; the old one keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI

from app.serving import ServedModel, load_served_model
from features.artifacts import list_versions
from features.errors import BundleError, CatembedError

log = logging.getLogger("catembed")


class ReloadRefused(CatembedError):
    status_code = 409
    error_type = "reload_refused"


class Reloader:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.refused: dict[int, str] = {}
        self._lock = asyncio.Lock()  # one load at a time: the poller and POST /admin/reload

    def candidate(self, current: int) -> int | None:
        """The newest version above ``current`` not refused before; None when pinned or none."""
        settings = self.app.state.settings
        if settings.model_version is not None:
            return None
        newer = [v for v in list_versions(settings.model_dir) if v > current and v not in self.refused]
        return max(newer, default=None)

    async def check(self) -> dict[str, Any]:
        async with self._lock:
            served: ServedModel = self.app.state.served
            current = served.predictor.version
            version = self.candidate(current)
            if version is None:
                return {"status": "unchanged", **self._state(served)}
            try:
                new = await asyncio.to_thread(load_served_model, self.app.state.settings, version)
                _check_compatible(served, new)
            except Exception as exc:
                reason = exc.message if isinstance(exc, CatembedError) else f"{type(exc).__name__}: {exc}"
                self.refused[version] = reason
                self.app.state.metrics.reloads.labels("refused").inc()
                log.error(
                    "refused version %s: %s; still serving version %s", version, reason, current, extra={"version": version}
                )
                raise ReloadRefused(
                    f"version {version} was refused: {reason}; still serving version {current}", field="version", value=version
                ) from None
            self.install(new)
            log.info("now serving version %s (was %s; loaded in %.2f s)", version, current, new.load_seconds)
            return {"status": "reloaded", "previous": current, "load_seconds": round(new.load_seconds, 3), **self._state(new)}

    def install(self, served: ServedModel) -> None:
        self.app.state.metrics.track(served)
        self.app.state.served = served  # the swap: one assignment
        self.app.openapi_schema = None  # /docs describes the new version
        self.app.state.metrics.reloads.labels("loaded").inc()

    async def poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check()
            except ReloadRefused:
                pass  # logged and counted in check()
            except Exception:
                log.exception("checking %s for a new version failed", self.app.state.settings.model_dir)

    def _state(self, served: ServedModel) -> dict[str, Any]:
        return {"model": served.predictor.name, "version": served.predictor.version, "refused": dict(self.refused)}


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
