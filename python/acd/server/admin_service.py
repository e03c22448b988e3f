"""AdminService, PlatformService and CrmService: configuration views, seats, screen pops.

The configuration is the one acd.toml gave at start (``config_version`` 1). Changing it through
the API (the Upsert* methods, ReloadConfig, CreateTenant, DeleteTenant) needs a stored,
versioned configuration and a router that can take a new one while it runs; those come with
the administration issue and answer UNIMPLEMENTED until then.
"""

from __future__ import annotations

import grpc

from acd.server import convert
from acd.server.auth import Role, seat_report
from acd.server.commands import Refusal
from acd.server.config import QueueConfig, TenantConfig
from acd.server.config_hours import WEEKDAYS
from acd.server.interceptors import identity
from acd.server.service_base import Context, Shared, guarded, invalid, own_call
from acd.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    crm_pb2,
    crm_pb2_grpc,
    platform_pb2,
    platform_pb2_grpc,
)

CONFIG_VERSION = 1
_LATER = "comes with the administration issue (a stored, versioned configuration)"
_ROLES = {
    Role.ADAPTER: admin_pb2.ROLE_ADAPTER,
    Role.AGENT: admin_pb2.ROLE_AGENT,
    Role.SUPERVISOR: admin_pb2.ROLE_SUPERVISOR,
    Role.CRM: admin_pb2.ROLE_CRM,
    Role.ADMIN: admin_pb2.ROLE_ADMIN,
    Role.PLATFORM_ADMIN: admin_pb2.ROLE_PLATFORM_ADMIN,
}
_WEEKDAYS = (
    admin_pb2.WEEKDAY_MONDAY,
    admin_pb2.WEEKDAY_TUESDAY,
    admin_pb2.WEEKDAY_WEDNESDAY,
    admin_pb2.WEEKDAY_THURSDAY,
    admin_pb2.WEEKDAY_FRIDAY,
    admin_pb2.WEEKDAY_SATURDAY,
    admin_pb2.WEEKDAY_SUNDAY,
)
_STRATEGIES = {
    name: admin_pb2.RoutingStrategy.Value("ROUTING_STRATEGY_" + name.upper().replace("-", "_"))
    for name in (
        "longest-idle",
        "round-robin",
        "fewest-calls",
        "least-talk-time",
        "linear",
        "random",
        "best-skill",
        "ring-all",
    )
}


def _unimplemented(what: str) -> Refusal:
    return Refusal(grpc.StatusCode.UNIMPLEMENTED, f"{what} {_LATER}")


def _queue(q: QueueConfig) -> admin_pb2.Queue:
    out = admin_pb2.Queue(
        queue_id=q.id,
        display_name=q.name,
        skills=dict(q.skills),
        strategy=_STRATEGIES[q.strategy],
        ring_all_max=q.ring_all_max,
        sl_threshold_ms=q.sl_threshold_ms,
        short_abandon_ms=q.short_abandon_ms,
        offer_timeout_ms=q.offer_timeout_ms,
        wrapup_ms=q.wrapup_ms,
        wrapup_until_done=q.wrapup_until_done,
        no_answer=admin_pb2.NoAnswerPolicy(
            reject_delay_ms=q.no_answer.reject_delay_ms,
            timeout_delay_ms=q.no_answer.timeout_delay_ms,
            max_misses=q.no_answer.max_misses,
        ),
        max_tier=q.max_tier,
        prefer_lower_tier=q.prefer_lower_tier,
        ttl_ms=q.ttl_ms,
        aging_ms=q.aging_ms,
        hours_id=q.hours or "",
    )
    for step in q.escalation:
        s = out.escalation.add(after_ms=step.after_ms)
        if step.lower_levels_by is not None:
            s.lower_levels_by = step.lower_levels_by
        if step.max_tier is not None:
            s.max_tier = step.max_tier
    if q.overflow is not None:
        out.overflow.after_ms = q.overflow.after_ms
        if q.overflow.queue:
            out.overflow.queue_id = q.overflow.queue
        if q.overflow.destination:
            out.overflow.destination = q.overflow.destination
    return out


