"""The services reach grpc.aio as generic handlers only: grpc.aio keeps a pending task per
registered method and waits on all of them for every incoming RPC, so the per-method
registrations of the generated code are dropped (``app.GenericOnly``)."""

from __future__ import annotations

from typing import Any, cast

import grpc
from grpc import aio

from acd.server.app import GenericOnly
from acd.v1 import agent_pb2_grpc, routing_pb2_grpc


class Recorder:
    def __init__(self) -> None:
        self.generic: list[grpc.GenericRpcHandler] = []
        self.registered: list[str] = []

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.generic.extend(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Any) -> None:
        self.registered.append(service)


class Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def test_generated_registration_gives_generic_handlers_only() -> None:
    server = Recorder()
    into = cast(aio.Server, GenericOnly(cast(aio.Server, server)))
    # The generated base servicers (abstract to the type checker) answer UNIMPLEMENTED.
    routing: Any = routing_pb2_grpc.RoutingServiceServicer
    agent: Any = agent_pb2_grpc.AgentServiceServicer
    routing_pb2_grpc.add_RoutingServiceServicer_to_server(routing(), into)
    agent_pb2_grpc.add_AgentServiceServicer_to_server(agent(), into)
    assert server.registered == []
    assert len(server.generic) == 2

    def served(method: str) -> bool:
        return any(h.service(Details(method)) is not None for h in server.generic)

    assert served("/acd.v1.RoutingService/EnqueueCall")
    assert served("/acd.v1.AgentService/StreamOffers")
    assert not served("/acd.v1.RoutingService/NoSuchMethod")
