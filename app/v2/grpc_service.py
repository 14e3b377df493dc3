"""What each gRPC method answers: the REST v2 routes' answers, from the same repository and Predictor.

Models are found in the app's live ``ModelRepository`` on every call, never copied: a hot reload
or a repository load/unload (through either door) is what the next gRPC call sees. Errors are
the one ``CatembedError`` family; app/v2/grpc_server.py turns them into gRPC status codes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from app import __version__
from app.repository import READY, ModelNotFound, ModelNotReady, ModelRepository
from app.serving import ServedModel
from app.v2 import codec, grpc_codec
from app.v2 import grpc_messages as messages
from app.v2.routes import EXTENSIONS, THREADPOOL_BYTES


class InferenceService:
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    @property
    def repository(self) -> ModelRepository:
        found = getattr(self.app.state, "repository", None)
        if found is None:
            raise ModelNotReady("no model is loaded yet")
        assert isinstance(found, ModelRepository)
        return found

    def _served(self, name: str, version: str) -> ServedModel:
        """``version`` "" is the newest ready one, as a REST path without /versions/{v}."""
        if version and not version.isdigit():
            raise ModelNotFound(
                f"model {name!r} has no version {version!r}; versions are integers", field="version", value=version
            )
        return self.repository.served(name, int(version) if version else None)

    # ---- health and metadata (open, like their REST routes) ----

    async def ServerLive(self, request: Any) -> Any:
        return messages.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any) -> Any:
        found = getattr(self.app.state, "repository", None)
        return messages.ServerReadyResponse(ready=isinstance(found, ModelRepository) and found.ready())

    async def ModelReady(self, request: Any) -> Any:
        """Ready or not for a model that exists; NOT_FOUND for one that does not (REST's 404)."""
        try:
            self._served(request.name, request.version)
        except ModelNotReady:
            return messages.ModelReadyResponse(ready=False)
        return messages.ModelReadyResponse(ready=True)

    async def ServerMetadata(self, request: Any) -> Any:
        return messages.ServerMetadataResponse(name="catembed", version=__version__, extensions=EXTENSIONS)

    async def ModelMetadata(self, request: Any) -> Any:
        predictor = self._served(request.name, request.version).predictor
        metadata = codec.model_metadata(predictor, list(self.repository.entry(predictor.name).ready()))
        return messages.ModelMetadataResponse(**metadata)

    # ---- inference (behind the API key when one is set) ----

    async def ModelInfer(self, request: Any) -> Any:
        predictor = self._served(request.model_name, request.model_version).predictor
        raw = bool(request.raw_input_contents)

        def answer() -> Any:
            decoded = grpc_codec.decode_request(request, predictor)
            result = predictor.predict_columns(decoded.columns, decoded.text)
            return grpc_codec.encode_response(result, decoded, raw)

        # as REST: a big batch goes to a worker thread, so the event loop (HTTP too) keeps answering
        return await asyncio.to_thread(answer) if request.ByteSize() > THREADPOOL_BYTES else answer()

    # ---- the repository extension (Triton's; behind the API key, like POST /v2/repository/*) ----

    async def RepositoryIndex(self, request: Any) -> Any:
        rows = [row for row in self.repository.index() if not request.ready or row["state"] == READY]
        return messages.RepositoryIndexResponse(models=rows)

    async def RepositoryModelLoad(self, request: Any) -> Any:
        await self.app.state.reloader.load(request.model_name)
        return messages.message("RepositoryModelLoadResponse")()

    async def RepositoryModelUnload(self, request: Any) -> Any:
        await self.app.state.reloader.unload(request.model_name)
        return messages.message("RepositoryModelUnloadResponse")()
