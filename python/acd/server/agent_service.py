"""AgentService: the agent desktop's side (acd.v1 agent.proto).

An agent token acts only for its own agent (another agent_id: PERMISSION_DENIED) and sees only
its own calls (another call: NOT_FOUND); a supervisor may pick a call for any agent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from acd.server.commands import Refusal
from acd.server.service_base import (
    Context,
    Shared,
    guarded,
    invalid,
    known_agent,
    own_agent,
    own_call,
    require_id,
)
from acd.server.tenant import Tenant
from acd.v1 import agent_pb2, agent_pb2_grpc, common_pb2

_AGENT_FIELDS = {"reason": "reason_code"}


def agent_snapshot(tenant: Tenant, agent_id: str) -> agent_pb2.AgentSnapshot:
    return agent_pb2.AgentSnapshot(
        agent=tenant.agent_status(agent_id),
        open_offers=list(tenant.open_offers.get(agent_id, {}).values()),
    )


class AgentService(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, shared: Shared) -> None:
        self._shared = shared

    def _agent(self, agent_id: str) -> Tenant:
        own_agent(agent_id)
        tenant = self._shared.tenant()
        known_agent(tenant, agent_id)
        return tenant

    @guarded
    async def Login(
        self, request: agent_pb2.LoginRequest, context: Context
    ) -> agent_pb2.LoginResponse:
        tenant = self._agent(request.agent_id)
        if request.endpoint and (":" not in request.endpoint or " " in request.endpoint):
            raise invalid("endpoint", "expected a URI such as 'sip:anna@pbx.example'")
        await tenant.run(("login", request.agent_id, tenant.clock.now()))
        if request.endpoint:
            tenant.endpoints[request.agent_id] = request.endpoint
        return agent_pb2.LoginResponse(agent=tenant.agent_status(request.agent_id))

    @guarded
    async def Logout(
        self, request: agent_pb2.LogoutRequest, context: Context
    ) -> agent_pb2.LogoutResponse:
        tenant = self._agent(request.agent_id)
        await tenant.run(("logout", request.agent_id, tenant.clock.now()))
        return agent_pb2.LogoutResponse(agent=tenant.agent_status(request.agent_id))

    @guarded
    async def SetState(
        self, request: agent_pb2.SetStateRequest, context: Context
    ) -> agent_pb2.SetStateResponse:
        tenant = self._agent(request.agent_id)
        now = tenant.clock.now()
        if request.availability == agent_pb2.AVAILABILITY_READY:
            await tenant.run(("ready", request.agent_id, now))
        elif request.availability == agent_pb2.AVAILABILITY_NOT_READY:
            reason = require_id(request.reason_code, "reason_code")
            await tenant.run(("not_ready", request.agent_id, reason, now), _AGENT_FIELDS)
        else:
            raise invalid("availability", "must be AVAILABILITY_READY or AVAILABILITY_NOT_READY")
        return agent_pb2.SetStateResponse(agent=tenant.agent_status(request.agent_id))

    async def StreamOffers(
        self, request: agent_pb2.StreamOffersRequest, context: Context
    ) -> AsyncIterator[agent_pb2.StreamOffersResponse]:
        try:
            tenant = self._agent(request.agent_id)
        except Refusal as r:
            await context.abort(r.code, r.message)
        outbox = tenant.outboxes[request.agent_id]
        outbox.streams += 1
        try:
            cursor = request.last_sequence
            while not outbox.closed:
                if not outbox.can_resume(cursor):
                    # Taken now, shown once everything in it is committed.
                    snapshot = agent_snapshot(tenant, request.agent_id)
                    cursor = outbox.next_sequence()
                    await tenant.committed_view()
                    yield agent_pb2.StreamOffersResponse(sequence=cursor, snapshot=snapshot)
                async for message in outbox.follow(cursor):
                    cursor = message.sequence
                    yield message
        finally:
            outbox.streams -= 1
            if outbox.streams == 0:
                tenant.stream_closed(request.agent_id)

    @guarded
    async def AcceptOffer(
        self, request: agent_pb2.AcceptOfferRequest, context: Context
    ) -> agent_pb2.AcceptOfferResponse:
        tenant = self._agent(request.agent_id)
        who = own_agent(request.agent_id)
        require_id(request.call_id, "call_id")
        own_call(tenant, who, request.call_id)
        outcome = await tenant.run(
            ("accept", request.agent_id, request.call_id, tenant.clock.now())
        )
        connected = next(
            (e for e in outcome.events if e.kind == "connected" and e.call_id == request.call_id),
            None,
        )
        out = common_pb2.CallConnected(
            call_id=request.call_id,
            agent_id=request.agent_id,
            endpoint=tenant.endpoints.get(request.agent_id, ""),
        )
        if connected is not None:
            out.queue_id = connected.queue_id
            out.at_ms = connected.at_ms
        return agent_pb2.AcceptOfferResponse(connected=out)

    @guarded
    async def RejectOffer(
        self, request: agent_pb2.RejectOfferRequest, context: Context
    ) -> agent_pb2.RejectOfferResponse:
        tenant = self._agent(request.agent_id)
        who = own_agent(request.agent_id)
        require_id(request.call_id, "call_id")
        own_call(tenant, who, request.call_id)
        await tenant.run(("reject", request.agent_id, request.call_id, tenant.clock.now()))
        return agent_pb2.RejectOfferResponse(agent=tenant.agent_status(request.agent_id))

    @guarded
    async def FinishWrapUp(
        self, request: agent_pb2.FinishWrapUpRequest, context: Context
    ) -> agent_pb2.FinishWrapUpResponse:
        """The disposition and notes are checked but not yet stored: the call record (report
        store) that keeps them comes with the reports issue."""
        tenant = self._agent(request.agent_id)
        who = own_agent(request.agent_id)
        require_id(request.call_id, "call_id")
        if len(request.disposition_code) > 64:
            raise invalid("disposition_code", "at most 64 characters")
        own_call(tenant, who, request.call_id)
        now = tenant.clock.now()
        await tenant.run(("wrapup_done", request.agent_id, request.call_id, now))
        return agent_pb2.FinishWrapUpResponse(agent=tenant.agent_status(request.agent_id))

    @guarded
    async def PickCall(
        self, request: agent_pb2.PickCallRequest, context: Context
    ) -> agent_pb2.PickCallResponse:
        tenant = self._agent(request.agent_id)
        require_id(request.call_id, "call_id")
        outcome = await tenant.run(("pick", request.agent_id, request.call_id, tenant.clock.now()))
        offered = tenant.open_offers.get(request.agent_id, {}).get(request.call_id)
        if offered is None:  # answered or revoked already in the meantime
            found = [e for e in outcome.events if e.kind == "offer"]
            if not found:
                raise Refusal(grpc.StatusCode.FAILED_PRECONDITION, "the pick made no offer")
            return agent_pb2.PickCallResponse(
                offer=common_pb2.Offer(call_id=found[0].call_id, agent_id=found[0].agent_id)
            )
        return agent_pb2.PickCallResponse(offer=offered.offer)
