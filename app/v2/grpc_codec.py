"""gRPC ``ModelInferRequest``/``ModelInferResponse`` ⇄ the v2 codec, in MLServer's pattern.

A gRPC request is turned into exactly what the REST door's JSON header says: one input per
tensor, its bytes pointed at by ``binary_data_size``. From there ``codec.decode_payload`` does
every check and decoding step the REST door does (names, datatypes, shapes, binary framing, the
Predictor's validation), so both doors accept, refuse and word errors alike. ``raw_input_contents``
are the binary tensors as they are; typed ``contents`` are packed into the same layout (numbers)
or handed over as values (``BYTES``). The answer mirrors the request, as MLServer's does: raw
output contents for a raw request (what tritonclient sends and reads), typed ones otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.columnar import ColumnarPrediction
from app.predictor import Predictor
from app.v2 import binary, codec
from app.v2.grpc_messages import InferParameter, ModelInferResponse
from features.errors import InvalidInput

# each datatype's field of InferTensorContents (FP16 has none: it travels raw only)
CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def decode_request(request: Any, predictor: Predictor) -> codec.InferRequest:
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidInput(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs",
            field="raw_input_contents",
            value=len(raw),
            expected=f"one entry per input, {len(request.inputs)}",
        )
    inputs, chunks = [], []
    for position, tensor in enumerate(request.inputs):
        described: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": list(tensor.shape)}
        if raw:
            if tensor.HasField("contents"):
                raise InvalidInput(
                    f"input {tensor.name!r} has contents although the request uses raw_input_contents",
                    field=tensor.name,
                    expected="raw_input_contents for every input, or typed contents for every input",
                )
            content: bytes | list[str] = raw[position]
        else:
            content = _typed_contents(tensor)
        if isinstance(content, list):
            described["data"] = content
        else:
            described["parameters"] = {"binary_data_size": len(content)}
            chunks.append(content)
        inputs.append(described)
    payload: dict[str, Any] = {"id": request.id or None, "inputs": inputs}
    if request.outputs:
        payload["outputs"] = [{"name": output.name} for output in request.outputs]
    return codec.decode_payload(payload, memoryview(b"".join(chunks)), predictor)


def _typed_contents(tensor: Any) -> bytes | list[str]:
    """One tensor's typed contents: numbers as the raw bytes of its datatype, BYTES as strings."""
    name, datatype = tensor.name, tensor.datatype
    field = CONTENTS.get(datatype)
    if field is None:
        if datatype in binary.NUMPY_TYPES:
            raise InvalidInput(f"input {name!r}: {datatype} has no typed contents", field=name, expected="raw_input_contents")
        return []  # an unknown datatype: the codec names it
    filled = [descriptor.name for descriptor, _ in tensor.contents.ListFields()]
    if filled and filled != [field]:
        raise InvalidInput(
            f"input {name!r} is {datatype}, so its values belong in contents.{field}, not {', '.join(filled)}",
            field=name,
            value=", ".join(filled),
            expected=f"contents.{field}",
        )
    values = getattr(tensor.contents, field)
    if datatype == "BYTES":
        return [_text(name, row, value) for row, value in enumerate(values)]
    shape = list(tensor.shape)
    if shape and min(shape) >= 0 and len(values) != math.prod(shape):  # a bad shape is the codec's to word
        raise InvalidInput(
            f"input {name!r}: {len(values):,} values for shape {shape}",
            field=name,
            value=len(values),
            expected=f"{math.prod(shape):,} values",
        )
    try:
        return np.asarray(values, dtype=binary.NUMPY_TYPES[datatype]).tobytes()
    except OverflowError:
        raise InvalidInput(
            f"input {name!r}: a value in contents.{field} does not fit {datatype}", field=name, expected=f"{datatype} values"
        ) from None


def _text(name: str, row: int, value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise InvalidInput(
            f"input {name!r}: element {row} is not UTF-8", field=f"{name}[{row}]", value=value, expected="UTF-8 text"
        ) from None


def encode_response(result: ColumnarPrediction, request: codec.InferRequest, raw: bool) -> Any:
    response = ModelInferResponse(model_name=result.model, model_version=str(result.version), id=request.id or "")
    for key, count in codec.warning_parameters(result).items():
        response.parameters[key].CopyFrom(InferParameter(int64_param=count))
    for name, datatype, shape, data, _ in codec.output_tensors(result, request):
        tensor = response.outputs.add(name=name, datatype=datatype, shape=shape)
        if raw:
            response.raw_output_contents.append(binary.encode(datatype, data))
        elif datatype == "BYTES":
            tensor.contents.bytes_contents.extend(text.encode() for text in data)
        else:
            getattr(tensor.contents, CONTENTS[datatype]).extend(np.asarray(data).tolist())
    return response
