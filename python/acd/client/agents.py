"""AgentService methods (role agent, for its own agent; supervisor for PickCall).

Most return the agent's ``AgentStatus`` afterwards (the generated message: ``state`` is an
``AgentState`` value, ``reason``, ``call_ids``, ``pending_not_ready``, ...).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import grpc

from acd.client.agent_session import AgentSession
from acd.client.connection import Connection
from acd.client.streams import ResumableStream
from acd.v1 import agent_pb2, common_pb2

AvailabilityArg: TypeAlias = Literal["ready", "not-ready"] | agent_pb2.Availability.ValueType

_AVAILABILITY: dict[str, agent_pb2.Availability.ValueType] = {
    "ready": agent_pb2.AVAILABILITY_READY,
    "not-ready": agent_pb2.AVAILABILITY_NOT_READY,
}


class AgentMethods(Connection):
    async def login(self, agent_id: str, *, endpoint: str = "") -> common_pb2.AgentStatus:
        """Logs in (not ready, reason "login"); ``endpoint`` overrides the configured one."""
        request = agent_pb2.LoginRequest(agent_id=agent_id, endpoint=endpoint)
        return (await self._unary(self._agents.Login, request)).agent

    async def logout(self, agent_id: str) -> common_pb2.AgentStatus:
        """Logs out now, or with ``pending_logout`` once a connected call ends."""
        request = agent_pb2.LogoutRequest(agent_id=agent_id)
        return (await self._unary(self._agents.Logout, request)).agent

    async def set_state(
        self, agent_id: str, availability: AvailabilityArg, reason_code: str = ""
    ) -> common_pb2.AgentStatus:
        """Ready, or not ready with a reason code (required then)."""
        if isinstance(availability, str):
            availability = _AVAILABILITY[availability]
        request = agent_pb2.SetStateRequest(
            agent_id=agent_id, availability=availability, reason_code=reason_code
        )
        return (await self._unary(self._agents.SetState, request)).agent

    async def set_ready(self, agent_id: str) -> common_pb2.AgentStatus:
        return await self.set_state(agent_id, "ready")

    async def set_not_ready(self, agent_id: str, reason_code: str) -> common_pb2.AgentStatus:
        return await self.set_state(agent_id, "not-ready", reason_code)

    def stream_offers(
        self, agent_id: str, *, last_sequence: int = 0, reconnect: bool = False
    ) -> ResumableStream[agent_pb2.StreamOffersResponse]:
        """The agent's stream: snapshot, offers with screen pop, revocations, state changes.

        Pass the ``last_sequence`` of an earlier stream to resume after it; ``reconnect``
        reopens the stream by itself after UNAVAILABLE. Tell the messages apart with
        ``WhichOneof("event")`` (snapshot, offer, revoked, state_changed).
        """

        def open_stream(
            after: int,
        ) -> grpc.aio.UnaryStreamCall[
            agent_pb2.StreamOffersRequest, agent_pb2.StreamOffersResponse
        ]:
            request = agent_pb2.StreamOffersRequest(agent_id=agent_id, last_sequence=after)
            return self._agents.StreamOffers(request, metadata=self.metadata)

        return ResumableStream(open_stream, last_sequence=last_sequence, reconnect=reconnect)

    def agent_session(
        self, agent_id: str, *, last_sequence: int = 0, keep_events: bool = True
    ) -> AgentSession:
        """Opens the agent's bidirectional ``Session`` (call from a coroutine; close it after):
        its commands and its events on one stream; ``last_sequence`` resumes after an event
        of an earlier session or stream."""
        call = self._agents.Session(metadata=self.metadata)
        return AgentSession(call, agent_id, last_sequence=last_sequence, keep_events=keep_events)

    async def accept_offer(self, agent_id: str, call_id: str) -> common_pb2.CallConnected:
        """Accepts an offer; the call is connected to the agent."""
        request = agent_pb2.AcceptOfferRequest(agent_id=agent_id, call_id=call_id)
        return (await self._unary(self._agents.AcceptOffer, request)).connected

    async def reject_offer(self, agent_id: str, call_id: str) -> common_pb2.AgentStatus:
        """Rejects an offer: the call goes back to its place; the no-answer policy applies."""
        request = agent_pb2.RejectOfferRequest(agent_id=agent_id, call_id=call_id)
        return (await self._unary(self._agents.RejectOffer, request)).agent

    async def finish_wrap_up(
        self, agent_id: str, call_id: str, *, disposition: str = "", notes: str = ""
    ) -> common_pb2.AgentStatus:
        """Ends after-call work with the call's disposition code."""
        request = agent_pb2.FinishWrapUpRequest(
            agent_id=agent_id, call_id=call_id, disposition_code=disposition, notes=notes
        )
        return (await self._unary(self._agents.FinishWrapUp, request)).agent

    async def pick_call(self, agent_id: str, call_id: str) -> common_pb2.Offer:
        """Takes a waiting call out of the line; the returned offer must still be accepted."""
        request = agent_pb2.PickCallRequest(agent_id=agent_id, call_id=call_id)
        return (await self._unary(self._agents.PickCall, request)).offer
