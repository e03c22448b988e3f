"""Business hours at an instant, and the decision for a call that arrives while its queue is
closed.

``within_hours(config, queue_id, t_ms)`` is the one answer to "was this queue open at t": the
out-of-hours decision on enqueue uses it, and so do the reports ("missed within hours"). A
queue without hours is always open. Times are the service clock's ms since the epoch; the
schedule is read in its own time zone, with the date's exception (or holiday) replacing the
weekday's ranges, so a DST change moves the opening instants and not the local times.

The decision (``decide``) follows the queue's ``out_of_hours`` option
(acd.server.config_queue_options): callback at the next opening, voicemail, message, or
overflow to another queue (whose own hours apply in turn) or out to a destination.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from acd.server.config_hours import WEEKDAYS, HoursConfig
from acd.server.config_tenant import QueueConfig, TenantConfig

__all__ = [
    "Decision",
    "decide",
    "hours_of",
    "next_opening",
    "open_at",
    "within_hours",
]

# How far ahead ``next_opening`` looks: a schedule closed for longer has no next opening.
HORIZON_DAYS = 400
# Overflow out of hours may chain through closed queues; a loop stops after this many.
MAX_HOPS = 8


def hours_of(config: TenantConfig, queue_id: str) -> HoursConfig | None:
    """The schedule of ``queue_id``; None for a queue without one (or an unknown queue)."""
    return _schedules(config).get(queue_id)


# Each call's history row asks for its queue's schedule: a map per configuration (the last
# few, by identity; a reload makes a new one) instead of two scans of its lists per call.
_SCHEDULES: dict[int, tuple[TenantConfig, dict[str, HoursConfig | None]]] = {}


def _schedules(config: TenantConfig) -> dict[str, HoursConfig | None]:
    cached = _SCHEDULES.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    by_id = {h.id: h for h in config.hours}
    schedules = {q.id: by_id.get(q.hours) if q.hours else None for q in config.queues}
    if len(_SCHEDULES) >= 64:
        _SCHEDULES.clear()
    _SCHEDULES[id(config)] = (config, schedules)
    return schedules


def _ranges(hours: HoursConfig, date: datetime.date) -> tuple[tuple[int, int], ...]:
    key = date.isoformat()
    if key in hours.exceptions:
        return hours.exceptions[key]
    return hours.week.get(WEEKDAYS[date.weekday()], ())


def open_at(hours: HoursConfig, t_ms: int) -> bool:
    """Whether the schedule is open at ``t_ms``."""
    local = datetime.datetime.fromtimestamp(t_ms / 1000, zoneinfo.ZoneInfo(hours.timezone))
    minute = local.hour * 60 + local.minute
    return any(a <= minute < b for a, b in _ranges(hours, local.date()))


def within_hours(config: TenantConfig, queue_id: str, t_ms: int) -> bool:
    """Whether ``queue_id`` was open at ``t_ms`` (always, for a queue without hours)."""
    hours = hours_of(config, queue_id)
    return hours is None or open_at(hours, t_ms)


def _instant(date: datetime.date, minute: int, zone: zoneinfo.ZoneInfo) -> int:
    """Ms since the epoch of local ``minute`` after midnight on ``date`` (24:00 = the next
    midnight). A local time that a DST change skips maps to the instant after the gap."""
    midnight = datetime.datetime.combine(date, datetime.time(), zone)
    wall = midnight + datetime.timedelta(minutes=minute)  # wall-clock arithmetic
    return int(wall.timestamp() * 1000)


def next_opening(hours: HoursConfig, t_ms: int) -> int | None:
    """The first instant at or after ``t_ms`` at which the schedule is open (``t_ms`` itself
    when open now); None when it stays closed for ``HORIZON_DAYS``."""
    zone = zoneinfo.ZoneInfo(hours.timezone)
    today = datetime.datetime.fromtimestamp(t_ms / 1000, zone).date()
    for offset in range(HORIZON_DAYS):
        date = today + datetime.timedelta(days=offset)
        for start, end in _ranges(hours, date):
            if _instant(date, end, zone) <= t_ms:
                continue
            return max(t_ms, _instant(date, start, zone))
    return None


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to a call that arrived out of hours. ``action`` is the configured one but
    for a callback without a caller number, which becomes ``message``."""

    action: str  # "callback" | "voicemail" | "message" | "overflow"
    queue_id: str  # the closed queue
    destination: str = ""  # voicemail box, or an overflow destination out of the router
    target_queue: str = ""  # the queue that takes the call (overflow) or the callback
    message: str = ""
    next_open_ms: int = 0  # when the closed queue opens next; 0 if not within the horizon


def decide(
    config: TenantConfig, queue: QueueConfig, t_ms: int, has_caller: bool
) -> Decision | None:
    """The decision for a call that arrives in ``queue`` at ``t_ms``; None when the call
    simply waits (the queue is open, or has no out-of-hours option). An overflow to a queue
    that is closed too takes that queue's decision, up to ``MAX_HOPS`` queues."""
    by_id = {q.id: q for q in config.queues}
    first: Decision | None = None
    for _ in range(MAX_HOPS):
        ooh = queue.options.out_of_hours
        hours = hours_of(config, queue.id)
        if ooh is None or hours is None or open_at(hours, t_ms):
            return first
        opening = next_opening(hours, t_ms) or 0
        if ooh.action == "callback" and not has_caller:
            decision = Decision("message", queue.id, message=ooh.message, next_open_ms=opening)
        else:
            decision = Decision(
                ooh.action,
                queue.id,
                destination=ooh.destination or "",
                target_queue=ooh.queue or (queue.id if ooh.action == "callback" else ""),
                message=ooh.message,
                next_open_ms=opening,
            )
        if first is None:
            first = decision
        else:  # the first closed queue's name and opening, the last hop's target
            first = Decision(
                decision.action,
                first.queue_id,
                decision.destination,
                decision.target_queue,
                decision.message,
                decision.next_open_ms,  # the queue that decided opens then
            )
        if decision.action != "overflow" or not decision.target_queue:
            return first
        target = by_id.get(decision.target_queue)
        if target is None:
            return first
        queue = target
    return first
