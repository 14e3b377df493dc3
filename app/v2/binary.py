"""The binary tensor data extension: a JSON header, then the raw tensors back to back.

A request or response with binary data carries ``Inference-Header-Content-Length`` (the size of
the JSON part); every binary tensor names its size in ``parameters.binary_data_size``. Numbers
are little-endian and row-major; a BYTES element is a 4-byte little-endian length and the bytes.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from features.errors import InvalidInput

HEADER = "inference-header-content-length"
NUMPY_TYPES = {
    "BOOL": "?",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
_LENGTH = struct.Struct("<I")


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """(JSON part, binary part) of a request body; without the header it is all JSON."""
    if header_length is None:
        return body, memoryview(b"")
    # isdigit() alone takes "²", which int() refuses; the length bound keeps 5,000 digits out of int()
    fits = header_length.isascii() and header_length.isdigit() and len(header_length) <= 19
    if not fits or int(header_length) > len(body):
        raise InvalidInput(
            f"Inference-Header-Content-Length {header_length[:40]!r} does not fit a body of {len(body):,} bytes",
            field="Inference-Header-Content-Length",
            value=header_length[:40],
            expected=f"a byte count from 0 to {len(body):,}",
        )
    size = int(header_length)
    return body[:size], memoryview(body)[size:]


def decode(name: str, datatype: str, raw: memoryview, count: int) -> np.ndarray | list[str]:
    """One binary tensor of ``count`` elements: a NumPy array, or a list of str for BYTES."""
    if datatype == "BYTES":
        return _decode_bytes(name, raw, count)
    dtype = np.dtype(NUMPY_TYPES[datatype])
    if len(raw) != count * dtype.itemsize:
        raise InvalidInput(
            f"input {name!r}: {len(raw):,} bytes of {datatype} data for {count:,} elements",
            field=name,
            value=len(raw),
            expected=f"{count * dtype.itemsize:,} bytes",
        )
    return np.frombuffer(raw, dtype=dtype)


def _decode_bytes(name: str, raw: memoryview, count: int) -> list[str]:
    fast = _split_short_elements(raw, count)
    return _walk_elements(name, raw, count) if fast is None else fast


def _walk_elements(name: str, raw: memoryview, count: int) -> list[str]:
    """Element by element: any BYTES data, and the one place that words framing errors."""
    data = raw.tobytes()
    # ASCII data (the usual categories) is sliced from one str decoded at once: ~20 % faster than
    # decoding element by element; any other data is sliced as bytes and decoded as UTF-8
    text = data.decode("latin-1") if data.isascii() else None
    source: Any = data if text is None else text
    values: list[Any] = []
    append, unpack = values.append, _LENGTH.unpack_from
    offset, end = 0, len(data)
    try:
        for _ in range(count):
            (length,) = unpack(data, offset)
            offset += 4
            if offset + length > end:
                raise struct.error("element runs past the end")
            append(source[offset : offset + length])
            offset += length
        if text is None:
            values = [value.decode() for value in values]
    except (struct.error, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"input {name!r}: element {len(values)} is not a 4-byte length plus UTF-8 bytes ({exc})",
            field=f"{name}[{len(values)}]",
            expected="BYTES elements: a 4-byte little-endian length, then that many UTF-8 bytes",
        ) from None
    if offset != end:
        raise InvalidInput(
            f"input {name!r}: {end - offset:,} bytes left over after {count:,} elements",
            field=name,
            value=end,
            expected=f"exactly {count:,} BYTES elements",
        )
    return values


def _split_short_elements(raw: memoryview, count: int) -> list[str] | None:
    """The elements of a BYTES tensor without a Python step per element, or None to take the
    element-by-element walk (which also words every error).

    Works when every element is under 256 bytes and none contains a NUL byte (categories): then
    each length prefix is ``L 0 0 0`` (``0 0 0 0`` for an empty element) and every zero byte of
    the data belongs to a prefix. Zero runs of 3 + 4m bytes follow a non-empty prefix's length
    byte and hold m empty prefixes; runs of 4m hold m empty ones. Those candidates are accepted
    only if they are exactly the chain the walk would follow (first at 0, each next = this + 4 +
    its length, the last ending the data) and account for every zero byte, so the answer is the
    walk's. Zeroing the length bytes then makes every prefix ``0 0 0 0``, and one decode and one
    split give the strings: ~0.4 ms instead of ~1.8 ms for 10,000 elements here."""
    data = np.frombuffer(raw, dtype=np.uint8)
    if count == 0 or len(data) < 4:
        return None
    zero = data == 0
    edges = np.diff(zero.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    lengths = np.flatnonzero(edges == -1) - starts
    rest, empty_runs = lengths & 3, lengths >> 2
    prefixes = starts[rest == 3] - 1  # a non-empty element's length byte
    n_empty = int(empty_runs.sum())
    if n_empty:
        first = np.repeat(starts + rest, empty_runs)
        step = np.arange(n_empty) - np.repeat(np.cumsum(empty_runs) - empty_runs, empty_runs)
        prefixes = np.sort(np.concatenate([prefixes, first + 4 * step]))
    if len(prefixes) != count or prefixes[0] != 0 or int(np.count_nonzero(zero)) + int((rest == 3).sum()) != 4 * count:
        return None
    ends = prefixes + 4 + data[prefixes]
    if ends[-1] != len(data) or not np.array_equal(ends[:-1], prefixes[1:]):
        return None
    framed = bytearray(raw)
    np.frombuffer(framed, dtype=np.uint8)[prefixes] = 0
    try:
        text = framed.decode()
    except UnicodeDecodeError:
        return None
    return text.split("\0\0\0\0")[1:]


def encode(datatype: str, data: Any) -> bytes:
    """An output tensor as raw bytes (BYTES: length-prefixed UTF-8 of each element)."""
    if datatype == "BYTES":
        if set(map(type, data)) == {str}:  # labels: few distinct strings, each framed once
            framed = {text: _LENGTH.pack(len(raw)) + raw for text in set(data) for raw in [text.encode()]}
            return b"".join(map(framed.__getitem__, data))
        parts = [str(v).encode() for v in data]
        return b"".join(_LENGTH.pack(len(p)) + p for p in parts)
    return np.ascontiguousarray(data, dtype=NUMPY_TYPES[datatype]).tobytes()