def _hours(tenant: TenantConfig) -> list[admin_pb2.Hours]:
    out = []
    for h in tenant.hours:
        windows = [
            admin_pb2.OpeningWindow(weekday=_WEEKDAYS[day], open_minute=a, close_minute=b)
            for day, name in enumerate(WEEKDAYS)
            for a, b in h.week.get(name, ())
        ]
        out.append(
            admin_pb2.Hours(hours_id=h.id, display_name=h.id, time_zone=h.timezone, windows=windows)
        )
    return out


class AdminService(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self, shared: Shared) -> None:
        self._shared = shared

    def _config(self) -> TenantConfig:
        return self._shared.tenant().config

    @guarded
    async def ListQueues(
        self, request: admin_pb2.ListQueuesRequest, context: Context
    ) -> admin_pb2.ListQueuesResponse:
        queues = [_queue(q) for q in self._config().queues]
        return admin_pb2.ListQueuesResponse(queues=queues, config_version=CONFIG_VERSION)

    @guarded
    async def ListSkills(
        self, request: admin_pb2.ListSkillsRequest, context: Context
    ) -> admin_pb2.ListSkillsResponse:
        skills = [
            admin_pb2.Skill(skill_id=s, display_name=s) for s in sorted(self._config().skills)
        ]
        return admin_pb2.ListSkillsResponse(skills=skills, config_version=CONFIG_VERSION)

    @guarded
    async def ListAgents(
        self, request: admin_pb2.AdminServiceListAgentsRequest, context: Context
    ) -> admin_pb2.AdminServiceListAgentsResponse:
        agents = []
        for a in self._config().agents:
            agent = admin_pb2.Agent(
                agent_id=a.id,
                display_name=a.name,
                skills=dict(a.skills),
                group_id=a.group or "",
                tier=a.tier,
                endpoint=a.endpoint or "",
            )
            for channel, n in a.capacity.items():
                agent.capacity.add(channel=convert.CHANNEL_ENUM[channel], max_items=n)
            agents.append(agent)
        return admin_pb2.AdminServiceListAgentsResponse(
            agents=agents, config_version=CONFIG_VERSION
        )

    @guarded
    async def ListGroups(
        self, request: admin_pb2.ListGroupsRequest, context: Context
    ) -> admin_pb2.ListGroupsResponse:
        groups = [
            admin_pb2.Group(group_id=g.id, display_name=g.name, tier=g.tier)
            for g in sorted(self._config().groups, key=lambda g: g.id)
        ]
        return admin_pb2.ListGroupsResponse(groups=groups, config_version=CONFIG_VERSION)

    @guarded
    async def ListHours(
        self, request: admin_pb2.ListHoursRequest, context: Context
    ) -> admin_pb2.ListHoursResponse:
        hours = sorted(_hours(self._config()), key=lambda h: h.hours_id)
        return admin_pb2.ListHoursResponse(hours=hours, config_version=CONFIG_VERSION)

    @guarded
    async def SeatReport(
        self, request: admin_pb2.SeatReportRequest, context: Context
    ) -> admin_pb2.SeatReportResponse:
        who = identity()
        out = []
        for seats in seat_report(self._shared.config):
            if seats.tenant is None or (
                who.role is not Role.PLATFORM_ADMIN and seats.tenant != who.tenant
            ):
                continue
            out.append(
                admin_pb2.TenantSeats(
                    tenant_id=seats.tenant,
                    seats=[
                        admin_pb2.RoleSeats(role=_ROLES[role], accounts=n)
                        for role, n in seats.accounts.items()
                    ],
                )
            )
        return admin_pb2.SeatReportResponse(tenants=out, at_ms=self._shared.clock.now())

    @guarded
    async def UpsertQueue(
        self, request: admin_pb2.UpsertQueueRequest, context: Context
    ) -> admin_pb2.UpsertQueueResponse:
        raise _unimplemented("UpsertQueue")

    @guarded
    async def UpsertSkill(
        self, request: admin_pb2.UpsertSkillRequest, context: Context
    ) -> admin_pb2.UpsertSkillResponse:
        raise _unimplemented("UpsertSkill")

    @guarded
    async def UpsertAgent(
        self, request: admin_pb2.UpsertAgentRequest, context: Context
    ) -> admin_pb2.UpsertAgentResponse:
        raise _unimplemented("UpsertAgent")

    @guarded
    async def UpsertGroup(
        self, request: admin_pb2.UpsertGroupRequest, context: Context
    ) -> admin_pb2.UpsertGroupResponse:
        raise _unimplemented("UpsertGroup")

    @guarded
    async def UpsertHours(
        self, request: admin_pb2.UpsertHoursRequest, context: Context
    ) -> admin_pb2.UpsertHoursResponse:
        raise _unimplemented("UpsertHours")

    @guarded
    async def ReloadConfig(
        self, request: admin_pb2.ReloadConfigRequest, context: Context
    ) -> admin_pb2.ReloadConfigResponse:
        raise _unimplemented("ReloadConfig")


