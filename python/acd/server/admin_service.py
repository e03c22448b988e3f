"""AdminService and CrmService: a tenant's configuration and tokens, seats, screen pops.

Every AdminService call acts in the caller's own tenant. The Upsert methods put one object into
the tenant's configuration (replacing the one with its id), validate the whole configuration as
acd.toml is validated (``admin_convert``) and put it live through the journaled command path
(``tenant_admin``): the response gives the new ``config_version``, which the List methods show
too. ReloadConfig is ``config_reload``; tokens are issued and revoked through the registry
(``tenant_registry``), which keeps only their hashes.
"""

from __future__ import annotations

import grpc

from acd.server import admin_convert as ac
from acd.server import config_reload
from acd.server.auth import Identity, Role, seat_report
from acd.server.commands import Refusal
from acd.server.config import ConfigError, TenantConfig
from acd.server.config_fields import join
from acd.server.config_raw import tenant_raw
from acd.server.config_tenant import parse_tenant
from acd.server.interceptors import identity
from acd.server.service_base import (
    Context,
    Shared,
    guarded,
    invalid,
    known_agent,
    own_call,
    require_id,
)
from acd.server.tenant_registry import TenantRegistry
from acd.v1 import admin_pb2, admin_pb2_grpc, crm_pb2, crm_pb2_grpc

_ROLES = {
    Role.ADAPTER: admin_pb2.ROLE_ADAPTER,
    Role.AGENT: admin_pb2.ROLE_AGENT,
    Role.SUPERVISOR: admin_pb2.ROLE_SUPERVISOR,
    Role.CRM: admin_pb2.ROLE_CRM,
    Role.ADMIN: admin_pb2.ROLE_ADMIN,
    Role.PLATFORM_ADMIN: admin_pb2.ROLE_PLATFORM_ADMIN,
}
# The roles a tenant admin may issue tokens for.
_ISSUABLE = {v: k for k, v in _ROLES.items() if k is not Role.PLATFORM_ADMIN}

MAX_AUDIT_RECORDS = 10_000  # per ListAuditRecords call


