"""The encoding contract over HTTP, property-tested: any JSON value for any feature is either
encoded exactly as the training side encodes it, or refused with a 4xx naming the field.

The reference is the fitted TabularEncoder of a real bundle applied directly to the same
Python value; the service gets that value as JSON text over a real app (TestClient, lifespan
run). Values: vocabulary entries and other spellings of them (1.0, "1", " 1 ", True, NFD
unicode), arbitrary unicode, numbers as strings, huge integers, nested objects and arrays,
null, and NaN/Infinity/1e400 as raw JSON text.
"""

from __future__ import annotations

import json
import re
import unicodedata

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from tests.app.conftest import settings_for

PROPERTY = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
BATCH_FIELD = re.compile(r"records\[(\d+)\]\.(\w+)")


@pytest.fixture(scope="module")
def service(binary_run):
    with TestClient(create_app(settings_for(binary_run))) as client:
        yield client


@pytest.fixture(scope="module")
def roomy_service(binary_run):
    """The same model with a 2 MB string limit, so 1 MB strings reach the encoder."""
    with TestClient(create_app(settings_for(binary_run, max_string_length=2_000_000))) as client:
        yield client


def _vocabulary(run) -> list[str]:
    return [v for name in run.encoder.categorical for v in run.encoder.categorical_[name].vocabulary_]


def _spellings(value: str) -> list:
    """Other ways a client may write a vocabulary value; all must land where training put it."""
    out: list = [value, f" {value} ", unicodedata.normalize("NFD", value)]
    if value.lstrip("-").isdigit():
        out += [int(value), float(value), f"{value}.0", True if value == "1" else int(value)]
    return out


def json_values(vocabulary: list[str]) -> st.SearchStrategy:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-10, max_value=10),
        st.integers(),  # beyond 64 bits too: orjson reads those as floats
        st.integers(min_value=2**62, max_value=2**80),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(),  # any unicode (hypothesis leaves out lone surrogates, which are not UTF-8)
        st.text(alphabet=st.characters(codec="utf-8"), min_size=990, max_size=1010),  # around the 1,000 limit
        st.from_regex(r"[+-]?[0-9]{1,4}(\.[0-9]{1,3})?", fullmatch=True),  # numbers as strings
        st.sampled_from(["true", "FALSE", "", "   ", "007", "1e3", "nan", "inf", "None", "null"]),
        st.sampled_from(vocabulary).flatmap(lambda v: st.sampled_from(_spellings(v))),
    )
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=4
    )


def _expected(run, rows: list[dict]):
    """What training's encoder makes of these rows, applied directly to the Python values."""
    return run.encoder.transform({name: [row[name] for row in rows] for name in run.encoder.features})


def _assert_encoded_as_training(run, body: dict, rows: list[dict]) -> None:
    expected = _expected(run, rows)
    for name, codes in zip(run.encoder.categorical, expected.categorical, strict=True):
        assert body["categorical"][name] == codes.tolist(), (name, [row[name] for row in rows])
    np.testing.assert_array_equal(np.asarray(body["numeric"], dtype=np.float32), expected.numeric)


def _assert_refused_naming(response, field: str | re.Pattern) -> dict:
    assert 400 <= response.status_code < 500, response.text[:500]
    error = response.json()["error"]
    assert set(error) <= {"type", "message", "field", "value", "expected"} and error["message"]
    assert "Traceback" not in response.text
    if isinstance(field, str):
        assert error.get("field") == field, error
    else:
        assert field.fullmatch(error.get("field", "")), error
    return error


@pytest.fixture(scope="module")
def example(binary_run) -> dict:
    return dict(binary_run.manifest["example"])


def test_any_json_value_for_any_feature(service, binary_run, example):
    features = binary_run.encoder.features
    seen = {"encoded": 0, "refused": 0}

    @PROPERTY
    @given(name=st.sampled_from(features), value=json_values(_vocabulary(binary_run)))
    def check(name, value):
        record = {**example, name: value}
        response = service.post("/encode", content=json.dumps(record), headers={"content-type": "application/json"})
        if response.status_code == 200:
            _assert_encoded_as_training(binary_run, response.json(), [record])
            seen["encoded"] += 1
        else:
            _assert_refused_naming(response, name)
            seen["refused"] += 1

    check()
    assert seen["encoded"] > 20 and seen["refused"] > 20, seen  # both outcomes really happened


def test_any_values_in_a_batch(service, binary_run, example):
    """In a batch the error names the record and the feature, and it is one that was changed."""
    features = binary_run.encoder.features

    @settings(PROPERTY, max_examples=150)
    @given(changes=st.lists(st.tuples(st.sampled_from(features), json_values(_vocabulary(binary_run))), min_size=1, max_size=8))
    def check(changes):
        rows = [{**example, name: value} for name, value in changes]
        response = service.post("/encode", content=json.dumps({"records": rows}), headers={"content-type": "application/json"})
        if response.status_code == 200:
            _assert_encoded_as_training(binary_run, response.json(), rows)
            return
        error = _assert_refused_naming(response, BATCH_FIELD)
        row, name = BATCH_FIELD.fullmatch(error["field"]).groups()  # type: ignore[union-attr]
        assert changes[int(row)][0] == name, (error, changes)

    check()


def test_every_vocabulary_value_and_spelling_finds_its_trained_row(service, binary_run, example):
    """The strongest 'never a silent wrong index': each known value gets exactly its own row."""
    for name in binary_run.encoder.categorical:
        encoder = binary_run.encoder.categorical_[name]
        for position, value in enumerate(encoder.vocabulary_):
            for spelling in _spellings(value):
                body = service.post("/encode", json={**example, name: spelling}).json()
                assert body["categorical"][name] == [position + 1], (name, spelling)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "1" + "0" * 400])
@pytest.mark.parametrize("name", ["color", "size", "x", "noise"])
def test_non_finite_json_numbers_are_refused_naming_the_field(service, example, token, name):
    text = json.dumps({**example, name: None}).replace(f'"{name}": null', f'"{name}": {token}')
    _assert_refused_naming(service.post("/encode", content=text, headers={"content-type": "application/json"}), name)
    batch = json.dumps({"records": [example, {**example, name: None}]}).replace(f'"{name}": null', f'"{name}": {token}')
    _assert_refused_naming(
        service.post("/predict", content=batch, headers={"content-type": "application/json"}), f"records[1].{name}"
    )


@pytest.mark.parametrize("text", ["x" * 1_000_000, "é" * 1_000_000, "1" * 1_000_000, "\u0301" * 500_000 + "e" * 500_000])
def test_one_megabyte_strings(service, roomy_service, binary_run, example, text):
    record = {**example, "city": text}
    # over the default limit of 1,000 characters: refused, naming the field
    error = _assert_refused_naming(service.post("/encode", json=record), "city")
    assert error["expected"] == "at most 1,000 characters" and len(error["value"]) < 300  # the echo is cut short
    # under a 2 MB limit: encoded exactly as training encodes it (the unknown row), no crash
    response = roomy_service.post("/encode", json=record)
    assert response.status_code == 200, response.text[:300]
    _assert_encoded_as_training(binary_run, response.json(), [record])
    assert response.json()["categorical"]["city"] == [0]
