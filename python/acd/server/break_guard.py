"""The break guard: an agent does not go on break while calls wait in a queue it serves and no
colleague is Ready for that queue.

A queue's ``break_guard`` (config_queue_options) says what happens to such a break: "off" lets
it through, "refuse" answers FAILED_PRECONDITION (field ``availability``) naming the queue and
how many calls wait, "defer" accepts it as pending. A break is the agent's own request to go
not-ready (SetState, also on the Session stream) with a reason the queue counts as a break
(``break_reasons``; empty = every reason), made while the agent works (Ready, ringing, on a
call, in wrap-up); a supervisor's ForceAgentState is never guarded. Where several guarded
queues block, "refuse" wins over "defer".

A deferred break is journaled (``svc:break``, service_state), shows as the agent's
``pending_break_reason``, and changes nothing else: the agent keeps taking calls. After every
published batch the tenant calls ``after_batch``, which starts each pending break whose line
is clear with a ``not_ready`` command journaled like any other (on a call or in wrap-up the
router holds it until the call's wrap-up ends; while an offer rings, it waits for the next
batch). Going Ready again, logging out or being set not-ready by a supervisor drops the
pending break. Replay rebuilds pending breaks from the journal, so they survive a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import grpc

from acd.server.commands import Refusal, RouterEvent
from acd.server.config import AgentConfig, QueueConfig
from acd.server.journal_format import Command
from acd.v1 import agent_pb2

if TYPE_CHECKING:
    from acd.server.tenant import Tenant

log = logging.getLogger("acd.server")

# The states in which the agent works: a not-ready from them is going on break.
WORKING = frozenset({"ready", "reserved", "busy", "wrap-up"})


class Block(NamedTuple):
    """A guarded queue that holds the break back."""

    queue_id: str
    waiting: int
    mode: str  # "refuse" | "defer"


def serves(agent: AgentConfig, queue: QueueConfig) -> bool:
    """Whether the agent may take the queue's calls (its skills and tier, before escalation)."""
    if queue.max_tier and agent.tier > queue.max_tier:
        return False
    return all(agent.skills.get(s, 0) >= level for s, level in queue.skills.items())


def blocking(tenant: Tenant, agent_id: str, reason: str, now_ms: int) -> Block | None:
    """The guarded queue that holds ``agent_id``'s break back now, if any ("refuse" first)."""
    agent = tenant.agents.get(agent_id)
    if agent is None:
        return None
    self_ready = tenant.router.agent_info(agent_id)["state"] == "ready"
    found: Block | None = None
    for queue in tenant.queues.values():
        options = queue.options
        if options.break_guard == "off" or not serves(agent, queue):
            continue
        if options.break_reasons and reason not in options.break_reasons:
            continue
        stats = tenant.router.queue_stats(queue.id, now_ms)
        colleagues_ready = stats["agents_ready"] - (1 if self_ready else 0)
        if stats["waiting"] == 0 or colleagues_ready > 0:
            continue
        block = Block(queue.id, stats["waiting"], options.break_guard)
        if block.mode == "refuse":
            return block
        found = found or block
    return found


async def request_break(tenant: Tenant, agent_id: str, reason: str, now_ms: int) -> bool:
    """Applies the guard to the agent's request to go not-ready with ``reason``: raises the
    refusal, or defers the break (True), or lets it through (False: the caller applies it)."""
    pending = agent_id in tenant.service.breaks
    if tenant.router.agent_info(agent_id)["state"] not in WORKING:
        if pending:  # a not-ready agent changing its reason has no break left to wait for
            await tenant.execute([], [("svc:break-off", agent_id, now_ms)])
        return False
    block = blocking(tenant, agent_id, reason, now_ms)
    if block is None:
        if pending:
            await tenant.execute([], [("svc:break-off", agent_id, now_ms)])
        return False
    if block.mode == "refuse":
        calls = "1 call waits" if block.waiting == 1 else f"{block.waiting} calls wait"
        raise Refusal(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"availability: break refused: {calls} in queue {block.queue_id!r} and no "
            "colleague is ready",
            "availability",
        )
    await tenant.execute([], [("svc:break", agent_id, reason, now_ms)])
    announce(tenant, agent_id)
    return True


async def cancel_break(tenant: Tenant, agent_id: str, now_ms: int) -> None:
    """The agent went Ready (or logged out) by itself: its pending break is dropped."""
    if agent_id in tenant.service.breaks:
        await tenant.execute([], [("svc:break-off", agent_id, now_ms)])
        announce(tenant, agent_id)


def announce(tenant: Tenant, agent_id: str) -> None:
    """Tells the agent's desktop its status: a pending break changes no router state, so no
    router event would."""
    outbox = tenant.outboxes.get(agent_id)
    if outbox is not None:
        changed = agent_pb2.AgentStateChanged(agent=tenant.agent_status(agent_id))
        outbox.push(agent_pb2.StreamOffersResponse(state_changed=changed))


class BreakSettler:
    """Starts pending breaks once their line is clear; one check at a time, after batches."""

    def __init__(self) -> None:
        self._scheduled = False

    def after_batch(self, tenant: Tenant, events: Sequence[RouterEvent]) -> None:
        if not tenant.service.breaks or self._scheduled or tenant.closing:
            return
        self._scheduled = True
        task = asyncio.get_running_loop().create_task(self._settle(tenant))
        tenant._background.add(task)
        task.add_done_callback(tenant._background.discard)

    async def _settle(self, tenant: Tenant) -> None:
        try:
            now = tenant.clock.now()
            commands: list[Command] = []
            service: list[Command] = []
            for agent_id, reason in sorted(tenant.service.breaks.items()):
                state = tenant.router.agent_info(agent_id)["state"]
                if state not in WORKING:  # logged out or set not-ready meanwhile: moot
                    service.append(("svc:break-off", agent_id, now))
                elif state != "reserved" and blocking(tenant, agent_id, reason, now) is None:
                    commands.append(("not_ready", agent_id, reason, now))
                    service.append(("svc:break-off", agent_id, now))
        finally:
            self._scheduled = False
        if not service:
            return
        try:
            outcome = await tenant.execute(commands, service)
        except Refusal as r:
            log.warning("tenant %s: deferred breaks not started: %s", tenant.id, r)
            return
        for event in outcome.events:
            if event.kind == "error":
                log.warning("tenant %s: a deferred break was refused: %s", tenant.id, event.detail)
        for command in service:
            announce(tenant, command[1])
