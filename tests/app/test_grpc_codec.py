"""The gRPC codec in-process: requests built with tritonclient's own message classes, read by
catembed's (so the wire layouts must agree), decoded through the shared v2 codec, and every
refusal an ``InvalidInput`` naming the input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tritonclient.grpc import service_pb2

from app.predictor import Predictor
from app.v2 import binary, grpc_codec, grpc_messages
from app.v2.proto import compile as proto_compile
from app.v2.proto.descriptors import FILES
from features.artifacts import load_bundle
from features.errors import InvalidInput

ROWS = {"color": ["red", "blue", ""], "city": ["city/1 é", "nowhere", "city/2 é"], "size": ["1", "3", "5"]}
NUMBERS = {"x": [0.5, math.nan, 2.0], "noise": [0.0, 1.0, -1.0]}


@pytest.fixture(scope="module")
def predictor(binary_run) -> Predictor:
    return Predictor(load_bundle(binary_run.path.parent, 1))


def _request(raw: bool, **changes) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name="binary")
    for name, values in {**ROWS, **NUMBERS}.items():
        datatype = "BYTES" if name in ROWS else "FP64"
        tensor = request.inputs.add(name=name, datatype=datatype, shape=[3])
        if raw:
            request.raw_input_contents.append(binary.encode(datatype, values))
        elif datatype == "BYTES":
            tensor.contents.bytes_contents.extend(v.encode() for v in values)
        else:
            tensor.contents.fp64_contents.extend(values)
    for name, change in changes.items():
        change(next(t for t in request.inputs if t.name == name))
    return request


def _decode(request, predictor):
    return grpc_codec.decode_request(grpc_messages.ModelInferRequest.FromString(request.SerializeToString()), predictor)


def _refused(request, predictor) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        _decode(request, predictor)
    return caught.value


def test_the_committed_descriptors_are_the_vendored_protos_compiled():
    assert proto_compile.compiled() == FILES, "run: python -m app.v2.proto.compile"


def test_raw_and_typed_contents_decode_to_the_same_columns(predictor):
    raw, typed = _decode(_request(raw=True), predictor), _decode(_request(raw=False), predictor)
    assert raw.columns["color"] == typed.columns["color"] == ROWS["color"]
    np.testing.assert_array_equal(raw.columns["x"], typed.columns["x"])  # NaN travels in both
    assert raw.text == typed.text == set(ROWS)
    answer = predictor.predict_columns(typed.columns, typed.text)
    assert answer.counts()["imputed"] == {"x": 1} and answer.counts()["missing_category"] == {"color": 1}


def test_typed_integers_are_numbers_as_they_are_over_rest(predictor):
    def as_int64(tensor):
        tensor.datatype = "INT64"
        tensor.contents.Clear()
        tensor.contents.int64_contents.extend([0, 1, -1])

    decoded = _decode(_request(raw=False, noise=as_int64), predictor)
    np.testing.assert_array_equal(decoded.columns["noise"], [0, 1, -1])


def test_the_response_mirrors_the_request(predictor):
    request = _decode(_request(raw=False), predictor)
    result = predictor.predict_columns(request.columns, request.text)
    raw = service_pb2.ModelInferResponse.FromString(grpc_codec.encode_response(result, request, raw=True).SerializeToString())
    typed = service_pb2.ModelInferResponse.FromString(grpc_codec.encode_response(result, request, raw=False).SerializeToString())
    assert [o.name for o in raw.outputs] == [o.name for o in typed.outputs] == ["label", "probabilities"]
    probabilities = np.frombuffer(raw.raw_output_contents[1], dtype="<f4")
    np.testing.assert_array_equal(probabilities, typed.outputs[1].contents.fp32_contents)
    np.testing.assert_allclose(probabilities.reshape(3, 2), result.outputs["probabilities"], atol=1e-7)
    assert typed.parameters["imputed_count"].int64_param == 1 and not typed.raw_output_contents


@pytest.mark.parametrize(
    ("case", "field", "words"),
    [
        ("raw count", "raw_input_contents", "4 entries for 5 inputs"),
        ("raw and contents", "x", "raw_input_contents"),
        ("wrong contents field", "x", "contents.fp64_contents, not int64_contents"),
        ("FP16 typed", "x", "FP16 has no typed contents"),
        ("count", "x", "2 values for shape [3]"),
        ("not UTF-8", "city[1]", "not UTF-8"),
        ("INT8 overflow", "x", "does not fit INT8"),
        ("unknown datatype", "x", "unknown datatype 'FP128'"),
    ],
)
def test_bad_requests_name_the_input(predictor, case, field, words):
    def retype(datatype, **contents):
        def change(tensor):
            tensor.datatype = datatype
            tensor.contents.Clear()
            for key, values in contents.items():
                getattr(tensor.contents, key).extend(values)

        return change

    if case == "raw count":
        request = _request(raw=True)
        del request.raw_input_contents[-1]
    elif case == "raw and contents":
        request = _request(raw=True, x=lambda t: t.contents.fp64_contents.extend([1.0, 2.0, 3.0]))
    elif case == "wrong contents field":
        request = _request(raw=False, x=retype("FP64", int64_contents=[1, 2, 3]))
    elif case == "FP16 typed":
        request = _request(raw=False, x=retype("FP16"))
    elif case == "count":
        request = _request(raw=False, x=retype("FP64", fp64_contents=[1.0, 2.0]))
    elif case == "not UTF-8":
        request = _request(raw=False, city=retype("BYTES", bytes_contents=[b"a", b"\xff", b"c"]))
    elif case == "INT8 overflow":
        request = _request(raw=False, x=retype("INT8", int_contents=[1, 300, 2]))
    else:
        request = _request(raw=False, x=retype("FP128"))
    error = _refused(request, predictor)
    assert error.field == field and words in error.message, error.message
