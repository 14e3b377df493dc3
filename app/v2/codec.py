"""v2 tensors ⇄ the Predictor's columns, in MLServer's codec pattern.

A request's inputs (one tensor per feature, JSON or binary) become exactly the columns the
native record parser produces, so validation, warnings, drift counters and errors stay in
``RecordParser.parse_columns`` and the Predictor. A ``ColumnarPrediction`` becomes the output
tensors: ``label`` (BYTES [N]) and ``probabilities`` (FP32 [N, k]), or ``value`` (FP64 [N]).
Warning counts go in the response ``parameters`` (docs/v2.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import orjson

from app import json_body
from app.columnar import WARNING_TYPES, ColumnarPrediction
from app.predictor import Predictor
from app.v2 import binary
from features.errors import InvalidInput

NUMERIC_INPUTS = ("FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8")


@dataclass
class InferRequest:
    id: str | None
    columns: dict[str, Any]
    outputs: list[tuple[str, bool]]  # (output name, as binary data)
    text: set[str]  # BYTES inputs: every element is already known to be a str


def input_metadata(predictor: Predictor) -> list[dict[str, Any]]:
    # a "both" column (categorical and numeric) is one numeric input: its number is also its category
    numeric = set(predictor.numeric)
    inputs = [{"name": name, "datatype": "BYTES", "shape": [-1]} for name in predictor.categorical if name not in numeric]
    return inputs + [{"name": name, "datatype": "FP64", "shape": [-1]} for name in predictor.numeric]


def output_metadata(predictor: Predictor) -> list[dict[str, Any]]:
    if predictor.task == "regression":
        return [{"name": "value", "datatype": "FP64", "shape": [-1]}]
    return [
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(predictor.labels)]},
    ]


_TRITON_TYPES = {"BYTES": "TYPE_STRING", "FP64": "TYPE_FP64", "FP32": "TYPE_FP32"}


def model_config(predictor: Predictor, versions: list[int], max_batch_size: int) -> dict[str, Any]:
    """Triton's model configuration extension (GET /v2/models/{name}/config), for the same tensors
    as the metadata: dims without the batch dimension, which max_batch_size bounds."""

    def tensors(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"name": t["name"], "data_type": _TRITON_TYPES[t["datatype"]], "dims": t["shape"][1:] or [1]} for t in found]

    return {
        "name": predictor.name,
        "platform": "catembed_numpy",
        "backend": "catembed",
        "max_batch_size": max_batch_size,
        "input": tensors(input_metadata(predictor)),
        "output": tensors(output_metadata(predictor)),
        "version_policy": {"specific": {"versions": [str(v) for v in versions]}},
    }


def model_metadata(predictor: Predictor, versions: list[int]) -> dict[str, Any]:
    """The model metadata both doors answer: ``versions`` are the ready ones."""
    return {
        "name": predictor.name,
        "versions": [str(v) for v in versions],
        "platform": "catembed_numpy",
        "inputs": input_metadata(predictor),
        "outputs": output_metadata(predictor),
    }


def _bad(message: str, field: str, value: Any = None, expected: str | None = None) -> InvalidInput:
    return InvalidInput(message, field=field, value=value, expected=expected)


def decode_request(header: bytes, data: memoryview, predictor: Predictor) -> InferRequest:
    try:
        # tritonclient writes a missing FP64 as NaN: read as a missing number, as null is (±Infinity
        # is read too, and refused by the numeric check as not finite, naming the input and row)
        payload = json_body.loads(header, nan=True)
    except (orjson.JSONDecodeError, ValueError, RecursionError) as exc:
        raise _bad(f"request body is not valid JSON: {exc}", "body", expected="a v2 inference request") from None
    return decode_payload(payload, data, predictor)


def decode_payload(payload: Any, data: memoryview, predictor: Predictor) -> InferRequest:
    """A request as the JSON header reads (the gRPC door builds the same dict from its message),
    with the binary tensors its ``binary_data_size`` parameters point into."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list) or not payload["inputs"]:
        raise _bad("the body must be an object with a non-empty 'inputs' list", "inputs", expected="a v2 inference request")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise _bad("'id' must be a string", "id", request_id, "a string")
    columns: dict[str, Any] = {}
    text: set[str] = set()
    offset = 0
    categorical, numeric = set(predictor.categorical), set(predictor.numeric)
    for position, tensor in enumerate(payload["inputs"]):
        name, datatype, rows, parameters = _describe(tensor, position)
        if name in columns:
            raise _bad(f"input {name!r} is given twice", name, expected="one tensor per feature")
        if name in numeric and datatype not in NUMERIC_INPUTS:  # an unknown name: the parser names it
            raise _bad(f"input {name!r} is numeric; {datatype} is not a number type", name, datatype, "FP64, FP32 or INT64")
        size = parameters.get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0 or offset + size > len(data):
                raise _bad(f"input {name!r}: binary_data_size {size!r} does not fit the binary data", name, size)
            values: Any = binary.decode(name, datatype, data[offset : offset + size], rows)
            offset += size
            if name in categorical and isinstance(values, np.ndarray):
                values = values.tolist()  # category lookups want Python values, as JSON gives them
        else:
            values = _json_data(tensor, name, datatype, rows)
        columns[name] = values
        if datatype == "BYTES" and name in categorical:
            text.add(name)  # binary BYTES decode to str, JSON BYTES are checked to be str
    if offset != len(data):
        raise _bad(f"{len(data) - offset:,} bytes of binary data belong to no input", "body", len(data) - offset)
    return InferRequest(request_id, columns, _requested_outputs(payload, predictor), text)


