"""Reading training tables, with errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.errors import DataError

DEMO_DIR = Path(__file__).parent / "demo"
DEMO_DATA = DEMO_DIR / "flights_sample.parquet"
DEMO_SPEC = DEMO_DIR / "flights.yaml"
# The demo is the service's latency reference (docs/performance.md): its 32,000 training rows
# would get the 512-256 network from training.loop.auto.auto_hidden_units, which doubles the
# graph's time for a 10,000-row batch (bench.ensemble_cost) and would miss the ≤ 35 ms target.
# `catembed train --demo` keeps 256-128 unless --hidden says otherwise.
DEMO_HIDDEN = (256, 128)
_READERS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {path} does not exist", field="data", value=str(path))
    if path.is_dir():
        raise DataError(f"{path} is a folder; give a .csv or .parquet file", field="data", value=str(path))
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"cannot read {path.name}: unknown format {path.suffix or '(no extension)'!r}; use .csv, .tsv or .parquet",
            field="data",
            value=str(path),
        )
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",", low_memory=False)
    except Exception as exc:  # pandas/pyarrow raise many types for a bad file
        raise DataError(f"could not read {path} as {kind}: {type(exc).__name__}: {exc}", field="data", value=str(path)) from None
    if frame.empty or len(frame.columns) == 0:
        raise DataError(f"{path} has no rows", field="data", value=str(path))
    frame.columns = [str(c) for c in frame.columns]
    frame.attrs["source"] = str(path)  # features.encoder.to_float names a bad value's file row and line
    return frame
