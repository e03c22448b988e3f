"""AgentService: the agent desktop's side (acd.v1 agent.proto).

An agent token acts only for its own agent (another agent_id: PERMISSION_DENIED) and sees only
its own calls (another call: NOT_FOUND); a supervisor may pick a call for any agent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from acd.server import break_guard
from acd.server.agent_session import agent_events, run_session
from acd.server.auth import Role
from acd.server.commands import Refusal
from acd.server.dispositions import finish_wrap_up
from acd.server.interceptors import identity
from acd.server.service_base import (
    Context,
    Shared,
    guarded,
    invalid,
    known_agent,
    own_agent,
    own_call,
    require_id,
    valid_id,
)
from acd.server.tenant import Tenant
from acd.v1 import agent_pb2, agent_pb2_grpc, common_pb2

_AGENT_FIELDS = {"reason": "reason_code"}


class AgentService(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, shared: Shared) -> None:
        self._shared = shared
        self.send_limit = shared.config.server.max_message_bytes  # packed Session messages

    def agent_tenant(self, agent_id: str) -> Tenant:
        """The caller's tenant, once ``agent_id`` is known there and the caller may act for it."""
        own_agent(agent_id)
        tenant = self._shared.tenant()
        known_agent(tenant, agent_id)
        return tenant

    @guarded
    async def Login(
        self, request: agent_pb2.LoginRequest, context: Context
    ) -> agent_pb2.LoginResponse:
        return await self.login(request)

    async def login(self, request: agent_pb2.LoginRequest) -> agent_pb2.LoginResponse:
        tenant = self.agent_tenant(request.agent_id)
        endpoint = request.endpoint
        if endpoint and (":" not in endpoint or " " in endpoint or not valid_id(endpoint)):
            raise invalid("endpoint", "expected a URI such as 'sip:anna@pbx.example'")
        await tenant.run(("login", request.agent_id, tenant.clock.now()))
        if request.endpoint:
            tenant.endpoints[request.agent_id] = request.endpoint
        return agent_pb2.LoginResponse(agent=tenant.agent_status(request.agent_id))

    @guarded
    async def Logout(
        self, request: agent_pb2.LogoutRequest, context: Context
    ) -> agent_pb2.LogoutResponse:
        return await self.logout(request)

    async def logout(self, request: agent_pb2.LogoutRequest) -> agent_pb2.LogoutResponse:
        tenant = self.agent_tenant(request.agent_id)
        await tenant.run(("logout", request.agent_id, tenant.clock.now()))
        return agent_pb2.LogoutResponse(agent=tenant.agent_status(request.agent_id))

    @guarded
    async def SetState(
        self, request: agent_pb2.SetStateRequest, context: Context
    ) -> agent_pb2.SetStateResponse:
        return await self.set_state(request)

    async def set_state(self, request: agent_pb2.SetStateRequest) -> agent_pb2.SetStateResponse:
        tenant = self.agent_tenant(request.agent_id)
        now = tenant.clock.now()
        if request.availability == agent_pb2.AVAILABILITY_READY:
            await tenant.run(("ready", request.agent_id, now))
            await break_guard.cancel_break(tenant, request.agent_id, now)
        elif request.availability == agent_pb2.AVAILABILITY_NOT_READY:
            reason = require_id(request.reason_code, "reason_code")
            if not await break_guard.request_break(tenant, request.agent_id, reason, now):
                await tenant.run(("not_ready", request.agent_id, reason, now), _AGENT_FIELDS)
        else:
            raise invalid("availability", "must be AVAILABILITY_READY or AVAILABILITY_NOT_READY")
        return agent_pb2.SetStateResponse(agent=tenant.agent_status(request.agent_id))

    async def StreamOffers(
        self, request: agent_pb2.StreamOffersRequest, context: Context
    ) -> AsyncIterator[agent_pb2.StreamOffersResponse]:
        try:
            tenant = self.agent_tenant(request.agent_id)
        except Refusal as r:
            await context.abort(r.code, r.message)
        async for message in agent_events(tenant, request.agent_id, request.last_sequence):
            yield message

    def Session(
        self, request_iterator: AsyncIterator[agent_pb2.SessionRequest], context: Context
    ) -> AsyncIterator[agent_pb2.SessionResponse]:
        return run_session(self, request_iterator, context)

    @guarded
    async def AcceptOffer(
        self, request: agent_pb2.AcceptOfferRequest, context: Context
    ) -> agent_pb2.AcceptOfferResponse:
        return await self.accept_offer(request)

    async def accept_offer(
        self, request: agent_pb2.AcceptOfferRequest
    ) -> agent_pb2.AcceptOfferResponse:
        tenant = self.agent_tenant(request.agent_id)
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
        return await self.reject_offer(request)

    async def reject_offer(
        self, request: agent_pb2.RejectOfferRequest
    ) -> agent_pb2.RejectOfferResponse:
        tenant = self.agent_tenant(request.agent_id)
        who = own_agent(request.agent_id)
        require_id(request.call_id, "call_id")
        own_call(tenant, who, request.call_id)
        await tenant.run(("reject", request.agent_id, request.call_id, tenant.clock.now()))
        return agent_pb2.RejectOfferResponse(agent=tenant.agent_status(request.agent_id))

    @guarded
    async def FinishWrapUp(
        self, request: agent_pb2.FinishWrapUpRequest, context: Context
    ) -> agent_pb2.FinishWrapUpResponse:
        return await self.finish_wrap_up(request)

    async def finish_wrap_up(
        self, request: agent_pb2.FinishWrapUpRequest
    ) -> agent_pb2.FinishWrapUpResponse:
        """The disposition is checked against the queue's catalogue, then stored with the notes
        on the contact's history row (acd.server.dispositions)."""
        tenant = self.agent_tenant(request.agent_id)
        who = own_agent(request.agent_id)
        require_id(request.call_id, "call_id")
        own_call(tenant, who, request.call_id)
        code, notes = request.disposition_code, request.notes
        await finish_wrap_up(tenant, request.agent_id, request.call_id, code, notes)
        return agent_pb2.FinishWrapUpResponse(agent=tenant.agent_status(request.agent_id))

    @guarded
    async def PickCall(
        self, request: agent_pb2.PickCallRequest, context: Context
    ) -> agent_pb2.PickCallResponse:
        return await self.pick_call(request)

    async def pick_call(self, request: agent_pb2.PickCallRequest) -> agent_pb2.PickCallResponse:
        tenant = self.agent_tenant(request.agent_id)
        require_id(request.call_id, "call_id")
        # A supervisor may pick for any agent; an agent for themselves only where allowed.
        if identity().role is Role.AGENT and not _may_pick(tenant, request.agent_id):
            raise Refusal(
                grpc.StatusCode.PERMISSION_DENIED,
                f"agent_id: agent {request.agent_id!r} may not pick calls (can_pick)",
                "agent_id",
            )
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


def _may_pick(tenant: Tenant, agent_id: str) -> bool:
    return any(a.can_pick for a in tenant.config.agents if a.id == agent_id)
