"""Pydantic models: generated from the manifest for the records (so /docs shows the model's real
features, types and a training example), plus the fixed shapes of the other responses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import models_json_schema

CategoryValue = str | int | float | bool | None
BLANK_PATTERN = r"^\s*$"  # a string empty once stripped


class RecordWarning(BaseModel):
    type: Literal["unknown_category", "missing_category", "imputed", "out_of_range"]
    field: str
    value: CategoryValue
    message: str


class ErrorDetail(BaseModel):
    type: str
    message: str
    field: str | None = None
    value: Any = None
    expected: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class EmbeddingVector(BaseModel):
    feature: str
    value: str
    canonical_value: str | None = Field(description="the value as training stored it: 1, 1.0 and '1' are all '1'")
    index: int = Field(description="row of the embedding table; 0 is the unknown/missing vector")
    unknown: bool = Field(description="true when ?fallback=unknown returned the unknown vector")
    count: int | None = Field(description="rows with this value in the training split")
    dimension: int
    vector: list[float]


class EmbeddingRow(BaseModel):
    value: str | None
    index: int
    unknown: bool
    count: int | None
    vector: list[float]


class EmbeddingTable(BaseModel):
    feature: str
    dimension: int
    total: int
    offset: int
    limit: int
    items: list[EmbeddingRow]


class Neighbor(BaseModel):
    value: str
    index: int
    score: float = Field(description="cosine similarity, -1 to 1")


class Neighbors(BaseModel):
    feature: str
    value: str
    canonical_value: str | None
    index: int
    neighbors: list[Neighbor]


class MapPoint(BaseModel):
    x: float
    y: float
    z: float = Field(0.0, description="the third PCA axis (0 on a 2-D map)")
    effect: float


class Projection(BaseModel):
    """Columns, not one object per value: a 50,000-value map stays one compact JSON document."""

    feature: str
    method: str = Field(description="the map asked for (?method=): one of `methods`")
    methods: list[str] = Field(description="the maps this bundle has for the feature: pca, and tsne when training stored one")
    projection: Literal["pca", "raw", "tsne"] = Field(description="raw: the embedding has two dimensions, plotted as they are")
    stored: bool = Field(description="the coordinates were computed at training time (projections.npz), not now")
    dimension: int
    explained_variance: list[float] = Field(description="share of the variance along each PCA axis (three); empty for t-SNE")
    size: int = Field(description="values with their own vector (the points)")
    values: list[str]
    counts: list[int] = Field(description="training rows per value")
    x: list[float]
    y: list[float]
    z: list[float] | None = Field(description="the third PCA axis, for the 3-D view (null for t-SNE and raw maps)")
    effect: list[float] = Field(description="prediction change when only this feature takes the value, on the reference")
    effect_of: str = Field(description="what the effect measures, e.g. 'P(delayed = 1)'")
    reference: dict[str, Any] = Field(description="the reference record: the manifest's example")
    reference_output: float = Field(description="the measured prediction on the reference record itself")
    unknown: MapPoint = Field(description="where the unknown/missing vector lands, and its effect")


def record_models(manifest: dict[str, Any], max_records: int, max_string_length: int = 1_000) -> dict[str, type[BaseModel]]:
    """Request and response models of this bundle's record endpoints."""
    example = manifest.get("example", {})
    # the limits app/records.py enforces, stated in the schema so /docs and fuzzers agree with it
    category: Any = (
        Annotated[str, Field(max_length=max_string_length)]
        | Annotated[int, Field(ge=-(2**63), lt=2**64)]  # what orjson reads as an exact integer
        | Annotated[float, Field(gt=-(2.0**63), lt=2.0**63)]
        | bool
        | None
    )
    fields: dict[str, Any] = {}
    numeric = {feature["name"] for feature in manifest["features"] if feature["kind"] == "numeric"}
    embedded = {feature["name"] for feature in manifest["features"] if feature["kind"] == "categorical"}
    for i, feature in enumerate(manifest["features"]):
        name = feature["name"]
        if feature["kind"] == "categorical" and name in numeric:
            continue  # a "both" column: one field, a number (its numeric entry below), also embedded
        if feature["kind"] == "categorical":
            annotation: Any = category
            about = (
                f"categorical: {feature['vocabulary_size']:,} known values, a {feature['embedding_dim']}-wide embedding; "
                "null or unseen values use the trained unknown vector"
            )
        else:
            annotation = float | Annotated[str, Field(pattern=BLANK_PATTERN)] | None  # features.cells: blank is missing
            about = (
                f"numeric: training range {feature['min']:g} to {feature['max']:g}; "
                f"null or a blank string is imputed with the median {feature['median']:g}"
            )
            if name in embedded:
                about += "; also a category with its own embedding (a number and a category)"
        # python-safe attribute names; the JSON keys (aliases) are the real feature names
        fields[f"f{i}"] = (annotation, Field(..., alias=name, description=about, examples=[example.get(name)]))
    features = {feature["name"] for feature in manifest["features"]}
    ignored = {name: why for name, why in (manifest.get("ignored_columns") or {}).items() if name not in features}
    for i, (name, why) in enumerate(ignored.items()):
        # the training table's other columns: any value, accepted and ignored
        fields[f"ignored{i}"] = (Any, Field(None, alias=name, description=f"ignored ({why}); any value or absent"))
    forbid = ConfigDict(extra="forbid")
    record: Any = create_model("Record", __config__=forbid, **fields)
    batch = create_model(
        "RecordBatch", __config__=forbid, records=(list[record], Field(..., min_length=1, max_length=max_records))
    )
    result: Any = _prediction_model(manifest)
    version_fields: dict[str, Any] = {"model": (str, ...), "version": (int, ...)}
    predict = create_model("PredictResponse", **version_fields, predictions=(list[result], ...))
    encode = create_model(
        "EncodeResponse",
        **version_fields,
        categorical=(dict[str, list[int]], Field(description="embedding-table row per feature and record")),
        numeric_columns=(list[str], ...),
        numeric=(list[list[float]], Field(description="scaled numeric inputs")),
        warnings=(list[list[RecordWarning]], ...),
    )
    embed = create_model("EmbedResponse", **version_fields, columns=(list[str], ...), rows=(list[list[float]], ...))
    return {"Record": record, "RecordBatch": batch, "PredictResponse": predict, "EncodeResponse": encode, "EmbedResponse": embed}


def _prediction_model(manifest: dict[str, Any]) -> type[BaseModel]:
    if manifest["task"] == "regression":
        return create_model(
            "Prediction",
            value=(float, Field(description=f"predicted {manifest['target']['name']}")),
            warnings=(list[RecordWarning], ...),
        )
    labels = tuple(manifest["target"]["labels"])
    return create_model(
        "Prediction",
        label=(Literal[labels], ...),  # type: ignore[arg-type]
        probabilities=(dict[str, float], Field(description="probability of each label")),
        warnings=(list[RecordWarning], ...),
    )


def components(models: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """JSON schemas of the generated models, ready for the OpenAPI components section."""
    _, schema = models_json_schema([(m, "validation") for m in models.values()], ref_template="#/components/schemas/{model}")
    return schema.get("$defs", {})
