"""The agent's event stream (StreamOffers) and the desktop's session (Session), which is the
same stream with the agent's commands coming in on it.

``agent_events`` is the one reading of an agent's outbox: a snapshot first (or the missed
messages when resuming from a sequence still held), then every message as it is published.
An open stream of either kind counts as the agent's desktop being there (see
``Tenant.stream_closed``).

A session answers each command with a ``SessionResult`` carrying the command's correlation id,
in the order the commands finish, interleaved with the events. Commands are applied in the
order they arrive (each is applied before its first wait, like the adapter stream's), at most
``SESSION_WINDOW`` in flight. What waits for the desktop is bounded (``SESSION_BUFFER``): a
desktop that stops reading holds back its own commands, and falls out of the outbox ring into
a fresh snapshot rather than growing the service's memory. A desktop that opens the session
``packed`` gets what is ready at once in one stream message (``SessionResponse.more``): a
stream message costs the service about as much as a small command.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from acd.server import convert
from acd.server.commands import Refusal
from acd.server.packing import numbered
from acd.server.service_base import Context, invalid
from acd.server.stream_commands import serve_commands
from acd.server.tenant import Tenant
from acd.v1 import agent_pb2

if TYPE_CHECKING:
    from acd.server.agent_service import AgentService

SESSION_WINDOW = 64
SESSION_BUFFER = 1024
_END = agent_pb2.SessionResponse()  # ends the session's output; identity-compared, never sent


def agent_snapshot(tenant: Tenant, agent_id: str) -> agent_pb2.AgentSnapshot:
    return agent_pb2.AgentSnapshot(
        agent=tenant.agent_status(agent_id),
        open_offers=list(tenant.open_offers.get(agent_id, {}).values()),
    )


async def agent_events(
    tenant: Tenant, agent_id: str, last_sequence: int
) -> AsyncIterator[agent_pb2.StreamOffersResponse]:
    """The agent's outbox from ``last_sequence`` on, until the service closes it."""
    outbox = tenant.outboxes[agent_id]
    outbox.streams += 1
    try:
        cursor = last_sequence
        while not outbox.closed:
            if not outbox.can_resume(cursor):
                # Taken now, shown once everything in it is committed.
                snapshot = agent_snapshot(tenant, agent_id)
                cursor = outbox.next_sequence()
                await tenant.committed_view()
                yield agent_pb2.StreamOffersResponse(sequence=cursor, snapshot=snapshot)
            async for message in outbox.follow(cursor):
                cursor = message.sequence
                yield message
    finally:
        outbox.streams -= 1
        if outbox.streams == 0:
            tenant.stream_closed(agent_id)


async def run_session(
    service: AgentService,
    requests: AsyncIterator[agent_pb2.SessionRequest],
    context: Context,
) -> AsyncIterator[agent_pb2.SessionResponse]:
    """The body of ``AgentService.Session``."""
    first = await anext(aiter(requests), None)
    try:
        if first is None or first.WhichOneof("command") != "open":
            raise invalid("open", "the first message of a session must be open")
        agent_id = first.open.agent_id
        tenant = service.agent_tenant(agent_id)
    except Refusal as r:
        await context.abort(r.code, r.message)
    out: asyncio.Queue[agent_pb2.SessionResponse] = asyncio.Queue(SESSION_BUFFER)
    loop = asyncio.get_running_loop()
    pump = loop.create_task(_pump(tenant, agent_id, first.open.last_sequence, out))
    reader = loop.create_task(_read(service, agent_id, requests, out))
    ended = False  # _END taken: the session's output is over

    async def get() -> agent_pb2.SessionResponse | None:
        message = None if ended else await out.get()
        return None if message is _END else message

    def ready() -> agent_pb2.SessionResponse | None:
        nonlocal ended
        if ended or out.empty():
            return None
        message = out.get_nowait()
        ended = message is _END
        return None if ended else message

    try:
        async for message in numbered(get, ready, lambda: first.packed, service.send_limit):
            yield message
    finally:
        for task in (pump, reader):
            task.cancel()
        await asyncio.gather(pump, reader, return_exceptions=True)


async def _pump(
    tenant: Tenant,
    agent_id: str,
    last_sequence: int,
    out: asyncio.Queue[agent_pb2.SessionResponse],
) -> None:
    async for event in agent_events(tenant, agent_id, last_sequence):
        await out.put(agent_pb2.SessionResponse(event=event))
    await out.put(_END)  # the service is shutting down


async def _read(
    service: AgentService,
    agent_id: str,
    requests: AsyncIterator[agent_pb2.SessionRequest],
    out: asyncio.Queue[agent_pb2.SessionResponse],
) -> None:
    await serve_commands(
        requests, lambda request: _one(service, agent_id, request, out), SESSION_WINDOW
    )
    await out.put(_END)  # the desktop is done: end the session after its last result


def _handlers(service: AgentService) -> dict[str, Callable[[Any], Awaitable[Any]]]:
    return {
        "login": service.login,
        "logout": service.logout,
        "set_state": service.set_state,
        "accept_offer": service.accept_offer,
        "reject_offer": service.reject_offer,
        "finish_wrap_up": service.finish_wrap_up,
        "pick_call": service.pick_call,
    }


async def _one(
    service: AgentService,
    agent_id: str,
    request: agent_pb2.SessionRequest,
    out: asyncio.Queue[agent_pb2.SessionResponse],
) -> None:
    result = agent_pb2.SessionResult(correlation_id=request.correlation_id)
    kind = request.WhichOneof("command")
    try:
        if kind is None:
            raise invalid("command", "required")
        if kind == "open":
            raise invalid("open", "a session is opened once, by its first message")
        command = getattr(request, kind)
        if not command.agent_id:
            command.agent_id = agent_id
        elif command.agent_id != agent_id:
            raise invalid(f"{kind}.agent_id", f"this session is agent {agent_id!r}'s")
        try:
            response = await _handlers(service)[kind](command)
        except Refusal as r:  # name the field inside the command
            field = f"{kind}.{r.field}" if r.field else kind
            raise Refusal(r.code, r.message, field) from None
        getattr(result, kind).CopyFrom(response)
    except Refusal as r:
        result.error.CopyFrom(convert.command_error(r.code, r.message, r.field))
    await out.put(agent_pb2.SessionResponse(result=result))
