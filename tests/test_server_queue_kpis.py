"""Queue KPIs on the stats of a queue: the current 15-minute interval and today, computed
from the router's interval counters with the formulas of ../shared/DESIGN.md, checked against
hand-computed values on a small day driven by a clock the test sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.server.clock import Clock
from acd.server.convert import queue_kpis
from acd.server.queue_view import INTERVAL_MS
from acd.v1 import agent_pb2, common_pb2, routing_pb2, supervision_pb2
from server_helpers import StreamReader, Stubs, md, running
from test_server_lifecycle import enqueue, login_ready, offer_of

T = 5.0
SUP = md("t-supervisor")
DAY = 1_763_856_000_000  # 2025-11-23 00:00 UTC, a 15-minute boundary


def counters(start: int, **values: int) -> dict[str, int]:
    keys = (
        *("offered", "answered", "abandoned", "short_abandoned", "answered_within_sl"),
        *("abandoned_within_sl", "wait_answered_ms", "left", "wait_left_ms", "max_wait_ms"),
        *("overflowed", "expired", "transferred_out", "completed", "talk_ms", "wrapup_ms"),
    )
    return {"interval_start_ms": start, **dict.fromkeys(keys, 0), **values}


def test_kpis_sum_the_intervals_of_the_period_only() -> None:
    before = counters(DAY - INTERVAL_MS, offered=50, answered=50, max_wait_ms=99_000)
    first = counters(
        DAY,
        offered=4,
        answered=2,
        abandoned=2,
        short_abandoned=1,
        answered_within_sl=1,
        abandoned_within_sl=2,
        wait_answered_ms=30_000,  # 5 s and 25 s
        left=4,
        wait_left_ms=34_000,  # + 1 s and 3 s abandoned
        max_wait_ms=25_000,
        completed=2,
        talk_ms=100_000,
        wrapup_ms=20_000,
    )
    second = counters(
        DAY + INTERVAL_MS, offered=2, answered=1, answered_within_sl=1, wait_answered_ms=2_000,
        left=1, wait_left_ms=2_000, max_wait_ms=2_000, overflowed=1,
    )  # fmt: skip
    k = queue_kpis([before, first, second], DAY, DAY + 2 * INTERVAL_MS)
    assert (k.period_start_at_ms, k.period_end_at_ms) == (DAY, DAY + 2 * INTERVAL_MS)
    assert (k.offered, k.answered, k.abandoned, k.short_abandoned, k.overflowed) == (6, 3, 2, 1, 1)
    assert k.sl_answered == pytest.approx(2 / 3)
    assert k.sl_offered == pytest.approx(2 / (3 + 2 - 1))
    assert k.sl_with_abandons == pytest.approx((2 + 2) / (3 + 2))
    assert (k.asa_ms, k.awt_ms, k.aht_ms, k.max_wait_ms) == (10_666, 7_200, 60_000, 25_000)
    assert k.abandon_rate == pytest.approx((2 - 1) / (6 - 1))
    empty = queue_kpis([before], DAY, DAY + INTERVAL_MS)
    assert (empty.offered, empty.sl_offered, empty.asa_ms, empty.abandon_rate) == (0, 0, 0, 0)


class FakeWall:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def stats_of(s: Stubs) -> common_pb2.QueueStats:
    request = supervision_pb2.StreamQueueStatsRequest(queue_ids=["sales"])
    stream = StreamReader(s.supervision.StreamQueueStats(request, metadata=SUP))
    try:
        first: supervision_pb2.StreamQueueStatsResponse = stream.next()
        return first.stats
    finally:
        stream.close()


def test_queue_stats_carry_interval_and_today_kpis(tmp_path: Path) -> None:
    wall = FakeWall(DAY + INTERVAL_MS - 10_000)  # 10 s before the second interval
    with running(tmp_path, clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "c1")  # offered to anna at once
        assert anna.until(offer_of).offer.offer.call_id == "c1"
        wall.ms += 4_000
        s.agent.AcceptOffer(
            agent_pb2.AcceptOfferRequest(agent_id="anna", call_id="c1"), metadata=md("t-anna")
        )
        enqueue(s, "c2")  # waits: anna is busy
        wall.ms += 30_000  # into the second interval; c2 waited 30 s
        cancel = routing_pb2.CancelCallRequest(call_id="c2")
        s.routing.CancelCall(cancel, metadata=md("t-adapter"), timeout=T)
        enqueue(s, "c3")
        wall.ms += 2_000
        s.routing.CancelCall(
            routing_pb2.CancelCallRequest(call_id="c3"), metadata=md("t-adapter"), timeout=T
        )
        stats = stats_of(s)

    today, interval = stats.today, stats.interval
    assert today.period_start_at_ms == DAY  # the queue has no hours: the UTC day
    assert (today.offered, today.answered, today.abandoned, today.short_abandoned) == (3, 1, 2, 1)
    assert today.asa_ms == 4_000
    assert today.max_wait_ms == 30_000
    assert today.sl_answered == 1.0
    assert today.sl_offered == pytest.approx(1 / (1 + 2 - 1))
    assert today.abandon_rate == pytest.approx((2 - 1) / (3 - 1))
    # A call counts in the interval it entered, whenever it leaves: c2 entered in the first
    # interval and left in the second; only c3 (2 s, short) is the second interval's.
    assert interval.period_start_at_ms == DAY + INTERVAL_MS
    assert (interval.offered, interval.abandoned, interval.short_abandoned) == (1, 1, 1)
    assert interval.abandon_rate == 0.0  # (1 - 1) / (1 - 1): nothing to divide by
