"""GET /embeddings/...: learned vectors, whole tables, nearest neighbours."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.convertors import PathConvertor, register_url_convertor

from app.comparison import Comparisons
from app.deps import MAX_INTEGER, ServedDep
from app.responses import FastJSONResponse
from app.schemas import EmbeddingTable, EmbeddingVector, ErrorBody, Neighbors, Projection

router = APIRouter(prefix="/embeddings", tags=["embeddings"])


class AnyPathConvertor(PathConvertor):
    """Starlette's ``path`` without its blind spot: ``.*`` stops at a newline, so a category value
    containing one ("a\nb", sent as a%0Ab) found no route at all. Registered under the same name
    before the routes below are compiled, so route templates (and metric labels) stay ``{value:path}``."""

    regex = "(?s:.*)"


register_url_convertor("path", AnyPathConvertor())
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}


@router.get("/{feature}", response_model=EmbeddingTable, responses=NOT_FOUND, summary="A feature's whole embedding table")
async def table(
    served: ServedDep,
    feature: str,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # range-checked: no int past what JSON echoes
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FastJSONResponse:
    return FastJSONResponse(served.embeddings.table(feature, offset, limit))


# registered before the single-value routes: "{value:path}" would otherwise take "projection" (and
# "compare", below) for a category value. (A category literally named so keeps its vector in the
# table and its neighbours at /embeddings/{feature}/projection/neighbors.)
@router.get(
    "/{feature}/projection",
    response_model=Projection,
    responses=NOT_FOUND,
    summary="A map of a feature's values, with counts and each value's effect on the prediction",
    description="PCA (three axes) or t-SNE of the learned vectors, as stored in the bundle at training time (PCA is "
    "computed now for bundles without stored maps; the raw vectors when the embedding has two dimensions), plus, per "
    "value, the change of the prediction when only this feature takes this value on the manifest's example record. "
    "`methods` lists the maps the bundle has. Deterministic, computed once per feature and model version.",
)
def projection(served: ServedDep, feature: str, method: Annotated[str, Query(max_length=20)] = "pca") -> FastJSONResponse:
    # a plain def: FastAPI runs it in its thread pool, so a first 50,000-value map does not block the loop
    return FastJSONResponse(served.projections.projection(feature, method))


@router.get(
    "/{feature}/compare",
    responses=NOT_FOUND,
    summary="Which values moved between two versions of the model (orthogonal Procrustes alignment)",
    description="The two versions' tables are aligned on the values both have (centred, scaled, the older rotated onto "
    "the newer), and each shared value's remaining distance is listed, largest first. `to` defaults to the served "
    "version, `from` to the newest version before it; `versions` lists every version on disk. With one version on "
    "disk, `from` is null and the lists are empty.",
)
def compare(
    request: Request,
    served: ServedDep,
    feature: str,
    before: Annotated[int | None, Query(alias="from", ge=1, le=MAX_INTEGER, description="the older version")] = None,
    after: Annotated[
        int | None, Query(alias="to", ge=1, le=MAX_INTEGER, description="the newer version (default: the served one)")
    ] = None,
) -> FastJSONResponse:
    # a plain def: loading the other version's bundle from disk runs in the thread pool
    comparisons = getattr(request.app.state, "comparisons", None)
    if comparisons is None:
        comparisons = request.app.state.comparisons = Comparisons()
    return FastJSONResponse(comparisons.compare(served, feature, before, after))


# registered before the single-value route: "{value:path}" would otherwise swallow "/neighbors"
@router.get(
    "/{feature}/{value:path}/neighbors",
    response_model=Neighbors,
    responses=NOT_FOUND,
    summary="Nearest category values by cosine similarity",
)
async def neighbors(served: ServedDep, feature: str, value: str, k: Annotated[int, Query(ge=1, le=100)] = 10) -> FastJSONResponse:
    return FastJSONResponse(served.embeddings.neighbors(feature, value, k))


@router.get(
    "/{feature}/{value:path}",
    response_model=EmbeddingVector,
    responses=NOT_FOUND,
    summary="The learned vector of one category value",
    description='Values are URL-encoded (`/`, spaces, unicode); `1`, `1.0` and `"1"` resolve as in training. '
    "A value never seen in training is a 404 unless `?fallback=unknown`.",
)
async def vector(served: ServedDep, feature: str, value: str, fallback: Literal["unknown"] | None = None) -> FastJSONResponse:
    return FastJSONResponse(served.embeddings.vector(feature, value, fallback))
