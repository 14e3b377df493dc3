"""``catembed export-embeddings``: every feature's learned table as parquet, CSV or TensorBoard projector files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from features.artifacts import load_bundle
from features.errors import CatembedError
from features.tables import embedding_rows


def export_embeddings(model_dir: Path, out: Path, fmt: str, version: int | None = None) -> list[Path]:
    bundle = load_bundle(model_dir, version)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatembedError(f"cannot create {out}: {exc.strerror}", field="out", value=str(out)) from None
    rows = list(embedding_rows(bundle))
    written: list[Path] = []
    if fmt == "projector":
        # one file pair per feature: their widths differ, and the projector needs one width
        for feature in bundle.encoder.categorical:
            subset = [r for r in rows if r[0] == feature]
            vectors, metadata = out / f"{feature}.vectors.tsv", out / f"{feature}.metadata.tsv"
            np.savetxt(vectors, np.asarray([r[3] for r in subset]), delimiter="\t", fmt="%.7g")
            with open(metadata, "w", newline="") as fh:
                writer = csv.writer(fh, delimiter="\t")
                writer.writerow(["value", "index"])
                writer.writerows([(r[1], r[2]) for r in subset])
            written += [vectors, metadata]
        return written
    import pandas as pd

    frame = pd.DataFrame(
        {
            "feature": [r[0] for r in rows],
            "value": [r[1] for r in rows],
            "index": [r[2] for r in rows],
            "vector": [list(map(float, r[3])) for r in rows],
        }
    )
    if fmt == "parquet":
        path = out / "embeddings.parquet"
        frame.to_parquet(path, index=False)
    else:
        path = out / "embeddings.csv"
        frame["vector"] = [" ".join(f"{x:.7g}" for x in v) for v in frame["vector"]]
        frame.to_csv(path, index=False)
    return [path]
