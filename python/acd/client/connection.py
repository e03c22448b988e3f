"""What every client method stands on: one channel, the bearer token, the service stubs.

The token goes out as ``authorization: Bearer <token>`` metadata on every call (per call, not
as call credentials, so it works on plaintext loopback channels too). Every failed call is
re-raised as ``ServiceError`` here, in one place.
"""

from __future__ import annotations

from typing import TypeVar

import grpc

from acd.client.errors import ServiceError
from acd.v1 import (
    agent_pb2_grpc,
    crm_pb2_grpc,
    quality_pb2_grpc,
    routing_pb2_grpc,
    supervision_pb2_grpc,
)

Req = TypeVar("Req")
Resp = TypeVar("Resp")

Metadata = tuple[tuple[str, str], ...]


def auth_metadata(token: str) -> Metadata:
    """The metadata that authenticates a call with ``token``."""
    if not token or any(c in token for c in "\r\n"):
        raise ValueError("token: expected a non-empty string without line breaks")
    return (("authorization", f"Bearer {token}"),)


class Connection:
    """A channel plus a token; the typed methods live in the mixins of ``AcdClient``."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        token: str,
        *,
        timeout_s: float | None,
        owns_channel: bool,
    ) -> None:
        self.channel = channel
        self.metadata = auth_metadata(token)
        # Deadline of each unary call; streams have none (they are meant to stay open).
        self.timeout_s = timeout_s
        self._owns_channel = owns_channel
        self._routing = routing_pb2_grpc.RoutingServiceStub(channel)
        self._agents = agent_pb2_grpc.AgentServiceStub(channel)
        self._supervision = supervision_pb2_grpc.SupervisionServiceStub(channel)
        self._crm = crm_pb2_grpc.CrmServiceStub(channel)
        self._quality = quality_pb2_grpc.QualityServiceStub(channel)

    async def _unary(
        self, method: grpc.aio.UnaryUnaryMultiCallable[Req, Resp], request: Req
    ) -> Resp:
        try:
            return await method(request, metadata=self.metadata, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as err:
            raise ServiceError.from_rpc_error(err) from None