class AdminService(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self, shared: Shared, registry: TenantRegistry) -> None:
        self._shared = shared
        self._registry = registry

    def _current(self) -> tuple[TenantConfig, int]:
        tenant = self._shared.tenant()
        return tenant.config, self._registry.get(tenant.id).version

    async def _upsert(self, upsert: ac.Upsert, obj_id: str) -> tuple[TenantConfig, bool, int]:
        """Puts ``upsert`` into the caller's tenant; gives the new configuration, whether the
        object is new, and the new version."""
        tenant = self._shared.tenant()
        created = False

        def build(current: TenantConfig) -> TenantConfig:
            nonlocal created
            table = tenant_raw(current)
            where, created = upsert.place(table, obj_id)
            try:
                return parse_tenant(table, current.id)
            except ConfigError as e:
                raise upsert.refusal(e, join("tenants", current.id), where) from None

        config, version = await self._registry.change(tenant.id, build, upsert.kind)
        return config, created, version

    @guarded
    async def ListQueues(
        self, request: admin_pb2.ListQueuesRequest, context: Context
    ) -> admin_pb2.ListQueuesResponse:
        config, version = self._current()
        queues = [ac.queue_message(q) for q in config.queues]
        return admin_pb2.ListQueuesResponse(queues=queues, config_version=version)

    @guarded
    async def ListSkills(
        self, request: admin_pb2.ListSkillsRequest, context: Context
    ) -> admin_pb2.ListSkillsResponse:
        config, version = self._current()
        skills = [ac.skill_message(s) for s in sorted(ac.skills_of(config), key=lambda s: s.id)]
        return admin_pb2.ListSkillsResponse(skills=skills, config_version=version)

    @guarded
    async def ListAgents(
        self, request: admin_pb2.AdminServiceListAgentsRequest, context: Context
    ) -> admin_pb2.AdminServiceListAgentsResponse:
        config, version = self._current()
        agents = [ac.agent_message(a) for a in config.agents]
        return admin_pb2.AdminServiceListAgentsResponse(agents=agents, config_version=version)

    @guarded
    async def ListGroups(
        self, request: admin_pb2.ListGroupsRequest, context: Context
    ) -> admin_pb2.ListGroupsResponse:
        config, version = self._current()
        groups = [ac.group_message(g) for g in sorted(config.groups, key=lambda g: g.id)]
        return admin_pb2.ListGroupsResponse(groups=groups, config_version=version)

    @guarded
    async def ListHours(
        self, request: admin_pb2.ListHoursRequest, context: Context
    ) -> admin_pb2.ListHoursResponse:
        config, version = self._current()
        hours = [ac.hours_message(h) for h in sorted(config.hours, key=lambda h: h.id)]
        return admin_pb2.ListHoursResponse(hours=hours, config_version=version)

    @guarded
    async def SeatReport(
        self, request: admin_pb2.SeatReportRequest, context: Context
    ) -> admin_pb2.SeatReportResponse:
        who = identity()
        registry = self._registry
        running = {t: tenant.config for t, tenant in registry.tenants.items()}
        out = []
        for seats in seat_report(registry.declared, registry.issued_entries(), running):
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
    async def ListAuditRecords(
        self, request: admin_pb2.ListAuditRecordsRequest, context: Context
    ) -> admin_pb2.ListAuditRecordsResponse:
        tenant = self._shared.tenant()
        if request.limit > MAX_AUDIT_RECORDS:
            raise invalid("limit", f"at most {MAX_AUDIT_RECORDS}")
        limit = request.limit or 1000
        rows = tenant.journal.audit_records(tenant.id, request.since_ms, limit)
        return admin_pb2.ListAuditRecordsResponse(
            records=[
                admin_pb2.AuditRecord(
                    at_ms=r.at_ms,
                    identity=r.identity,
                    role=r.role,
                    method=r.method,
                    object=r.object,
                    decision=r.decision,
                    code=r.code,
                )
                for r in rows
            ]
        )

    @guarded
    async def UpsertQueue(
        self, request: admin_pb2.UpsertQueueRequest, context: Context
    ) -> admin_pb2.UpsertQueueResponse:
        config, created, version = await self._upsert(
            ac.queue_upsert(request.queue), request.queue.queue_id
        )
        queue = next(q for q in config.queues if q.id == request.queue.queue_id)
        return admin_pb2.UpsertQueueResponse(
            queue=ac.queue_message(queue), created=created, config_version=version
        )

    @guarded
    async def UpsertSkill(
        self, request: admin_pb2.UpsertSkillRequest, context: Context
    ) -> admin_pb2.UpsertSkillResponse:
        config, created, version = await self._upsert(
            ac.skill_upsert(request.skill), request.skill.skill_id
        )
        skill = next(s for s in ac.skills_of(config) if s.id == request.skill.skill_id)
        return admin_pb2.UpsertSkillResponse(
            skill=ac.skill_message(skill), created=created, config_version=version
        )

    @guarded
    async def UpsertAgent(
        self, request: admin_pb2.UpsertAgentRequest, context: Context
    ) -> admin_pb2.UpsertAgentResponse:
        config, created, version = await self._upsert(
            ac.agent_upsert(request.agent), request.agent.agent_id
        )
        agent = next(a for a in config.agents if a.id == request.agent.agent_id)
        return admin_pb2.UpsertAgentResponse(
            agent=ac.agent_message(agent), created=created, config_version=version
        )

    @guarded
    async def UpsertGroup(
        self, request: admin_pb2.UpsertGroupRequest, context: Context
    ) -> admin_pb2.UpsertGroupResponse:
        config, created, version = await self._upsert(
            ac.group_upsert(request.group), request.group.group_id
        )
        group = next(g for g in config.groups if g.id == request.group.group_id)
        return admin_pb2.UpsertGroupResponse(
            group=ac.group_message(group), created=created, config_version=version
        )

    @guarded
    async def UpsertHours(
        self, request: admin_pb2.UpsertHoursRequest, context: Context
    ) -> admin_pb2.UpsertHoursResponse:
        config, created, version = await self._upsert(
            ac.hours_upsert(request.hours), request.hours.hours_id
        )
        hours = next(h for h in config.hours if h.id == request.hours.hours_id)
        return admin_pb2.UpsertHoursResponse(
            hours=ac.hours_message(hours), created=created, config_version=version
        )

    @guarded
    async def ReloadConfig(
        self, request: admin_pb2.ReloadConfigRequest, context: Context
    ) -> admin_pb2.ReloadConfigResponse:
        who = identity()
        if who.role is not Role.PLATFORM_ADMIN:
            self._shared.tenant()  # the caller's tenant runs
        return await config_reload.reload(self._registry, who, request.dry_run)

    @guarded
    async def IssueToken(
        self, request: admin_pb2.IssueTokenRequest, context: Context
    ) -> admin_pb2.IssueTokenResponse:
        tenant = self._shared.tenant()
        name = require_id(request.name, "name")
        role = _ISSUABLE.get(request.role)
        if role is None:
            raise invalid("role", "adapter, agent, supervisor, crm or admin")
        agent_id = None
        if role is Role.AGENT:
            agent_id = require_id(request.agent_id, "agent_id")
            known_agent(tenant, agent_id)
        elif request.agent_id:
            raise invalid("agent_id", "only agent tokens name an agent")
        who = Identity(tenant.id, name, role, agent_id)
        existing = self._registry.identity_named(tenant.id, name)
        if existing is not None and existing != who:
            raise Refusal(
                grpc.StatusCode.ALREADY_EXISTS,
                f"name {name!r}: already an account with role {existing.role}"
                + (f" for agent {existing.agent_id!r}" if existing.agent_id else ""),
                "name",
            )
        token, digest = await self._registry.issue_token(who)
        return admin_pb2.IssueTokenResponse(token=token, token_hash=digest)

    @guarded
    async def RevokeTokens(
        self, request: admin_pb2.RevokeTokensRequest, context: Context
    ) -> admin_pb2.RevokeTokensResponse:
        tenant = self._shared.tenant()
        name = require_id(request.name, "name")
        revoked = await self._registry.revoke_tokens(tenant.id, name)
        if not revoked:
            raise Refusal(
                grpc.StatusCode.NOT_FOUND,
                f"name {name!r}: no token issued through the API (acd.toml's tokens are"
                " removed from the file)",
                "name",
            )
        return admin_pb2.RevokeTokensResponse(revoked=revoked)


