"""The client's one error type: a refused or failed call, with its gRPC status code.

Everything the client raises for a call the service refused, or that never reached it, is a
``ServiceError``: from a unary call's status, from a stream ending with an error, and from a
``CommandRejected`` / ``EnqueueResult.error`` inside a message (their ``ErrorCode`` numbers are
gRPC's). Callers branch on ``code``::

    try:
        await client.accept_offer("anna", "pbx-1")
    except ServiceError as err:
        if err.code is grpc.StatusCode.FAILED_PRECONDITION:
            ...  # the offer was revoked meanwhile
"""

from __future__ import annotations

import grpc

from acd.v1 import common_pb2

_BY_NUMBER: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


class ServiceError(Exception):
    """A call failed with gRPC status ``code``; ``details`` is the service's message.

    ``field`` names the request field at fault when the service said so (errors carried in
    messages have it; a status has no such slot, so it is empty there).
    """

    def __init__(self, code: grpc.StatusCode, details: str, field: str = "") -> None:
        super().__init__(f"{code.name}: {details}" if details else code.name)
        self.code = code
        self.details = details
        self.field = field

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> ServiceError:
        """The error for a failed call (``grpc.aio.AioRpcError`` or a sync ``grpc.Call``)."""
        code = err.code() if isinstance(err, grpc.aio.AioRpcError | grpc.Call) else None
        details = err.details() if isinstance(err, grpc.aio.AioRpcError | grpc.Call) else None
        return cls(code or grpc.StatusCode.UNKNOWN, details or "")

    @classmethod
    def from_command_error(cls, err: common_pb2.CommandError) -> ServiceError:
        """The error for a refused command reported inside a message."""
        code = _BY_NUMBER.get(err.code, grpc.StatusCode.UNKNOWN)
        return cls(code, err.message, err.field)

    def __reduce__(self) -> tuple[type[ServiceError], tuple[grpc.StatusCode, str, str]]:
        return type(self), (self.code, self.details, self.field)
