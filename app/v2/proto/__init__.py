"""The Open Inference Protocol's gRPC messages: the vendored .proto files and their compiled descriptors."""
