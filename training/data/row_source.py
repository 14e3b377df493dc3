"""Where streamed training rows come from: units of work over the files behind ``--data``.

A unit is one Parquet row group (or one whole CSV file). Units are what epochs shuffle and
what workers share out; each knows its first row's position in its file, which the holdout
split hashes. The file listing and reading is ``features.sources``, the same as batch scoring.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.errors import DataError
from features.sources import Source, batches, check_columns, resolve, schema
from training.data.split import file_key

READ_ROWS = 65_536  # rows per record batch: large enough for Arrow's C loops, small next to a row group


@dataclass(frozen=True)
class Unit:
    source: Source
    key: int  # training.data.split.file_key of the file's path relative to the data root
    row_group: int | None  # None: the whole file (CSV)
    first_row: int
    rows: int | None  # None: unknown until read (CSV)


def units_of(data: str, needed: Sequence[str]) -> list[Unit]:
    """Every unit of the files behind ``data``, in a stable order; columns are checked first."""
    sources = resolve(data)
    root = Path(data) if Path(data).is_dir() else None
    units: list[Unit] = []
    for source in sources:
        check_columns(source, schema(source, needed), needed, "training needs")
        name = str(source.path.relative_to(root)) if root else source.path.name
        key = file_key(name)
        if source.kind != "parquet":
            units.append(Unit(source, key, None, 0, None))
            continue
        try:
            metadata = pq.ParquetFile(source.path).metadata
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"could not read {source.path}: {exc}", field="data", value=str(source.path)) from None
        first = 0
        for group in range(metadata.num_row_groups):
            rows = metadata.row_group(group).num_rows
            units.append(Unit(source, key, group, first, rows))
            first += rows
    return units


def known_rows(units: Sequence[Unit]) -> int | None:
    """Rows in the data from Parquet footers alone; None when a CSV makes it unknown."""
    counts = [u.rows for u in units]
    return None if any(n is None for n in counts) else sum(n for n in counts if n is not None)


def read_unit(unit: Unit, columns: Sequence[str], features: Sequence[str]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(position in the file of the batch's first row, batch) for one unit, in file order."""
    row = unit.first_row
    groups = None if unit.row_group is None else [unit.row_group]
    for batch in batches(unit.source, columns, features, READ_ROWS, row_groups=groups):
        yield row, batch
        row += batch.num_rows


def fingerprint(units: Sequence[Unit]) -> str:
    """Identifies the data without reading it again: each file's path, size and modification time."""
    digest = hashlib.sha256()
    for path in sorted({u.source.path for u in units}):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return "files-sha256:" + digest.hexdigest()


def head_frame(data: str, rows: int = 100_000) -> pd.DataFrame:
    """The first rows of the data, to infer a spec from without loading the rest."""
    units = resolve(data)
    wanted: list[pa.RecordBatch] = []
    found = 0
    for source in units:
        names = list(schema(source, []).names)
        for batch in batches(source, names, [], READ_ROWS):
            wanted.append(batch.slice(0, rows - found))
            found += wanted[-1].num_rows
            if found >= rows:
                break
        if found >= rows:
            break
    if not found:
        raise DataError(f"{data} has no rows", field="data", value=data)
    # per batch, then pandas: files may disagree on a column's type, which the passes report by row
    frame = pd.concat([batch.to_pandas() for batch in wanted], ignore_index=True)
    if frame.empty:
        raise DataError(f"{data} has no rows", field="data", value=data)
    frame.columns = [str(c) for c in frame.columns]
    return frame
