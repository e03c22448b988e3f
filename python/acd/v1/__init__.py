"""The public gRPC contract, package acd.v1: Python code generated from proto/acd/v1.

Every other module here is written by `make protos` (protoc from grpcio-tools, mypy-protobuf
for the .pyi stubs) and checked by `make protos-check`; edit the .proto files, not these.
Import what you need, e.g. `from acd.v1 import routing_pb2, routing_pb2_grpc`.
"""
