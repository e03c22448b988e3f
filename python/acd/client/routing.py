"""RoutingService methods (role adapter): calls in, one at a time or in batches."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Unpack

from acd.client.adapter_stream import AdapterStream
from acd.client.calls import CallFields, make_call, transfer_request
from acd.client.connection import Connection
from acd.v1 import common_pb2, routing_pb2


class RoutingMethods(Connection):
    async def enqueue_call(
        self, call_id: str, queue_id: str, **fields: Unpack[CallFields]
    ) -> routing_pb2.EnqueueCallResponse:
        """Puts a call in a queue; ``duplicate`` in the response for a repeated call_id."""
        request = routing_pb2.EnqueueCallRequest(call=make_call(call_id, queue_id, **fields))
        return await self._unary(self._routing.EnqueueCall, request)

    async def enqueue_calls(
        self, calls: Iterable[common_pb2.Call]
    ) -> routing_pb2.EnqueueCallsResponse:
        """Enqueues ``make_call(...)`` messages in order. Each succeeds or fails on its own:
        a refused one has ``results[i].error`` set (``ServiceError.from_command_error``)."""
        request = routing_pb2.EnqueueCallsRequest(calls=calls)
        return await self._unary(self._routing.EnqueueCalls, request)

    async def cancel_call(self, call_id: str) -> common_pb2.CallOutcome.ValueType:
        """The caller hung up before being connected; returns the outcome (abandoned)."""
        request = routing_pb2.CancelCallRequest(call_id=call_id)
        return (await self._unary(self._routing.CancelCall, request)).outcome

    async def end_call(self, call_id: str) -> common_pb2.CallOutcome.ValueType:
        """A connected call ended; returns the outcome (completed)."""
        request = routing_pb2.EndCallRequest(call_id=call_id)
        return (await self._unary(self._routing.EndCall, request)).outcome

    async def transfer_call(
        self,
        call_id: str,
        *,
        queue: str | None = None,
        agent: str | None = None,
        destination: str | None = None,
    ) -> common_pb2.CallOutcome.ValueType:
        """Transfers a connected call to exactly one of a queue, an agent or a destination;
        returns transferred-out for a destination, unspecified while the call waits again."""
        request = transfer_request(call_id, queue, agent, destination)
        return (await self._unary(self._routing.TransferCall, request)).outcome

    async def request_callback(
        self,
        call_id: str,
        queue_id: str,
        callback_number: str,
        *,
        original_call_id: str = "",
        not_before_ms: int = 0,
        **fields: Unpack[CallFields],
    ) -> bool:
        """Routes a callback to ``callback_number``; True when call_id was a repeat."""
        fields["channel"] = "callback"
        fields["caller"] = callback_number
        request = routing_pb2.RequestCallbackRequest(
            callback=make_call(call_id, queue_id, **fields),
            original_call_id=original_call_id,
            not_before_ms=not_before_ms,
        )
        return (await self._unary(self._routing.RequestCallback, request)).duplicate

    def adapter_stream(self, *, keep_decisions: bool = True) -> AdapterStream:
        """Opens the bidirectional adapter stream (call from a coroutine; close it after)."""
        call = self._routing.AdapterStream(metadata=self.metadata)
        return AdapterStream(call, keep_decisions=keep_decisions)
