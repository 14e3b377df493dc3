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
    """A numeric column as float64 with NaN for missing, as the service's parser hands it to the
    encoder. Text is parsed as numbers (CSV is all text); anything else raises InvalidInput."""
    column = _array(column)
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        column = pc.cast(column, pa.float64(), safe=False)  # an int64 above 2**53 rounds, as in NumPy
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        try:
            column = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # Arrow's parser is stricter than Python's (" 3", "1_000"): agree with the row check
            values = column.to_pylist()
            try:
                return _finite(name, np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64))
            except (TypeError, ValueError):
                bad = next(v for v in values if v is not None and not _parses(v))
                raise InvalidInput(
                    f"numeric column {name!r}: {bad!r} is not a number", field=name, value=bad, expected="a number or null"
                ) from None
    else:
        raise InvalidInput(f"numeric column {name!r}: a {kind} column is not numeric", field=name, expected="numbers")
    return _finite(name, np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64))


def _array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _parses(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _finite(name: str, values: np.ndarray) -> np.ndarray:
    if np.isinf(values).any():  # the service refuses these as not finite numbers
        raise InvalidInput(f"numeric column {name!r}: a number is not finite", field=name, expected="a finite number")
    return values
