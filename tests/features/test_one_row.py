"""TabularEncoder.one_row: the single-record fast path encodes exactly as transform, or declines."""

from __future__ import annotations

import numpy as np
import pytest

from features.one_row import OneRowEncoder
from tests.app.conftest import records
from tests.synthetic import planted_frame


@pytest.fixture(scope="module")
def encoder(binary_run):
    return binary_run.encoder


@pytest.fixture(scope="module")
def clean_rows(encoder):
    frame = planted_frame(n=400, seed=11)[encoder.features].dropna()
    numeric = encoder.numeric_
    inside = np.ones(len(frame), dtype=bool)
    for j, name in enumerate(encoder.numeric):  # the fast path takes numbers inside the training range only
        inside &= frame[name].between(numeric.mins_[j], numeric.maxs_[j]).to_numpy()
    return records(frame[inside].head(60))


def test_clean_records_encode_exactly_as_transform(encoder, clean_rows):
    one = OneRowEncoder(encoder, max_string_length=1000)
    assert clean_rows
    for row in clean_rows:
        batch = encoder.transform({name: [value] for name, value in row.items()})
        encoded = one.encode(row)
        if encoded is None:  # a category value never seen since start-up: the general path learns it
            continue
        codes, numeric, zeros = encoded
        assert codes == [int(c[0]) for c in batch.categorical]
        np.testing.assert_array_equal(numeric, batch.numeric[0])
        assert [j for j, _ in zeros] == [j for j, u in enumerate(batch.unknown) if u[0] or batch.missing[j][0]]
    assert sum(one.encode(row) is not None for row in clean_rows) > len(clean_rows) // 2


def test_anything_unusual_is_left_to_the_general_path(encoder, clean_rows):
    one = OneRowEncoder(encoder, max_string_length=1000)
    row = next(r for r in clean_rows if one.encode(r) is not None)
    name = encoder.numeric[0]
    declined = [
        {k: v for k, v in row.items() if k != name},  # a feature absent
        {**row, "extra": 1},  # a key too many
        {**row, name: None},  # imputation
        {**row, name: float(encoder.numeric_.maxs_[0]) + 1.0},  # clipping
        {**row, name: "3.5"},  # not a number
        {**row, encoder.categorical[0]: "never-seen-value"},  # unknown, not yet seen by the general path
        [row],
    ]
    assert all(one.encode(r) is None for r in declined)
    assert OneRowEncoder(encoder, max_string_length=1).encode(row) is None  # vocabulary longer than the request limit


def test_the_service_reaches_into_no_encoder_internals():
    from pathlib import Path

    app = Path(__file__).parents[2] / "app"
    for path in app.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for private in ("_lookup(", "_missing_cache", "_scaling"):
            assert private not in source, f"{path.name} uses the encoder's {private}"
