"""What the wallboard shows of one tenant at one moment: a JSON-ready snapshot.

Per queue: calls waiting and the longest wait now, and since the daily reset ("today") the
calls offered and answered, the service level (``sl_offered``), the abandon rate, ASA and AHT,
all by DESIGN.md's definitions over the router's 15-minute counters (a call counts on the day it
entered the queue, as in the reports). Agents: one tile each with its state and time in state,
and the counts available / reserved / on call / wrap-up / break / logged out, per queue and for
the tenant.

Colours come from the queue's alert thresholds (``alerts`` in acd.toml, acd.server.alerts),
judged against the figures shown (today's, not the current interval's), with the alerts' own
rules: red when a threshold is breached, amber inside the band where a raised alert would not
clear yet (the queue's ``hysteresis``) or, for counts, at the threshold itself, green otherwise;
a figure without a threshold has no colour. Ratios are judged only once ``min_calls`` calls were
offered today, like the alerts.

Computed on the event loop's thread (the router is read there and only there).
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from acd.server import convert
from acd.server.alerts import Check, breached, checks, recovered
from acd.server.config_alerts import QueueAlerts
from acd.server.out_of_hours import hours_of, within_hours
from acd.server.wallboard_config import WallboardConfig
from acd.v1 import common_pb2, supervision_pb2

if TYPE_CHECKING:
    from acd.server.config import QueueConfig
    from acd.server.tenant import Tenant

C = common_pb2
K = supervision_pb2
# The wallboard's names for the agent states, in the order the page shows them.
AGENT_BUCKETS: Mapping[int, str] = {
    C.AGENT_STATE_READY: "available",
    C.AGENT_STATE_RESERVED: "reserved",
    C.AGENT_STATE_BUSY: "on_call",
    C.AGENT_STATE_WRAP_UP: "wrap_up",
    C.AGENT_STATE_NOT_READY: "break",
    C.AGENT_STATE_LOGGED_OUT: "logged_out",
}
# The figure of the page each alert kind colours.
FIGURE_OF: Mapping[int, str] = {
    K.ALERT_KIND_WAITING_CALLS: "waiting",
    K.ALERT_KIND_NO_AGENTS: "waiting",
    K.ALERT_KIND_LONGEST_WAIT: "longest_wait",
    K.ALERT_KIND_SERVICE_LEVEL: "sl",
    K.ALERT_KIND_ABANDON_RATE: "abandon_rate",
    K.ALERT_KIND_ASA: "asa",
    K.ALERT_KIND_READY_AGENTS: "available",
    K.ALERT_KIND_OCCUPANCY: "occupancy",
}
LEVELS = ("green", "amber", "red")
SEVERITY_NAMES: Mapping[int, str] = {
    K.ALERT_SEVERITY_INFO: "info",
    K.ALERT_SEVERITY_WARNING: "warning",
    K.ALERT_SEVERITY_CRITICAL: "critical",
}


def day_start(now_ms: int, reset_minute: int, zone: datetime.tzinfo) -> int:
    """The last reset at or before ``now_ms``: ``reset_minute`` minutes after local midnight
    in ``zone`` today, or yesterday when that is still to come."""
    local = datetime.datetime.fromtimestamp(now_ms / 1000, zone)
    for days_back in (0, 1):
        date = local.date() - datetime.timedelta(days=days_back)
        midnight = datetime.datetime(date.year, date.month, date.day, tzinfo=zone)
        # Wall-clock arithmetic: on a DST change the reset stays at its local time.
        reset = midnight + datetime.timedelta(minutes=reset_minute)
        start = int(reset.timestamp() * 1000)
        if start <= now_ms:
            return start
    raise AssertionError("yesterday's reset is always in the past")  # pragma: no cover


def zone_of(settings: WallboardConfig, tenant: Tenant, queue_id: str) -> datetime.tzinfo:
    """The wallboard's time zone, else the queue's business-hours zone, else UTC."""
    if settings.timezone is not None:
        return zoneinfo.ZoneInfo(settings.timezone)
    hours = hours_of(tenant.config, queue_id)
    return zoneinfo.ZoneInfo(hours.timezone) if hours else datetime.UTC


def level(check: Check, hysteresis: float) -> str:
    """green / amber / red of one figure against its threshold (see the module docstring)."""
    if breached(check):
        return "red"
    if check.count:
        return "amber" if check.value == check.threshold and check.threshold > 0 else "green"
    return "green" if recovered(check, hysteresis) else "amber"


def figure_levels(
    alerts: QueueAlerts, stats: common_pb2.QueueStats, open_now: bool
) -> dict[str, str]:
    """The colour of each figure that has a threshold; ``stats.interval`` holds the figures
    judged (today's)."""
    out: dict[str, str] = {}
    for check in checks(alerts, stats, open_now):
        if check.kind == K.ALERT_KIND_NO_AGENTS:
            if breached(check):  # calls wait and nobody is logged in to take them
                out["waiting"] = "red"
            continue
        if check.kind not in FIGURE_OF:
            continue
        figure = FIGURE_OF[check.kind]
        found = level(check, alerts.hysteresis)
        if LEVELS.index(found) >= LEVELS.index(out.get(figure, "green")):
            out[figure] = found
    return out


def _ratio(num: int, den: int) -> float | None:
    return num / den if den > 0 else None


def _completed(intervals: Sequence[Mapping[str, int]], start_ms: int, end_ms: int) -> int:
    return sum(i["completed"] for i in intervals if start_ms <= i["interval_start_ms"] < end_ms)


def agent_counts(counted: Iterable[tuple[int, int]]) -> dict[str, int]:
    """Agents per wallboard state from (AgentState, count) pairs."""
    counts = dict.fromkeys(AGENT_BUCKETS.values(), 0)
    for state, count in counted:
        if state in AGENT_BUCKETS:
            counts[AGENT_BUCKETS[state]] += count
    return counts


def queue_figures(
    tenant: Tenant, queue: QueueConfig, settings: WallboardConfig, now: int
) -> dict[str, Any]:
    start = day_start(now, settings.reset_minute, zone_of(settings, tenant, queue.id))
    intervals = tenant.router.interval_stats(queue.id)
    today = convert.queue_kpis(intervals, start, now + 1)
    live = convert.queue_stats(queue, tenant.router.queue_stats(queue.id, now), now, today, today)
    counted = today.answered + today.abandoned - today.short_abandoned
    completed = _completed(intervals, start, now + 1)
    levels = figure_levels(queue.alerts, live, within_hours(tenant.config, queue.id, now))
    return {
        "id": queue.id,
        "name": queue.name or queue.id,
        "day_start_ms": start,
        "waiting": live.waiting,
        "longest_wait_ms": live.longest_wait_ms,
        "sl_threshold_ms": queue.sl_threshold_ms,
        "offered": today.offered,
        "answered": today.answered,
        "abandoned": today.abandoned,
        "short_abandoned": today.short_abandoned,
        "sl": today.sl_offered if counted > 0 else None,
        "abandon_rate": _ratio(today.abandoned - today.short_abandoned,
                               today.offered - today.short_abandoned),
        "asa_ms": today.asa_ms if today.answered > 0 else None,
        "aht_ms": today.aht_ms if completed > 0 else None,
        "agents": agent_counts((c.state, c.count) for c in live.agents),
        "levels": levels,
        "level": max(levels.values(), key=LEVELS.index) if levels else None,
    }  # fmt: skip


def snapshot(tenant: Tenant, settings: WallboardConfig) -> dict[str, Any]:
    """The tenant's wallboard now (router state as committed: the caller awaits
    ``tenant.committed_view()`` first)."""
    now = tenant.clock.now()
    live = set(tenant.router.queue_ids())
    queues = [queue_figures(tenant, q, settings, now) for q in tenant.config.queues if q.id in live]
    tiles = []
    states = []
    for agent in tenant.config.agents:
        status = tenant.agent_status(agent.id, now=now)
        states.append((status.state, 1))
        tiles.append(
            {
                "id": agent.id,
                "name": status.display_name,
                "state": AGENT_BUCKETS.get(status.state, "logged_out"),
                "reason": status.reason,
                "since_ms": status.state_since_ms,
                "in_state_ms": status.time_in_state_ms,
                "calls": len(status.call_ids),
            }
        )
    active = sorted(tenant.alerts.book.active.values(), key=lambda a: a.raised_at_ms)
    return {
        "tenant": tenant.id,
        "at_ms": now,
        "refresh_ms": settings.refresh_ms,
        "reset_time": settings.reset_time,
        "timezone": settings.timezone,
        "queues": queues,
        "agent_counts": agent_counts(states),
        "agents": tiles,
        "alerts": [
            {
                "severity": SEVERITY_NAMES.get(a.severity, "warning"),
                "message": a.message,
                "raised_at_ms": a.raised_at_ms,
            }
            for a in active
        ],
    }
