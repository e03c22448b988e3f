"""A tenant's queue as supervisors see it: the live figures with the KPIs of the current
15-minute interval and of today (``StreamQueueStats``, ``StatsHub``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.server import convert
from acd.server.screen_pop import day_start
from acd.v1 import common_pb2

if TYPE_CHECKING:
    from acd.server.tenant import Tenant

# The router's statistics interval (acd_core stats.rs).
INTERVAL_MS = 15 * 60 * 1000


def queue_stats(tenant: Tenant, queue_id: str) -> common_pb2.QueueStats:
    """A queue's live figures with its current-interval and today KPIs ("today" starts at
    midnight in the queue's business-hours time zone, UTC without); zeros for a queue a
    configuration change removed after it was marked for the next stats update."""
    now = tenant.clock.now()
    queue = tenant.queues.get(queue_id)
    if queue is None or queue_id not in tenant.router.queue_ids():
        return common_pb2.QueueStats(queue_id=queue_id, at_ms=now)
    intervals = tenant.router.interval_stats(queue_id)
    interval_start = now - now % INTERVAL_MS
    return convert.queue_stats(
        queue,
        tenant.router.queue_stats(queue_id, now),
        now,
        interval=convert.queue_kpis(intervals, interval_start, interval_start + INTERVAL_MS),
        today=convert.queue_kpis(intervals, day_start(tenant.config, queue_id, now), now + 1),
    )
