"""RoutingService: the PBX adapter's side (acd.v1 routing.proto).

Every adapter stream of a tenant receives every routing decision of that tenant (offers with
the agent's endpoint, revocations, connections, terminal outcomes): one PBX per tenant is the
common case, and several PBXs each ignore the calls they do not hold.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping
from types import MappingProxyType
from typing import Any

import grpc

from acd.server import callbacks, convert
from acd.server.commands import Refusal, refusal
from acd.server.config_tenant import MAX_LEVEL, MIN_LEVEL
from acd.server.enqueue_plan import plan
from acd.server.fanout import AdapterFeed
from acd.server.journal_format import Command
from acd.server.packing import numbered
from acd.server.service_base import (
    Context,
    Shared,
    guarded,
    invalid,
    not_found,
    require_id,
    valid_id,
)
from acd.server.stream_commands import serve_commands
from acd.server.tenant import Tenant
from acd.v1 import common_pb2, routing_pb2, routing_pb2_grpc

_VOICE = common_pb2.CHANNEL_VOICE
# Commands of one adapter stream in flight at once (each waits for its commit).
STREAM_WINDOW = 256
# Calls one EnqueueCalls may carry: a batch is applied in one turn of the event loop, so a
# larger one would hold every other tenant's offers back; more calls go in several requests.
MAX_BATCH_CALLS = 1000

_CALL_FIELDS = {
    "call_id": "call_id",
    "queue_id": "queue_id",
    "priority": "priority",
    "skills": "skills",
    "caller": "caller_number",
    "dialled": "dialled_number",
    "preferred_agent": "preferred_agent_id",
    "agent_id": "preferred_agent_id",  # the router's "unknown agent" names the preferred one
    "preferred_wait_ms": "preferred_wait_ms",
    "attributes": "attributes",
    "channel": "channel",
}


@functools.lru_cache(maxsize=64)
def call_fields(prefix: str) -> Mapping[str, str]:
    """The router's enqueue argument names -> request field paths under ``prefix``."""
    return MappingProxyType({k: f"{prefix}.{v}" for k, v in _CALL_FIELDS.items()})


def enqueue_command(call: common_pb2.Call, now: int, prefix: str = "call") -> Command:
    """The batch tuple for one ``Call``; checks what the router cannot name by field.
    (Written for speed: batch enqueue runs it once per call.)"""
    call_id, queue_id = call.call_id, call.queue_id
    if not valid_id(call_id) or not valid_id(queue_id):
        require_id(call_id, f"{prefix}.call_id")  # raises, naming the field
        require_id(queue_id, f"{prefix}.queue_id")
    options: dict[str, Any] = {}
    if (value := call.channel) and value != _VOICE:  # 0, unspecified, is voice too
        channel = convert.CHANNELS.get(value)
        if channel is None:
            raise invalid(f"{prefix}.channel", f"unknown channel {value}")
        options["channel"] = channel
    if call.skills:
        skills = options["skills"] = dict(call.skills)
        for skill, level in skills.items():
            if not MIN_LEVEL <= level <= MAX_LEVEL:
                why = f"{skill!r}: level {level} out of range {MIN_LEVEL}..{MAX_LEVEL}"
                raise invalid(f"{prefix}.skills", why)
    if caller := call.caller_number:
        options["caller"] = require_id(caller, f"{prefix}.caller_number")
    if dialled := call.dialled_number:
        options["dialled"] = require_id(dialled, f"{prefix}.dialled_number")
    if preferred := call.preferred_agent_id:
        options["preferred_agent"] = preferred
    if wait := call.preferred_wait_ms:
        if wait < 0:
            raise invalid(f"{prefix}.preferred_wait_ms", "must be >= 0")
        options["preferred_wait_ms"] = wait
    if call.attributes:
        options["attributes"] = dict(call.attributes)
    if not options:  # the short form keeps the journal small for the common case
        return ("enqueue", call_id, queue_id, now, call.priority)
    return ("enqueue", call_id, queue_id, now, call.priority, options)


def _command_error(r: Refusal) -> common_pb2.CommandError:
    return convert.command_error(r.code, r.message, r.field)


