"""A small ONNX graph builder: nodes and constants appended in order, every tensor named once.

``training.export.onnx_encoding`` (raw columns → model inputs) and ``onnx_network`` (the
network and its answers) write into one builder; ``training.export.onnx`` turns it into a model.
Only ``onnx`` itself is imported, never TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # ai.onnx: every op used here exists there, and onnxruntime ≥ 1.14 runs it
ML_OPSET = 3  # ai.onnx.ml: LabelEncoder with string keys and int64 values
ML_DOMAIN = "ai.onnx.ml"


class GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self._names: set[str] = set()

    def name(self, hint: str) -> str:
        """A tensor name not taken yet, readable in Netron: ``hint``, ``hint_1``, …"""
        candidate, k = hint, 0
        while candidate in self._names:
            k += 1
            candidate = f"{hint}_{k}"
        self._names.add(candidate)
        return candidate

    def const(self, value: Any, hint: str, dtype: Any = None) -> str:
        array = np.asarray(value, dtype=dtype)
        name = self.name(hint)
        if array.dtype == object or array.dtype.kind == "U":
            texts: list[Any] = [str(v).encode() for v in array.ravel()]
            tensor = helper.make_tensor(name, TensorProto.STRING, array.shape, texts)
        else:
            tensor = numpy_helper.from_array(array, name)
        self.initializers.append(tensor)
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, domain: str = "", **attributes: Any) -> str:
        """One node with one output; returns the output's name."""
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, domain=domain or None, **attributes))
        return out

    def reserve(self, names: list[str]) -> None:
        """Keep the graph's input and output names for themselves, before any node is named."""
        taken = sorted({n for n in names if names.count(n) > 1} | (set(names) & self._names))
        if taken:
            raise ValueError(f"names used twice among the inputs and outputs: {', '.join(taken)}")
        self._names.update(names)

    def input(self, name: str, elem_type: int, shape: list[Any]) -> str:
        """A graph input whose name was reserved; asked for again (a column that is a number and a
        category), the same input."""
        for known in self.inputs:
            if known.name == name:
                if known.type.tensor_type.elem_type != elem_type:
                    raise ValueError(f"input {name!r} declared with two types")
                return name
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def output(self, tensor: str, name: str, elem_type: int, shape: list[Any]) -> None:
        """Expose ``tensor`` as the graph output ``name`` (reserved), through an Identity."""
        self.nodes.append(helper.make_node("Identity", [tensor], [name], name=name))
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, shape))

    def model(self, graph_name: str, doc: str) -> Any:
        graph = helper.make_graph(self.nodes, graph_name, self.inputs, self.outputs, self.initializers)
        opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(ML_DOMAIN, ML_OPSET)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="catembed", doc_string=doc)
        model.ir_version = 8  # what onnxruntime ≥ 1.14 reads
        return model
