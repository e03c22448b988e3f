"""Changing a running tenant's configuration: the stored version, the router, the service's maps.

A change (``change_config``, one at a time per tenant: ``ManagedTenant.lock``) goes:

1. the new configuration is stored as version N+1, *pending* (``StoredConfig.seq`` None), and
   committed;
2. ``Tenant.execute([("configure", core_json, now_ms)])`` applies it to the router, journals it,
   commits it and publishes its events (say, a waiting call offered to an agent who just got
   the skill), like every command;
3. the pending version is settled with the seq of its ``configure`` entry; a refusal drops it.

The journal's own starting config (``tenants.config``, what replay from seq 0 starts from) is
never rewritten: replay goes through the ``configure`` entries, so a restart with or without a
snapshot reaches the same router. A crash between 1 and 3 leaves a pending version; at the next
start ``settle_pending`` keeps it if the journal holds a ``configure`` entry after the previous
version's seq (step 2 committed) and drops it otherwise, so the stored current version is
always the one the journal replays to.

What the router does not hold follows the change here too (``_set_maps``): the tenant's
``config``, ``agents``, ``queues``, endpoints (an endpoint given at login is kept) and outboxes
(a new agent gets one; a removed agent's is closed). They are switched right before the router
applies the change, with no ``await`` in between, so requests see both change at once; a refusal
switches them back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import grpc

from acd.server.commands import Refusal, refusal
from acd.server.config import TenantConfig, core_config_json
from acd.server.config_raw import dumps
from acd.server.fanout import AgentOutbox
from acd.server.journal import Journal, StoredConfig
from acd.server.tenant import Tenant

log = logging.getLogger("acd.server")

CONFIGURE = "configure"


@dataclass(eq=False)
class ManagedTenant:
    """A running tenant with its configuration version and creation time."""

    tenant: Tenant
    version: int
    version_seq: int  # the seq of the configure entry that put ``version`` live (0: the start)
    created_at_ms: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def check_removals(tenant: Tenant, config: TenantConfig, where: str) -> None:
    """Refuses (FAILED_PRECONDITION) a configuration that drops a queue holding calls or an
    agent who is not logged out: the router would refuse it too, this only names the culprit.
    ``where`` is the key path of the tenant's section (messages name its queues / agents)."""
    keep_agents = config.agent_ids()
    for agent_id in tenant.agents:
        if agent_id in keep_agents:
            continue
        state = tenant.router.agent_info(agent_id)["state"]
        if state != "logged-out":
            raise Refusal(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"{where}.agents: agent {agent_id!r} would be removed but is {state}:"
                " log it out first",
                f"{where}.agents",
            )
    keep_queues = {q.id for q in config.queues}
    now = tenant.clock.now()
    for queue_id in tenant.queues:
        if queue_id in keep_queues:
            continue
        stats = tenant.router.queue_stats(queue_id, now)
        calls = stats["waiting"] + stats["offered"] + stats["connected"]
        if calls:
            raise Refusal(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"{where}.queues: queue {queue_id!r} would be removed but holds {calls} call(s):"
                " wait until they are gone",
                f"{where}.queues",
            )


def _set_maps(tenant: Tenant, config: TenantConfig) -> None:
    """Points the tenant's service-side views at ``config`` (outboxes and endpoints of agents
    it no longer has are left for ``_drop_agents``)."""
    old = tenant.agents
    tenant.config = config
    tenant.agents = {a.id: a for a in config.agents}
    tenant.queues = {q.id: q for q in config.queues}
    for agent in config.agents:
        before = old.get(agent.id)
        configured_before = (before.endpoint or "") if before is not None else None
        # An endpoint given at login overrides the configured one until the next login.
        if tenant.endpoints.get(agent.id) in (None, configured_before):
            tenant.endpoints[agent.id] = agent.endpoint or ""
        if agent.id not in tenant.outboxes:
            tenant.outboxes[agent.id] = AgentOutbox()


def _drop_agents(tenant: Tenant, keep: frozenset[str]) -> None:
    for agent_id in [a for a in tenant.outboxes if a not in keep]:
        tenant.outboxes.pop(agent_id).close()  # ends the agent's offer streams
        tenant.endpoints.pop(agent_id, None)
        tenant.open_offers.pop(agent_id, None)


async def apply_config(tenant: Tenant, config: TenantConfig, where: str) -> None:
    """Applies ``config`` to the running tenant through its command path (journaled, committed,
    events published); a refusal raises :class:`Refusal` and changes nothing."""
    before = tenant.config
    if tenant.failed is not None:
        raise Refusal(grpc.StatusCode.UNAVAILABLE, f"tenant {tenant.id!r}: {tenant.failed}")
    check_removals(tenant, config, where)
    _set_maps(tenant, config)  # from here to the router's apply: no await
    outcome = await tenant.execute([(CONFIGURE, core_config_json(config), tenant.clock.now())])
    errors = [e for e in outcome.events if e.kind == "error"]
    if errors:
        # Back to what the router still runs; outboxes added for new agents are kept empty.
        _set_maps(tenant, before)
        _drop_agents(tenant, before.agent_ids())
        refused = refusal(errors[0])
        raise Refusal(refused.code, f"{where}: {refused.message}", refused.field or where)
    _drop_agents(tenant, config.agent_ids())


async def change_config(
    managed: ManagedTenant, journal: Journal, config: TenantConfig, where: str
) -> int:
    """Stores, applies and settles a new version (see the module docstring); the caller holds
    ``managed.lock``. Gives the new version."""
    tenant = managed.tenant
    version = managed.version + 1
    now = tenant.clock.now()
    await journal.put_config(tenant.id, StoredConfig(version, None, now, dumps(config)))
    lower = journal.last_seq(tenant.id)  # the configure entry comes after every committed one
    try:
        await apply_config(tenant, config, where)
    except Refusal:
        if tenant.failed is None:  # refused: it never went live
            await journal.settle_config(tenant.id, version, None)
        raise  # else the journal failed: the next start settles it from the journal
    seqs = journal.command_seqs(tenant.id, CONFIGURE, after=max(lower, managed.version_seq))
    seq = seqs[-1] if seqs else journal.last_seq(tenant.id)
    await journal.settle_config(tenant.id, version, seq)
    managed.version, managed.version_seq = version, seq
    return version


async def settle_pending(journal: Journal, tenant_id: str) -> StoredConfig | None:
    """At start: settles a version left pending by a crash (see the module docstring) and gives
    the tenant's live version (None: it has none stored)."""
    stored = journal.configs(tenant_id)
    live = [c for c in stored if c.seq is not None]
    current = live[-1] if live else None
    for pending in (c for c in stored if c.seq is None):
        after = current.seq if current is not None and current.seq is not None else 0
        seqs = journal.command_seqs(tenant_id, CONFIGURE, after=after)
        if seqs and (current is None or pending.version > current.version):
            await journal.settle_config(tenant_id, pending.version, seqs[0])
            current = pending._replace(seq=seqs[0])
            log.info(
                "tenant %s: config version %d went live before a stop", tenant_id, current.version
            )
        else:
            await journal.settle_config(tenant_id, pending.version, None)
            log.info("tenant %s: config version %d never went live", tenant_id, pending.version)
    return current
