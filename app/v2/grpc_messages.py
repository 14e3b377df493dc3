"""The Open Inference Protocol's gRPC message classes, built from the compiled descriptors.

They live in a private descriptor pool, not protobuf's default one: tritonclient.grpc (and
MLServer) register their own copy of the package ``inference`` there, and two files defining
``inference.ModelInferRequest`` in one pool refuse to load. Only the method paths travel on the
wire, so the messages' home pool is invisible to clients. No generated ``*_pb2.py`` also means
no gencode/runtime version check: any protobuf the rest of the venv (TensorFlow) wants will do.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from app.v2.proto.descriptors import FILES

SERVICE = "inference.GRPCInferenceService"
POOL = descriptor_pool.DescriptorPool()
for _serialized in FILES.values():
    POOL.Add(descriptor_pb2.FileDescriptorProto.FromString(_serialized))


def message(name: str) -> Any:
    """The class of ``inference.<name>``."""
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(f"inference.{name}"))


ServerLiveResponse = message("ServerLiveResponse")
ServerReadyResponse = message("ServerReadyResponse")
ModelReadyResponse = message("ModelReadyResponse")
ServerMetadataResponse = message("ServerMetadataResponse")
ModelMetadataResponse = message("ModelMetadataResponse")
ModelInferRequest = message("ModelInferRequest")
ModelInferResponse = message("ModelInferResponse")
InferParameter = message("InferParameter")
RepositoryIndexResponse = message("RepositoryIndexResponse")


def methods() -> dict[str, tuple[Any, Any]]:
    """Every method the server answers → (request class, response class): the six of the
    protocol's service, then the repository extension's three (Triton's names)."""
    service = POOL.FindServiceByName(SERVICE)
    found = {m.name: (message(m.input_type.name), message(m.output_type.name)) for m in service.methods}
    for name in ("RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload"):
        found[name] = (message(f"{name}Request"), message(f"{name}Response"))
    return found
