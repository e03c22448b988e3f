"""An agent desktop's ``Session``: one bidirectional stream for the agent's commands and its
events (offers with screen pop, revocations, state changes).

Each command is sent with a fresh correlation id and its coroutine returns the command's
response when the server's result for that id arrives (raising ``ServiceError`` when it was
refused), so several commands may be in flight at once. Events come out of ``events()`` as the
generated ``StreamOffersResponse`` (``WhichOneof("event")``: snapshot, offer, revoked,
state_changed); ``last_sequence`` is the last event's outbox sequence, to resume a later
session after it::

    async with client.agent_session("anna") as session:
        await session.login(); await session.set_ready()
        async for event in session.events():
            if event.WhichOneof("event") == "offer":
                await session.accept_offer(event.offer.offer.call_id)

Events are buffered without bound until read: a desktop that does not read them should open
the session with ``keep_events=False``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import grpc

from acd.client.correlated import CorrelatedStream
from acd.client.errors import ServiceError
from acd.v1 import agent_pb2, common_pb2

Request = agent_pb2.SessionRequest
Response = agent_pb2.SessionResponse
Event = agent_pb2.StreamOffersResponse

_END = Event()  # ends the events queue; identity-compared, never sent


class AgentSession(CorrelatedStream[Request, Response, agent_pb2.SessionResult]):
    """One open ``Session``; create it with ``AcdClient.agent_session()``."""

    NAME = "agent session"

    def __init__(
        self,
        call: grpc.aio.StreamStreamCall[Request, Response],
        agent_id: str,
        *,
        last_sequence: int = 0,
        keep_events: bool = True,
    ) -> None:
        self.agent_id = agent_id
        self.last_sequence = last_sequence
        self._keep_events = keep_events
        self._ids = itertools.count(1)
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        super().__init__(call)
        self._opened = asyncio.get_running_loop().create_task(self._open(last_sequence))

    # --- commands ------------------------------------------------------------------------

    async def command(self, **command: Any) -> agent_pb2.SessionResult:
        """Sends one command (``login=LoginRequest(...)``, ...) and returns its result."""
        key = str(next(self._ids))
        result = await self._send(key, Request(correlation_id=key, **command))
        if result.HasField("error"):
            raise ServiceError.from_command_error(result.error)
        return result

    async def login(self, *, endpoint: str = "") -> common_pb2.AgentStatus:
        """Logs in (not ready, reason "login")."""
        result = await self.command(login=agent_pb2.LoginRequest(endpoint=endpoint))
        return result.login.agent

    async def logout(self) -> common_pb2.AgentStatus:
        return (await self.command(logout=agent_pb2.LogoutRequest())).logout.agent

    async def set_ready(self) -> common_pb2.AgentStatus:
        request = agent_pb2.SetStateRequest(availability=agent_pb2.AVAILABILITY_READY)
        return (await self.command(set_state=request)).set_state.agent

    async def set_not_ready(self, reason_code: str) -> common_pb2.AgentStatus:
        request = agent_pb2.SetStateRequest(
            availability=agent_pb2.AVAILABILITY_NOT_READY, reason_code=reason_code
        )
        return (await self.command(set_state=request)).set_state.agent

    async def accept_offer(self, call_id: str) -> common_pb2.CallConnected:
        request = agent_pb2.AcceptOfferRequest(call_id=call_id)
        return (await self.command(accept_offer=request)).accept_offer.connected

    async def reject_offer(self, call_id: str) -> common_pb2.AgentStatus:
        request = agent_pb2.RejectOfferRequest(call_id=call_id)
        return (await self.command(reject_offer=request)).reject_offer.agent

    async def finish_wrap_up(
        self, call_id: str, *, disposition: str = "", notes: str = ""
    ) -> common_pb2.AgentStatus:
        request = agent_pb2.FinishWrapUpRequest(
            call_id=call_id, disposition_code=disposition, notes=notes
        )
        return (await self.command(finish_wrap_up=request)).finish_wrap_up.agent

    async def pick_call(self, call_id: str) -> common_pb2.Offer:
        request = agent_pb2.PickCallRequest(call_id=call_id)
        return (await self.command(pick_call=request)).pick_call.offer

    # --- events --------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """The agent's events in order, until the session ends (``ServiceError`` if it ended
        with an error; quietly when it was closed or the server ended it)."""
        while True:
            event = await self._events.get()
            if event is _END:
                self._events.put_nowait(_END)  # a second reader stops too
                if self._error is not None and self._error.code is not grpc.StatusCode.CANCELLED:
                    raise self._error
                return
            yield event

    # --- the stream ----------------------------------------------------------------------

    async def _open(self, last_sequence: int) -> None:
        request = agent_pb2.StreamOffersRequest(agent_id=self.agent_id, last_sequence=last_sequence)
        await self._write(Request(open=request, packed=True))

    async def _before_write(self) -> None:
        await self._opened

    async def close(self, timeout_s: float = 5.0) -> None:
        await asyncio.gather(self._opened, return_exceptions=True)
        await super().close(timeout_s)

    def _ended(self) -> None:
        self._events.put_nowait(_END)

    def _dispatch(self, response: Response) -> None:
        if response.HasField("result"):
            self._settle(response.result.correlation_id, response.result, None)
        elif response.HasField("event"):
            self.last_sequence = response.event.sequence
            if self._keep_events:
                self._events.put_nowait(response.event)
