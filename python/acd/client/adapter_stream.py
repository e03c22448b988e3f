"""The PBX adapter's long-lived ``AdapterStream``: commands in, acks and decisions out.

Each command is sent with a fresh correlation id and its coroutine returns when the server's
``CommandAck`` for that id arrives (raising ``ServiceError`` on ``CommandRejected``), so many
commands can be in flight at once on the one stream (``asyncio.gather``). Everything else the
server sends (offers, revocations, connects, queue positions, finished calls) is a routing
decision, handed out by ``decisions()`` as the generated ``AdapterStreamResponse``; use
``WhichOneof("message")`` to tell them apart::

    async with client.adapter_stream() as stream:
        await stream.enqueue_call("pbx-1", "sales", caller="+4930123")
        async for decision in stream.decisions():
            if decision.WhichOneof("message") == "offer":
                ring(decision.offer.agent_id, decision.offer.endpoint)

Decisions are buffered without bound until read: an adapter that does not read them should
open the stream with ``keep_decisions=False``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Unpack

import grpc

from acd.client.calls import CallFields, make_call, transfer_request
from acd.client.correlated import CorrelatedStream
from acd.client.errors import ServiceError
from acd.v1 import common_pb2, routing_pb2

Request = routing_pb2.AdapterStreamRequest
Response = routing_pb2.AdapterStreamResponse

# Ends the decisions queue; identity-compared, never sent.
_END = Response()


class AdapterStream(CorrelatedStream[Request, Response, routing_pb2.CommandAck]):
    """One open ``AdapterStream`` call; create it with ``AcdClient.adapter_stream()``."""

    NAME = "adapter stream"

    def __init__(
        self,
        call: grpc.aio.StreamStreamCall[Request, Response],
        *,
        keep_decisions: bool = True,
    ) -> None:
        self._keep_decisions = keep_decisions
        self._ids = itertools.count(1)
        self._decisions: asyncio.Queue[Response] = asyncio.Queue()
        self.last_sequence = 0
        self._asked_packed = False  # the first command asks for packed responses
        super().__init__(call)

    # --- commands ------------------------------------------------------------------------

    async def command(self, request: Request) -> routing_pb2.CommandAck:
        """Sends one command and returns its ack; a correlation id is filled in if empty."""
        if not request.correlation_id:
            request.correlation_id = str(next(self._ids))
        if not self._asked_packed:
            request.packed = self._asked_packed = True
        return await self._send(request.correlation_id, request)

    async def enqueue(self, call: common_pb2.Call) -> routing_pb2.CommandAck:
        """Enqueues a ``Call`` message (see ``make_call``); ``ack.duplicate`` for a repeat."""
        return await self.command(Request(enqueue_call=routing_pb2.EnqueueCallRequest(call=call)))

    async def enqueue_call(
        self, call_id: str, queue_id: str, **fields: Unpack[CallFields]
    ) -> routing_pb2.CommandAck:
        """Enqueues a call; keyword arguments as ``CallFields`` (channel, skills, caller...)."""
        return await self.enqueue(make_call(call_id, queue_id, **fields))

    async def cancel_call(self, call_id: str) -> routing_pb2.CommandAck:
        """The caller hung up before being connected."""
        return await self.command(
            Request(cancel_call=routing_pb2.CancelCallRequest(call_id=call_id))
        )

    async def end_call(self, call_id: str) -> routing_pb2.CommandAck:
        """A connected call ended."""
        return await self.command(Request(end_call=routing_pb2.EndCallRequest(call_id=call_id)))

    async def transfer_call(
        self,
        call_id: str,
        *,
        queue: str | None = None,
        agent: str | None = None,
        destination: str | None = None,
    ) -> routing_pb2.CommandAck:
        """Transfers a connected call to exactly one of a queue, an agent or a destination."""
        return await self.command(
            Request(transfer_call=transfer_request(call_id, queue, agent, destination))
        )

    async def request_callback(
        self,
        callback: common_pb2.Call,
        *,
        original_call_id: str = "",
        not_before_ms: int = 0,
    ) -> routing_pb2.CommandAck:
        """Routes a callback (``callback.channel`` should be CHANNEL_CALLBACK)."""
        return await self.command(
            Request(
                request_callback=routing_pb2.RequestCallbackRequest(
                    callback=callback,
                    original_call_id=original_call_id,
                    not_before_ms=not_before_ms,
                )
            )
        )

    # --- decisions -----------------------------------------------------------------------

    async def decisions(self) -> AsyncIterator[Response]:
        """The routing decisions in arrival order, until the stream ends.

        Raises ``ServiceError`` when the stream ended with an error (after the decisions
        received before it); stops quietly when it was closed or the server ended it.
        """
        while True:
            message = await self._decisions.get()
            if message is _END:
                self._decisions.put_nowait(_END)  # a second reader stops too
                if self._error is not None and self._error.code is not grpc.StatusCode.CANCELLED:
                    raise self._error
                return
            yield message

    # --- reading -------------------------------------------------------------------------

    def _ended(self) -> None:
        self._decisions.put_nowait(_END)

    def _dispatch(self, response: Response) -> None:
        self.last_sequence = response.sequence
        kind = response.WhichOneof("message")
        if kind == "ack":
            self._settle(response.ack.correlation_id, response.ack, None)
        elif kind == "rejected":
            error = ServiceError.from_command_error(response.rejected.error)
            self._settle(response.rejected.correlation_id, None, error)
        elif self._keep_decisions:
            self._decisions.put_nowait(response)
