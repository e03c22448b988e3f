"""The agent's event stream (StreamOffers) and the desktop's session (Session), which is the
same stream with the agent's commands coming in on it.

A stream reads the agent's outbox as ``agent_events`` does for StreamOffers: a snapshot first
(or the missed messages when resuming from a sequence still held), then every message as it
is published. A session does the same in ``SessionOutput``, in the task that writes it. An
open stream of either kind counts as the agent's desktop being there (see
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
from collections import deque
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


async def snapshot_event(tenant: Tenant, agent_id: str) -> agent_pb2.StreamOffersResponse:
    """The agent's state as a message of its outbox: taken now, under a sequence number of its
    own, and shown once everything in it is committed."""
    snapshot = agent_snapshot(tenant, agent_id)
    sequence = tenant.outboxes[agent_id].next_sequence()
    await tenant.committed_view()
    return agent_pb2.StreamOffersResponse(sequence=sequence, snapshot=snapshot)


def stream_ended(tenant: Tenant, agent_id: str) -> None:
    """One stream of the agent (either kind) is gone; with the last one, its desktop is."""
    outbox = tenant.outboxes[agent_id]
    outbox.streams -= 1
    if outbox.streams == 0:
        tenant.stream_closed(agent_id)


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
                snapshot = await snapshot_event(tenant, agent_id)
                cursor = snapshot.sequence
                yield snapshot
            async for message in outbox.follow(cursor):
                cursor = message.sequence
                yield message
    finally:
        stream_ended(tenant, agent_id)


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
    output = SessionOutput(tenant, agent_id, first.open.last_sequence)
    reader = asyncio.get_running_loop().create_task(_read(service, agent_id, requests, output))
    try:
        limit = service.send_limit
        async for message in numbered(output.get, output.ready, lambda: first.packed, limit):
            yield message
    finally:
        output.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


class SessionOutput:
    """What a session writes: the results of the desktop's commands, in the order they finish,
    and the agent's outbox from the session's cursor on (a snapshot first where the cursor is
    not in the ring: a new session, or one whose desktop fell behind by more than the ring).
    Results go first when both wait. The outbox is read here, in the writing task, woken by
    the outbox itself: no task in between to hand its messages on (an offer reached the
    stream a turn of the event loop later with one)."""

    def __init__(self, tenant: Tenant, agent_id: str, last_sequence: int) -> None:
        self._tenant, self._agent_id = tenant, agent_id
        self._outbox = tenant.outboxes[agent_id]
        self._results: asyncio.Queue[agent_pb2.SessionResponse] = asyncio.Queue(SESSION_BUFFER)
        self._cursor = last_sequence
        self._fresh: deque[agent_pb2.StreamOffersResponse] = deque()  # read, not yet taken
        self._started = False
        self._ended = False
        self._wake = asyncio.Event()
        self._outbox.streams += 1
        self._outbox.listeners.add(self._wake.set)

    def close(self) -> None:
        self._outbox.listeners.discard(self._wake.set)
        stream_ended(self._tenant, self._agent_id)

    async def put_result(self, message: agent_pb2.SessionResponse) -> None:
        """A command's result (or ``_END``: the desktop is done), waiting while the desktop
        is ``SESSION_BUFFER`` results behind."""
        await self._results.put(message)
        self._wake.set()

    def ready(self) -> agent_pb2.SessionResponse | None:
        """The next message if one is at hand (None: none, or only a snapshot, or the end)."""
        if self._ended:
            return None
        if not self._results.empty():
            message = self._results.get_nowait()
            if message is _END:
                self._ended = True
                return None
            return message
        if not self._fresh and self._started and self._outbox.can_resume(self._cursor):
            self._fresh.extend(self._outbox.after(self._cursor))
        if not self._fresh:
            return None
        event = self._fresh.popleft()
        self._cursor = event.sequence
        return agent_pb2.SessionResponse(event=event)

    async def get(self) -> agent_pb2.SessionResponse | None:
        """The next message, once there is one; None at the end of the session (the desktop
        is done, or the service is shutting down)."""
        while True:
            message = self.ready()
            if message is not None or self._ended or self._outbox.closed:
                return message
            outbox = self._outbox
            resumable = outbox.can_resume(self._cursor)
            if not self._started or (not resumable and self._cursor != outbox.last_sequence):
                self._started = True
                if resumable:
                    continue  # a session resumed from its last event: what it missed first
                self._fresh.clear()
                event = await snapshot_event(self._tenant, self._agent_id)
                self._cursor = event.sequence
                return agent_pb2.SessionResponse(event=event)
            self._wake.clear()  # in the turn ``ready`` found nothing: no push came between
            await self._wake.wait()


async def _read(
    service: AgentService,
    agent_id: str,
    requests: AsyncIterator[agent_pb2.SessionRequest],
    output: SessionOutput,
) -> None:
    await serve_commands(
        requests, lambda request: _one(service, agent_id, request, output), SESSION_WINDOW
    )
    await output.put_result(_END)  # the desktop is done: end the session after its last result


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
    service: AgentService, agent_id: str, request: agent_pb2.SessionRequest, output: SessionOutput
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
    await output.put_result(agent_pb2.SessionResponse(result=result))