def _describe(tensor: Any, position: int) -> tuple[str, str, int, dict[str, Any]]:
    where = f"inputs[{position}]"
    if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
        raise _bad(f"{where} must be an object with a 'name'", where, expected="{name, shape, datatype, data}")
    name, shape, datatype = tensor["name"], tensor.get("shape"), tensor.get("datatype")
    if not isinstance(datatype, str) or (datatype != "BYTES" and datatype not in binary.NUMPY_TYPES):
        raise _bad(f"input {name!r}: unknown datatype {datatype!r}", name, datatype, "a v2 datatype such as BYTES or FP64")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape) and shape[1:] in ([], [1]) and shape):
        raise _bad(f"input {name!r}: shape {shape!r} is not [N] or [N, 1]", name, shape, "[N] or [N, 1]")
    parameters = tensor.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise _bad(f"input {name!r}: 'parameters' must be an object", name, parameters)
    return name, datatype, shape[0], parameters  # a content_type parameter (MLServer) is accepted and not needed


def _json_data(tensor: dict[str, Any], name: str, datatype: str, rows: int) -> list[Any]:
    values = tensor.get("data")
    if not isinstance(values, list):
        raise _bad(f"input {name!r} has no 'data' list and no binary_data_size", name, expected="a list of values")
    if values and type(values[0]) is list:  # nested [[v], [v], ...] for shape [N, 1]
        if not all(type(v) is list for v in values):
            raise _bad(f"input {name!r}: mixes nested and flat data", name, expected="flat or [N, 1] nested data")
        values = list(chain.from_iterable(values))
    if len(values) != rows:
        raise _bad(f"input {name!r}: {len(values):,} values for shape [{rows}]", name, len(values), f"{rows:,} values")
    if datatype == "BYTES" and not set(map(type, values)) <= {str}:
        row = next(i for i, v in enumerate(values) if type(v) is not str)
        raise _bad(f"input {name!r}: BYTES element {row} is not a string", f"{name}[{row}]", values[row], "a string")
    return values


def _requested_outputs(payload: dict[str, Any], predictor: Predictor) -> list[tuple[str, bool]]:
    parameters = payload.get("parameters") or {}
    default_binary = isinstance(parameters, dict) and parameters.get("binary_data_output") is True
    names = [o["name"] for o in output_metadata(predictor)]
    requested = payload.get("outputs")
    if requested is None:
        return [(name, default_binary) for name in names]
    if not isinstance(requested, list):
        raise _bad("'outputs' must be a list", "outputs", expected="a list of {name, parameters}")
    chosen = []
    for position, output in enumerate(requested):
        name = output.get("name") if isinstance(output, dict) else None
        if not isinstance(name, str) or name not in names:
            raise _bad(f"unknown output {name!r}; outputs are {', '.join(names)}", f"outputs[{position}]", name, ", ".join(names))
        parameters = output.get("parameters") or {}
        flag = parameters.get("binary_data") if isinstance(parameters, dict) else None
        chosen.append((name, default_binary if flag is None else flag is True))
    return chosen


def output_tensors(result: ColumnarPrediction, request: InferRequest) -> list[tuple[str, str, list[int], Any, bool]]:
    """(name, datatype, shape, flat data, as binary) of each requested output, in request order."""
    n = result.n_rows
    tensors = []
    data: Any
    for name, as_binary in request.outputs:
        column = result.outputs[name]
        if name == "label":
            datatype, shape, data = "BYTES", [n], result.label_texts()
        elif name == "probabilities":
            datatype, shape, data = "FP32", [n, column.shape[1]], column.astype(np.float32).ravel()
        else:
            datatype, shape, data = "FP64", [n], column
        tensors.append((name, datatype, shape, data, as_binary))
    return tensors


def encode_response(result: ColumnarPrediction, request: InferRequest) -> tuple[bytes, int | None]:
    """The response body, and the JSON part's length when binary outputs follow it."""
    outputs, chunks = [], []
    for name, datatype, shape, data, as_binary in output_tensors(result, request):
        tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
        if as_binary:
            raw = binary.encode(datatype, data)
            chunks.append(raw)
            tensor["parameters"] = {"binary_data_size": len(raw)}
        else:
            tensor["data"] = data
        outputs.append(tensor)
    body: dict[str, Any] = {"model_name": result.model, "model_version": str(result.version)}
    if request.id is not None:
        body["id"] = request.id
    body["parameters"] = warning_parameters(result)
    body["outputs"] = outputs
    header = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return header, None
    return b"".join([header, *chunks]), len(header)


def warning_parameters(result: ColumnarPrediction) -> dict[str, int]:
    """Scalar parameters (the spec allows no nesting): a total per warning type, then per feature."""
    counts = result.counts()
    totals = {f"{kind}_count": sum(counts.get(kind, {}).values()) for kind in WARNING_TYPES}
    per_feature = {f"{kind}_count.{field}": n for kind, fields in counts.items() for field, n in fields.items()}
    return {**totals, **per_feature}
