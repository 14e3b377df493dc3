"""BYTES tensors: the vectorised split must give exactly the element-by-element walk's strings,
and leave every input it cannot prove it splits right (and every error) to the walk."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from app.columnar import ColumnarPrediction
from app.v2 import binary
from features.errors import InvalidInput

TRICKY = {
    "categories": ["UA", "AA", "N14228", "12", "7", "-3", "1.5", "true", " EWR "],
    "empty elements, leading, trailing and in a row": ["", "", "a", "", "bb", "", "", "ccc", ""],
    "only empty elements": ["", "", ""],
    "one element": ["x"],
    "non-ASCII": ["é", "", "日本", "e\u0301", "x"],
    "a NUL inside an element": ["a\0b", "c", "\0"],
    "an element of 255 bytes": ["y" * 255, "z"],
    "an element of 256 bytes": ["y" * 256, "z"],
    "an element of 1,000 bytes": ["", "w" * 1000],
    "three NULs ending an element": ["a\0\0\0", "b"],
}


def _frame(values: list[str]) -> memoryview:
    return memoryview(binary.encode("BYTES", values))


@pytest.mark.parametrize("values", list(TRICKY.values()), ids=list(TRICKY))
def test_fast_split_equals_the_walk(values):
    raw = _frame(values)
    assert binary._walk_elements("f", raw, len(values)) == values
    assert binary.decode("f", "BYTES", raw, len(values)) == values
    fast = binary._split_short_elements(raw, len(values))
    assert fast is None or fast == values


def test_fast_split_takes_short_categories_and_leaves_the_rest():
    rng = np.random.default_rng(0)
    values = [["", "UA", "N14228", "日本"][i] for i in rng.integers(0, 4, 5000)]
    assert binary._split_short_elements(_frame(values), len(values)) == values
    assert binary._split_short_elements(_frame(["a\0b", "c"]), 2) is None
    assert binary._split_short_elements(_frame(["y" * 256]), 1) is None


def _error(raw: bytes, count: int) -> str:
    with pytest.raises(InvalidInput) as caught:
        binary.decode("f", "BYTES", memoryview(raw), count)
    return caught.value.message


@pytest.mark.parametrize(
    "raw, count, words",
    [
        (binary.encode("BYTES", ["ab", "c"]), 3, "element 2 is not a 4-byte length"),
        (binary.encode("BYTES", ["ab", "c"]), 1, "bytes left over after 1 elements"),
        (binary.encode("BYTES", ["ab", "c"])[:-1], 2, "element 1 is not a 4-byte length"),
        (binary.encode("BYTES", ["ab"]) + b"\0\0", 1, "bytes left over"),
        (struct.pack("<I", 2) + b"\xff\xfe", 1, "is not a 4-byte length plus UTF-8 bytes ('utf-8' codec"),
        (struct.pack("<I", 1) + b"a" + struct.pack("<I", 9) + b"b", 2, "element 1"),
        (b"", 1, "element 0"),
    ],
)
def test_malformed_bytes_are_refused_as_before(raw, count, words):
    assert binary._split_short_elements(memoryview(raw), count) is None
    assert words in _error(raw, count)


@pytest.mark.parametrize("data", [["yes", "no", "no", "é", ""] * 50, [0, 1, 1], [1, True, 1.0, "1"]])
def test_framing_outputs_equals_framing_each_element(data):
    expected = b"".join(struct.pack("<I", len(str(v).encode())) + str(v).encode() for v in data)
    assert binary.encode("BYTES", data) == expected


def test_label_texts_are_each_labels_str():
    labels = [0, 1, True, "x"]
    index = np.array([1, 0, 3, 2, 1])
    array = np.empty(len(labels), dtype=object)
    array[:] = labels
    result = ColumnarPrediction("m", 1, 5, {"label": array[index], "label_index": index}, labels, [])
    assert result.label_texts() == [str(v) for v in array[index].tolist()] == ["1", "0", "x", "True", "1"]
