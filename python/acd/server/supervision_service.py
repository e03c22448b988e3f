"""SupervisionService: live queues and agents of the caller's tenant (acd.v1 supervision.proto).

StreamAlerts tells the alerts of ``acd.server.alerts`` (queue thresholds, paused agents) as
they are raised and cleared, starting with every alert still raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from acd.server import convert
from acd.server.commands import Refusal
from acd.server.config import AgentConfig, QueueConfig
from acd.server.missed import missed_calls
from acd.server.service_base import (
    Context,
    Shared,
    guarded,
    invalid,
    known_agent,
    not_found,
    queue_ids_of,
    require_id,
)
from acd.server.tenant import Tenant
from acd.v1 import common_pb2, supervision_pb2, supervision_pb2_grpc

# What ListMissedCalls shows without since_ms: a day, the span a callback list is worked in.
MISSED_DEFAULT_MS = 86_400_000
# Streams number their messages on from the request's last_sequence (uint64).
MAX_SEQUENCE = 2**63 - 1


def _serves(agent: AgentConfig, queue: QueueConfig) -> bool:
    """Whether the agent has the queue's skills (at the queue's first levels)."""
    return all(agent.skills.get(s, 0) >= level for s, level in queue.skills.items())


def waiting_calls(tenant: Tenant, queue_ids: Sequence[str], limit: int) -> list[Any]:
    infos = [tenant.router.call_info(c) for c in tenant.live_calls]
    wanted = set(queue_ids)
    calls = [i for i in infos if i is not None and i["state"] != "connected"]
    calls = [i for i in calls if i["queue_id"] in wanted]
    # Queue order of ROUTING.md with the default weight: priority first, then arrival.
    calls.sort(key=lambda i: (i["queue_id"], -i["priority"], i["enqueued_at_ms"], i["seq"]))
    if limit:
        keep = {id(i) for i in sorted(calls, key=lambda i: i["enqueued_at_ms"])[:limit]}
        positions = {}
        counts: dict[str, int] = {}
        for i in calls:
            counts[i["queue_id"]] = counts.get(i["queue_id"], 0) + 1
            positions[id(i)] = counts[i["queue_id"]]
        return [(i, positions[id(i)]) for i in calls if id(i) in keep]
    counts = {}
    out = []
    for i in calls:
        counts[i["queue_id"]] = counts.get(i["queue_id"], 0) + 1
        out.append((i, counts[i["queue_id"]]))
    return out


class SupervisionService(supervision_pb2_grpc.SupervisionServiceServicer):
    def __init__(self, shared: Shared) -> None:
        self._shared = shared

    @guarded
    async def ListWaitingCalls(
        self, request: supervision_pb2.ListWaitingCallsRequest, context: Context
    ) -> supervision_pb2.ListWaitingCallsResponse:
        tenant = self._shared.tenant()
        queues = queue_ids_of(tenant, request.queue_ids)
        await tenant.committed_view()
        now = tenant.clock.now()
        calls = [
            convert.waiting_call(info, position, now)
            for info, position in waiting_calls(tenant, queues, request.limit)
        ]
        return supervision_pb2.ListWaitingCallsResponse(calls=calls, at_ms=now)

    @guarded
    async def ListMissedCalls(
        self, request: supervision_pb2.ListMissedCallsRequest, context: Context
    ) -> supervision_pb2.ListMissedCallsResponse:
        """The missed list from the contact history (acd.server.missed); by default the
        entries of the last 24 hours still waiting for an answer."""
        tenant = self._shared.tenant()
        queues = queue_ids_of(tenant, request.queue_ids)
        if request.since_ms < 0:
            raise invalid("since_ms", "must be >= 0")
        await tenant.committed_view()
        now = tenant.clock.now()
        since = request.since_ms or now - MISSED_DEFAULT_MS
        found = tenant.contacts.store.missed(queues, since, request.include_cleared, request.limit)
        return supervision_pb2.ListMissedCallsResponse(calls=missed_calls(found), at_ms=now)

    @guarded
    async def ListAgents(
        self, request: supervision_pb2.ListAgentsRequest, context: Context
    ) -> supervision_pb2.ListAgentsResponse:
        tenant = self._shared.tenant()
        queues = [tenant.queues[q] for q in queue_ids_of(tenant, request.queue_ids)]
        if request.group_id and all(g.id != request.group_id for g in tenant.config.groups):
            raise not_found("group_id", request.group_id, "group")
        await tenant.committed_view()
        now = tenant.clock.now()
        states = set(request.states)
        out = []
        for agent in tenant.config.agents:
            if request.group_id and agent.group != request.group_id:
                continue
            if request.queue_ids and not any(_serves(agent, q) for q in queues):
                continue
            status = tenant.agent_status(agent.id, now=now)
            if states and status.state not in states:
                continue
            out.append(status)
        return supervision_pb2.ListAgentsResponse(agents=out, at_ms=now)

    @guarded
    async def ForceAgentState(
        self, request: supervision_pb2.ForceAgentStateRequest, context: Context
    ) -> supervision_pb2.ForceAgentStateResponse:
        tenant = self._shared.tenant()
        require_id(request.agent_id, "agent_id")
        known_agent(tenant, request.agent_id)
        now = tenant.clock.now()
        if request.state == common_pb2.AGENT_STATE_READY:
            await tenant.run(("ready", request.agent_id, now))
        elif request.state == common_pb2.AGENT_STATE_NOT_READY:
            reason = require_id(request.reason_code, "reason_code")
            await tenant.run(
                ("not_ready", request.agent_id, reason, now), {"reason": "reason_code"}
            )
        elif request.state == common_pb2.AGENT_STATE_LOGGED_OUT:
            await tenant.run(("logout", request.agent_id, now))
        else:
            raise invalid("state", "must be READY, NOT_READY or LOGGED_OUT")
        return supervision_pb2.ForceAgentStateResponse(agent=tenant.agent_status(request.agent_id))

    async def StreamQueueStats(
        self, request: supervision_pb2.StreamQueueStatsRequest, context: Context
    ) -> AsyncIterator[supervision_pb2.StreamQueueStatsResponse]:
        try:
            tenant = self._shared.tenant()
            queues = queue_ids_of(tenant, request.queue_ids)
            if request.min_interval_ms < 0:
                raise invalid("min_interval_ms", "must be >= 0")
            _check_sequence(request.last_sequence)
        except Refusal as r:
            await context.abort(r.code, r.message)
        feed = tenant.stats.subscribe(queues)
        sequence = request.last_sequence
        try:
            while updates := await feed.take():
                for stats in updates:
                    sequence += 1
                    yield supervision_pb2.StreamQueueStatsResponse(
                        sequence=sequence, stats=stats, dropped_updates=feed.dropped
                    )
                if request.min_interval_ms:
                    await asyncio.sleep(request.min_interval_ms / 1000)
        finally:
            tenant.stats.unsubscribe(feed)

    async def StreamAlerts(
        self, request: supervision_pb2.StreamAlertsRequest, context: Context
    ) -> AsyncIterator[supervision_pb2.StreamAlertsResponse]:
        try:
            tenant = self._shared.tenant()
            queues = set(queue_ids_of(tenant, request.queue_ids))
            if request.min_severity not in supervision_pb2.AlertSeverity.values():
                raise invalid("min_severity", f"unknown severity {request.min_severity}")
            _check_sequence(request.last_sequence)
        except Refusal as r:
            await context.abort(r.code, r.message)
        # An agent's alert goes to the streams of the queues the agent serves.
        serving = {
            a.id for a in tenant.config.agents for q in tenant.config.queues
            if q.id in queues and _serves(a, q)
        }  # fmt: skip

        def wanted(alert: supervision_pb2.Alert) -> bool:
            if alert.severity < request.min_severity:
                return False
            return alert.queue_id in queues if alert.queue_id else alert.agent_id in serving

        feed = tenant.alerts.subscribe(wanted)
        sequence = request.last_sequence
        try:
            while alerts := await feed.take():
                for alert in alerts:
                    sequence += 1
                    yield supervision_pb2.StreamAlertsResponse(sequence=sequence, alert=alert)
        finally:
            tenant.alerts.unsubscribe(feed)


def _check_sequence(last_sequence: int) -> None:
    """A stream numbers its messages on from ``last_sequence``: the numbers must fit in uint64."""
    if last_sequence > MAX_SEQUENCE:
        raise invalid("last_sequence", f"must be <= {MAX_SEQUENCE}")
