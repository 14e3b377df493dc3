"""Input files for scoring: a Parquet file, a folder or glob of Parquet files, or a CSV.

Read file by file with ``ParquetFile.iter_batches``: ``pyarrow.dataset``'s ``to_batches`` reads
ahead ~900 MB when the consumer is slower than the disk (measured in issue #10), which a scorer
always is; one file at a time stays flat at the size of a batch.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.errors import DataError

_KINDS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv", ".txt": "csv"}
_CSV_BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class Source:
    path: Path
    kind: str  # parquet | csv | tsv


def resolve(data: str) -> list[Source]:
    """The files behind ``--data``, in a stable order; a folder means its Parquet files."""
    path = Path(data)
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and _visible(p, path) and _KINDS.get(p.suffix.lower()) == "parquet"
        )
        where = f"folder {path}"
    elif path.is_file():
        files = [path]
        where = str(path)
    elif glob.has_magic(data):
        files = sorted(Path(p) for p in glob.glob(data, recursive=True) if Path(p).is_file())
        where = f"pattern {data!r}"
    else:
        raise DataError(f"data {data} does not exist", field="data", value=data)
    if not files:
        raise DataError(f"{where} holds no Parquet files", field="data", value=data)
    sources = []
    for file in files:
        kind = _KINDS.get(file.suffix.lower())
        if kind is None:
            raise DataError(
                f"cannot read {file}: unknown format {file.suffix or '(no extension)'!r}; use .parquet, .csv or .tsv",
                field="data",
                value=str(file),
            )
        sources.append(Source(file, kind))
    return sources


def _visible(file: Path, root: Path) -> bool:
    """Skip hidden files and folders (``.x.tmp-*`` of an unfinished write, ``_SUCCESS`` markers)."""
    return not any(part.startswith((".", "_")) for part in file.relative_to(root).parts)


def schema(source: Source, features: Sequence[str]) -> pa.Schema:
    """The file's columns as they will be read; unreadable files fail here, before any output."""
    try:
        if source.kind == "parquet":
            return pq.read_schema(source.path)
        with _open_csv(source, features, include=None) as reader:
            return reader.schema
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"could not read {source.path}: {exc}", field="data", value=str(source.path)) from None


def check_columns(source: Source, found: pa.Schema, needed: Sequence[str], what: str) -> None:
    absent = [name for name in needed if name not in found.names]
    if absent:
        raise DataError(
            f"{source.path}: missing column {absent[0]!r}; {what} {', '.join(map(repr, needed))}",
            field=absent[0],
            value=str(source.path),
        )


def batches(
    source: Source, columns: Sequence[str], features: Sequence[str], batch_rows: int, row_groups: Sequence[int] | None = None
) -> Iterator[pa.RecordBatch]:
    """Record batches of the named columns, in file order."""
    try:
        if source.kind == "parquet":
            file = pq.ParquetFile(source.path)
            yield from file.iter_batches(batch_size=batch_rows, columns=list(columns), row_groups=row_groups)
            return
        with _open_csv(source, features, include=list(columns)) as reader:
            yield from reader
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"could not read {source.path}: {exc}", field="data", value=str(source.path)) from None


def _open_csv(source: Source, features: Sequence[str], include: list[str] | None) -> pacsv.CSVStreamingReader:
    # features stay text here and are converted by the scorer, which names the row of a bad
    # value; pyarrow's own type inference would fail a later block with no row to show
    return pacsv.open_csv(
        source.path,
        read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(delimiter="\t" if source.kind == "tsv" else ","),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in features}, strings_can_be_null=True, include_columns=include
        ),
    )
