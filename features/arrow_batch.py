"""Arrow record batches → the encoder's inputs: the columnar half of the encoding contract.

Batch scoring (``catembed predict``) and streaming training read the same Parquet and CSV files
through these two functions, so a file means the same model inputs in both. pyarrow is imported
here only: the service never loads this module, and its image does not ship pyarrow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features import cells
from features.encoder import EncodedBatch, TabularEncoder
from features.errors import InvalidInput


def encode_batch(encoder: TabularEncoder, batch: pa.RecordBatch | pa.Table) -> EncodedBatch:
    """``encoder.transform`` on each categorical column's distinct values (Arrow's dictionary
    encoding, in C), then spread back to the rows by index. The encoder maps value by value,
    so this is the same as transforming every row, without a Python object and a dict probe
    per row and feature: a batch of flights has a few hundred distinct values per column.
    Raises InvalidInput for a value the encoder cannot take."""
    distinct: dict[str, Any] = {}
    positions: list[np.ndarray | None] = []
    numeric = set(encoder.numeric)
    for name in encoder.categorical:
        if name in numeric:  # "both": the numeric input needs every row, and its numbers are its categories
            positions.append(None)
            continue
        column = _array(batch.column(name))
        try:
            encoded = pc.dictionary_encode(column, null_encoding="encode")
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):  # e.g. a list column: let the encoder say why
            distinct[name], positions = column.to_pylist(), [*positions, None]
            continue
        distinct[name] = encoded.dictionary.to_pylist()
        positions.append(encoded.indices.to_numpy(zero_copy_only=False))
    distinct.update({name: numbers(name, batch.column(name)) for name in encoder.numeric})
    unique = encoder.transform(distinct)

    def spread(arrays: list[np.ndarray]) -> list[np.ndarray]:
        return [a if p is None else a[p] for a, p in zip(arrays, positions, strict=True)]

    return EncodedBatch(
        spread(unique.categorical), unique.numeric, spread(unique.unknown), spread(unique.missing), unique.imputed, unique.clipped
    )


def numbers(name: str, column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric column as float64 with NaN for missing, by the rules of ``features.cells``: text
    is parsed as numbers (CSV is all text), a blank is missing. A bad value raises BadCell, whose
    ``row`` is its position in the column."""
    column = _array(column)
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        column = pc.cast(column, pa.float64(), safe=False)  # an int64 above 2**53 rounds, as in NumPy
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        try:
            column = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # a blank, or text Arrow's parser is stricter about than Python's (" 3", "1_000")
            return _checked(name, column.to_pylist())
    else:
        raise InvalidInput(f"numeric column {name!r}: a {kind} column is not numeric", field=name, expected="numbers")
    return _checked(name, np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64))


def _array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _checked(name: str, values: Any) -> np.ndarray:
    try:
        return cells.numbers(values)
    except cells.BadCell as exc:
        raise exc.named(f"numeric column {name!r}", name) from None