class CrmService(crm_pb2_grpc.CrmServiceServicer):
    def __init__(self, shared: Shared) -> None:
        self._shared = shared

    @guarded
    async def GetScreenPop(
        self, request: crm_pb2.GetScreenPopRequest, context: Context
    ) -> crm_pb2.GetScreenPopResponse:
        """The call's data and the caller's history from the contact history
        (acd.server.screen_pop); a call is live or finished (NOT_FOUND once unknown)."""
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
            number = require_id(request.caller_number, "caller_number")
            await tenant.committed_view()
            pop = tenant.contacts.lookup(tenant.config, None, number, tenant.clock.now())
            return crm_pb2.GetScreenPopResponse(screen_pop=pop)
        if kind != "call_id" or not request.call_id:
            raise invalid("lookup", "call_id or caller_number is required")
        own_call(tenant, who, request.call_id)
        await tenant.committed_view()
        contact = tenant.contacts.contact(request.call_id)
        if contact is None:
            raise Refusal(
                grpc.StatusCode.NOT_FOUND,
                f"call_id {request.call_id!r}: unknown call",
                "call_id",
            )
        pop = tenant.contacts.lookup(tenant.config, contact, "", tenant.clock.now())
        return crm_pb2.GetScreenPopResponse(screen_pop=pop)
