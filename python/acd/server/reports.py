"""Queue reports for any period and interval, from the contact history (DESIGN.md, KPI
definitions): per interval (15 minutes, hour, day, or the whole period), per queue, and per
channel when asked (the response-time KPIs of chats, e-mails and messenger beside voice).

A contact belongs to the interval in which it entered the queue (``offered`` = calls that
entered in the period), whatever interval it was answered or ended in, so a call that spans an
interval border is counted once, where it arrived. Intervals are aligned in the tenant's local
time (an "hour" in a +05:30 zone starts at :30 UTC; a "day" is a local day, 23 or 25 hours long
across a DST change). A contact is attributed to the queue it finished in (after an overflow,
the queue it overflowed to). The figures are exact: percentiles are nearest-rank over every
answered call's wait in the group, not estimates or moving averages.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from acd.server.history import Contact
from acd.sim.kpi import CallRecord, compute_kpis

INTERVALS = {"15min": 15 * 60_000, "hour": 3_600_000, "day": 86_400_000, "period": 0}
PERCENTILES = (50, 90, 95)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A queue's service-level threshold T and short-abandon threshold S."""

    sl_threshold_ms: int = 20_000
    short_abandon_ms: int = 5_000


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One line of a queue report: an interval x queue (x channel; "" = every channel)."""

    start_ms: int
    queue_id: str
    channel: str
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    other: int  # left unanswered otherwise: expired, overflowed or transferred out
    waiting: int  # still live when the report was made
    sl_answered: float | None
    sl_offered: float | None
    sl_with_abandons: float | None
    asa_s: float | None
    awt_s: float | None
    aht_s: float | None
    abandon_rate: float | None
    max_wait_s: float | None
    wait_percentiles_s: tuple[float | None, ...]  # of answered calls, at PERCENTILES


def bucket_start(t_ms: int, interval: str, zone: datetime.tzinfo, period_start_ms: int) -> int:
    """The start (ms) of the interval holding ``t_ms``, aligned in local time."""
    if interval == "period":
        return period_start_ms
    if interval not in INTERVALS:
        raise ValueError(f"interval: one of {', '.join(INTERVALS)}")
    local = datetime.datetime.fromtimestamp(t_ms / 1000, zone)
    if interval == "day":
        floor = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif interval == "hour":
        floor = local.replace(minute=0, second=0, microsecond=0)
    else:
        floor = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
    return int(floor.timestamp() * 1000)


def percentile(sorted_values: Sequence[int], p: int) -> int | None:
    """Nearest-rank percentile: the smallest value with at least p% of the values <= it."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def _row(
    start_ms: int, queue_id: str, channel: str, contacts: list[Contact], t: Thresholds
) -> QueueRow:
    # The formulas are the simulator's (acd.sim.kpi, DESIGN.md), over the contacts as records.
    records = [
        CallRecord(
            c.call_id,
            c.enqueued_at,
            answered_ms=c.answered_at,
            ended_ms=c.ended_at if c.answered_at is not None else None,
            # The simulator calls a caller who took a callback in their place "callback".
            outcome="callback" if c.outcome == "callback-requested" else c.outcome,
            left_ms=c.ended_at,
            wrapup_ms=c.wrapup_ms or 0,
        )
        for c in contacts
    ]
    k = compute_kpis(records, t.sl_threshold_ms, t.short_abandon_ms)
    answered_waits = sorted(c.wait_ms for c in contacts if c.answered_at is not None)
    left_waits = [
        c.wait_ms for c in contacts if c.answered_at is not None or c.ended_at is not None
    ]
    return QueueRow(
        start_ms=start_ms,
        queue_id=queue_id,
        channel=channel,
        offered=k.offered,
        answered=k.answered,
        abandoned=k.abandoned,
        short_abandoned=k.short_abandoned,
        other=k.expired,
        waiting=k.waiting,
        sl_answered=k.sl_answered,
        sl_offered=k.sl_offered,
        sl_with_abandons=k.sl_with_abandons,
        asa_s=k.asa,
        awt_s=k.awt,
        aht_s=k.aht,
        abandon_rate=k.abandon_rate,
        max_wait_s=_seconds(max(left_waits)) if left_waits else None,
        wait_percentiles_s=tuple(_seconds(percentile(answered_waits, p)) for p in PERCENTILES),
    )


def queue_report(
    contacts: Iterable[Contact],
    thresholds: Mapping[str, Thresholds],
    start_ms: int,
    end_ms: int,
    interval: str,
    zone: datetime.tzinfo,
    by_channel: bool = False,
) -> list[QueueRow]:
    """The report's rows for the contacts that entered a queue in [start_ms, end_ms), ordered
    by interval, queue and channel. Queues missing from ``thresholds`` (removed since) get the
    default thresholds."""
    if end_ms <= start_ms:
        raise ValueError("the period's end must be after its start")
    groups: dict[tuple[int, str, str], list[Contact]] = {}
    for c in contacts:
        if not start_ms <= c.enqueued_at < end_ms:
            continue
        bucket = bucket_start(c.enqueued_at, interval, zone, start_ms)
        groups.setdefault((bucket, c.queue_id, c.channel if by_channel else ""), []).append(c)
    default = Thresholds()
    return [
        _row(start, queue, channel, groups[(start, queue, channel)], thresholds.get(queue, default))
        for start, queue, channel in sorted(groups)
    ]