class PlatformService(platform_pb2_grpc.PlatformServiceServicer):
    def __init__(self, shared: Shared) -> None:
        self._shared = shared

    @guarded
    async def ListTenants(
        self, request: platform_pb2.ListTenantsRequest, context: Context
    ) -> platform_pb2.ListTenantsResponse:
        tenants = [
            platform_pb2.Tenant(tenant_id=t.id, display_name=t.name)
            for t in sorted(self._shared.config.tenants.values(), key=lambda t: t.id)
        ]
        return platform_pb2.ListTenantsResponse(tenants=tenants)

    @guarded
    async def CreateTenant(
        self, request: platform_pb2.CreateTenantRequest, context: Context
    ) -> platform_pb2.CreateTenantResponse:
        raise _unimplemented("CreateTenant")

    @guarded
    async def DeleteTenant(
        self, request: platform_pb2.DeleteTenantRequest, context: Context
    ) -> platform_pb2.DeleteTenantResponse:
        raise _unimplemented("DeleteTenant")


class CrmService(crm_pb2_grpc.CrmServiceServicer):
    def __init__(self, shared: Shared) -> None:
        self._shared = shared

    @guarded
    async def GetScreenPop(
        self, request: crm_pb2.GetScreenPopRequest, context: Context
    ) -> crm_pb2.GetScreenPopResponse:
        """The live part of the pop: caller, dialled number, attributes of the call. The
        caller's history (calls today / in 30 days, first-time caller, last agent and
        disposition, campaigns, open callbacks, knowledge links) needs the call-record store
        of the features issue and is empty until then; a lookup by caller number alone gives
        only the number back for the same reason."""
        tenant = self._shared.tenant()
        who = identity()
        kind = request.WhichOneof("lookup")
        if kind == "caller_number":
            if who.role is Role.AGENT:
                raise Refusal(
                    grpc.StatusCode.PERMISSION_DENIED,
                    "caller_number: an agent looks up its own calls by call_id",
                    "caller_number",
                )
            pop = convert.screen_pop("", {"caller": request.caller_number})
            return crm_pb2.GetScreenPopResponse(screen_pop=pop)
        if kind != "call_id" or not request.call_id:
            raise invalid("lookup", "call_id or caller_number is required")
        own_call(tenant, who, request.call_id)
        await tenant.committed_view()
        info = tenant.router.call_info(request.call_id)
        if info is None:
            raise Refusal(
                grpc.StatusCode.NOT_FOUND,
                f"call_id {request.call_id!r}: unknown call",
                "call_id",
            )
        pop = convert.screen_pop(request.call_id, info)
        return crm_pb2.GetScreenPopResponse(screen_pop=pop)