class RoutingService(routing_pb2_grpc.RoutingServiceServicer):
    def __init__(self, shared: Shared) -> None:
        self._shared = shared

    # Each command as a coroutine of the tenant, shared by the unary RPCs and the stream.

    async def _enqueue(
        self, tenant: Tenant, request: routing_pb2.EnqueueCallRequest
    ) -> routing_pb2.EnqueueCallResponse:
        now = tenant.clock.now()
        call = request.call
        p = plan(tenant, call, enqueue_command(call, now), now)
        outcome = await tenant.execute(p.commands, p.service)
        for e in outcome.events:
            if e.kind == "error":
                raise refusal(e, call_fields("call"))
        duplicate = 0 in outcome.duplicates or p.repeat
        response = routing_pb2.EnqueueCallResponse(duplicate=duplicate, enqueued_at_ms=now)
        if p.decision is not None:
            response.out_of_hours.CopyFrom(p.decision)
        if p.commands:
            if not duplicate:  # a call that only waits makes no event: the lines learn here
                tenant.waits.enter(tenant, [call.call_id], now)
                tenant.suggestions.watch([(call.call_id, p.commands[0][2])], now)
            response.position, response.estimated_wait_ms = tenant.waits.estimate(
                tenant, call.call_id, now
            )
            queue_id = p.commands[0][2]
            tenant.suggestions.estimated(call.call_id, queue_id, response.estimated_wait_ms, now)
        return response

    async def _cancel(
        self, tenant: Tenant, request: routing_pb2.CancelCallRequest
    ) -> routing_pb2.CancelCallResponse:
        require_id(request.call_id, "call_id")
        await tenant.run(("abandon", request.call_id, tenant.clock.now()))
        return routing_pb2.CancelCallResponse(outcome=common_pb2.CALL_OUTCOME_ABANDONED)

    async def _end(
        self, tenant: Tenant, request: routing_pb2.EndCallRequest
    ) -> routing_pb2.EndCallResponse:
        return await callbacks.end_call(tenant, request, tenant.clock.now())

    async def _transfer(
        self, tenant: Tenant, request: routing_pb2.TransferCallRequest
    ) -> routing_pb2.TransferCallResponse:
        require_id(request.call_id, "call_id")
        kind = request.WhichOneof("target")
        if kind is None:
            raise invalid("target", "one of queue_id, agent_id or destination is required")
        field = {"queue_id": "queue", "agent_id": "agent", "destination": "destination"}[kind]
        target = require_id(getattr(request, kind), kind)
        fields = {"queue": "queue_id", "agent": "agent_id", "queue_id": "queue_id"}
        await tenant.run(("transfer", request.call_id, field, target, tenant.clock.now()), fields)
        out = (
            common_pb2.CALL_OUTCOME_TRANSFERRED_OUT
            if kind == "destination"
            else common_pb2.CALL_OUTCOME_UNSPECIFIED
        )
        return routing_pb2.TransferCallResponse(outcome=out)

    async def _callback(
        self, tenant: Tenant, request: routing_pb2.RequestCallbackRequest
    ) -> routing_pb2.RequestCallbackResponse:
        callback = common_pb2.Call()
        callback.CopyFrom(request.callback)
        callback.channel = common_pb2.CHANNEL_CALLBACK
        now = tenant.clock.now()
        if request.original_call_id and request.not_before_ms <= now:
            return await callbacks.request_callback(tenant, request, now)
        require_id(callback.caller_number, "callback.caller_number")
        enqueue = enqueue_command(callback, now, "callback")
        if request.not_before_ms > now:
            return await self._scheduled_callback(tenant, request, enqueue, now)
        outcome = await tenant.execute([enqueue])
        errors = [e for e in outcome.events if e.kind == "error"]
        if errors:
            raise refusal(errors[0], call_fields("callback"))
        return routing_pb2.RequestCallbackResponse(duplicate=0 in outcome.duplicates)

    async def _scheduled_callback(
        self,
        tenant: Tenant,
        request: routing_pb2.RequestCallbackRequest,
        enqueue: Command,
        now: int,
    ) -> routing_pb2.RequestCallbackResponse:
        """A callback for later: journaled as scheduled, enqueued by the tenant's timer at
        ``not_before_ms`` (service_state), so it survives a restart."""
        call_id, queue_id = enqueue[1], enqueue[2]
        if queue_id not in tenant.queues:
            raise Refusal(
                grpc.StatusCode.NOT_FOUND,
                f"callback.queue_id {queue_id!r}: unknown queue",
                "callback.queue_id",
            )
        due = request.not_before_ms
        answer = routing_pb2.RequestCallbackResponse(scheduled_at_ms=due)
        if call_id in tenant.service.callbacks or call_id in tenant.live_calls:
            answer.duplicate = True
            return answer
        commands: list[Command] = []
        if request.original_call_id:
            if tenant.router.call_info(request.original_call_id) is None:
                raise not_found("original_call_id", request.original_call_id, "call")
            commands.append(("abandon", request.original_call_id, now))
        service: list[Command] = [("svc:callback", call_id, due, list(enqueue), now)]
        outcome = await tenant.execute(commands, service)
        errors = [e for e in outcome.events if e.kind == "error"]
        if errors:
            raise refusal(errors[0], {"call_id": "original_call_id"})
        return answer

    async def _status(
        self, tenant: Tenant, request: routing_pb2.GetCallStatusRequest
    ) -> routing_pb2.GetCallStatusResponse:
        call_id = require_id(request.call_id, "call_id")
        now = tenant.clock.now()
        info = tenant.router.call_info(call_id)
        if info is None:
            scheduled = tenant.service.callbacks.get(call_id)
            if scheduled is None:
                raise Refusal(
                    grpc.StatusCode.NOT_FOUND, f"call_id {call_id!r}: unknown call", "call_id"
                )
            return routing_pb2.GetCallStatusResponse(
                call_id=call_id,
                queue_id=scheduled.command[2],
                scheduled_at_ms=scheduled.due_ms,
                at_ms=now,
            )
        position, wait = tenant.waits.estimate(tenant, call_id, now)
        return routing_pb2.GetCallStatusResponse(
            call_id=call_id,
            queue_id=info["queue_id"],
            state=convert.CALL_STATES.get(info["state"], common_pb2.CALL_STATE_UNSPECIFIED),
            position=position,
            estimated_wait_ms=wait,
            at_ms=now,
        )

    # ---- unary RPCs -----------------------------------------------------------------------

    @guarded
    async def EnqueueCall(
        self, request: routing_pb2.EnqueueCallRequest, context: Context
    ) -> routing_pb2.EnqueueCallResponse:
        return await self._enqueue(self._shared.tenant(), request)

    @guarded
    async def GetCallStatus(
        self, request: routing_pb2.GetCallStatusRequest, context: Context
    ) -> routing_pb2.GetCallStatusResponse:
        return await self._status(self._shared.tenant(), request)

    @guarded
    async def EnqueueCalls(
        self, request: routing_pb2.EnqueueCallsRequest, context: Context
    ) -> routing_pb2.EnqueueCallsResponse:
        tenant = self._shared.tenant()
        if len(request.calls) > MAX_BATCH_CALLS:
            count = len(request.calls)
            raise invalid("calls", f"at most {MAX_BATCH_CALLS} calls per request, got {count}")
        now = tenant.clock.now()
        results: list[routing_pb2.EnqueueResult] = []
        commands: list[Command] = []
        service: list[Command] = []
        positions: list[int] = []  # result index of each command
        for i, call in enumerate(request.calls):
            results.append(routing_pb2.EnqueueResult(call_id=call.call_id))
            try:
                p = plan(tenant, call, enqueue_command(call, now, f"calls[{i}]"), now)
            except Refusal as r:
                results[i].error.CopyFrom(_command_error(r))
                continue
            commands += p.commands
            positions += [i] * len(p.commands)
            service += p.service
            if p.decision is not None:
                results[i].out_of_hours.CopyFrom(p.decision)
                results[i].duplicate = p.repeat
        outcome = await tenant.execute(commands, service)
        fresh = [c[1] for j, c in enumerate(commands) if j not in outcome.duplicates]
        tenant.waits.enter(tenant, fresh, now)  # refused ones are not in the router: skipped
        tenant.suggestions.watch(
            [(c[1], c[2]) for j, c in enumerate(commands) if j not in outcome.duplicates], now
        )
        for index, e in outcome.refused.items():
            i = positions[index]
            results[i].error.CopyFrom(_command_error(refusal(e, call_fields(f"calls[{i}]"))))
        for index in outcome.duplicates:
            results[positions[index]].duplicate = True
        return routing_pb2.EnqueueCallsResponse(results=results, enqueued_at_ms=now)

    @guarded
    async def CancelCall(
        self, request: routing_pb2.CancelCallRequest, context: Context
    ) -> routing_pb2.CancelCallResponse:
        return await self._cancel(self._shared.tenant(), request)

    @guarded
    async def EndCall(
        self, request: routing_pb2.EndCallRequest, context: Context
    ) -> routing_pb2.EndCallResponse:
        return await self._end(self._shared.tenant(), request)

    @guarded
    async def TransferCall(
        self, request: routing_pb2.TransferCallRequest, context: Context
    ) -> routing_pb2.TransferCallResponse:
        return await self._transfer(self._shared.tenant(), request)

    @guarded
    async def RequestCallback(
        self, request: routing_pb2.RequestCallbackRequest, context: Context
    ) -> routing_pb2.RequestCallbackResponse:
        return await self._callback(self._shared.tenant(), request)

    # ---- the adapter stream ---------------------------------------------------------------

    async def AdapterStream(
        self, request_iterator: AsyncIterator[routing_pb2.AdapterStreamRequest], context: Context
    ) -> AsyncIterator[routing_pb2.AdapterStreamResponse]:
        try:
            tenant = self._shared.tenant()
        except Refusal as r:
            await context.abort(r.code, r.message)
        feed = AdapterFeed()
        tenant.adapters.add(feed)
        reader = asyncio.get_running_loop().create_task(self._read(tenant, feed, request_iterator))
        try:
            limit = self._shared.config.server.max_message_bytes
            async for message in numbered(feed.get, feed.get_ready, lambda: feed.packed, limit):
                yield message
            if feed.overflowed:
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "this adapter stream fell too far behind; reconnect to resynchronise",
                )
        finally:
            tenant.adapters.discard(feed)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read(
        self,
        tenant: Tenant,
        feed: AdapterFeed,
        requests: AsyncIterator[routing_pb2.AdapterStreamRequest],
    ) -> None:
        await serve_commands(
            requests, lambda request: self._one(tenant, feed, request), STREAM_WINDOW
        )
        feed.finish()  # the adapter is done: end the stream once its answers are out

    async def _one(
        self, tenant: Tenant, feed: AdapterFeed, request: routing_pb2.AdapterStreamRequest
    ) -> None:
        correlation = request.correlation_id
        if request.packed:
            feed.packed = True
        kind = request.WhichOneof("command")
        try:
            duplicate = False
            ack = routing_pb2.CommandAck(correlation_id=correlation)
            if kind == "enqueue_call":
                enqueued = await self._enqueue(tenant, request.enqueue_call)
                duplicate = enqueued.duplicate
                ack.position, ack.estimated_wait_ms = enqueued.position, enqueued.estimated_wait_ms
                if enqueued.HasField("out_of_hours"):
                    ack.out_of_hours.CopyFrom(enqueued.out_of_hours)
            elif kind == "cancel_call":
                await self._cancel(tenant, request.cancel_call)
            elif kind == "end_call":
                await self._end(tenant, request.end_call)
            elif kind == "transfer_call":
                await self._transfer(tenant, request.transfer_call)
            elif kind == "request_callback":
                duplicate = (await self._callback(tenant, request.request_callback)).duplicate
            else:
                raise invalid("command", "required")
        except Refusal as r:
            feed.put(
                routing_pb2.AdapterStreamResponse(
                    rejected=routing_pb2.CommandRejected(
                        correlation_id=correlation, error=_command_error(r)
                    )
                )
            )
            return
        ack.duplicate = duplicate
        feed.put(routing_pb2.AdapterStreamResponse(ack=ack))
