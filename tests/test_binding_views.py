"""The native router (``acd._core``) through Python: views (queue, interval, agent time, agent
and call info).

Every expected value here is worked out by hand from acd_core/ROUTING.md and DESIGN.md (and the
``_core.pyi`` docstrings), not recorded from a run.
"""

from __future__ import annotations

import json

from acd._core import Router
from binding_helpers import AFTERNOON, MORNING, STATS_CONFIG, play

# ---- views: queue, interval, agent time, agent and call info ----------------------------

INTERVAL = 15 * 60 * 1000


def test_views_during_the_morning() -> None:
    r = Router(json.dumps(STATS_CONFIG))
    play(r, MORNING)
    assert r.queue_stats("sales", 7_000) == {
        "waiting": 1,
        "offered": 0,
        "connected": 1,
        "longest_wait_ms": 4_000,  # c2, since 3 s
        "agents_logged_out": 0,
        "agents_not_ready": 1,
        "agents_ready": 0,
        "agents_reserved": 0,
        "agents_busy": 1,
        "agents_wrap_up": 0,
    }
    assert r.waiting_count() == 1
    assert r.call_info("c2") == {
        "id": "c2",
        "state": "waiting",
        "queue_id": "sales",
        "channel": "voice",
        "priority": 0,
        "score": -3_000,  # priority first, then arrival: -enqueued_at for priority 0
        "seq": 1,
        "enqueued_at_ms": 3_000,
        "entered_queue_at_ms": 3_000,
        "step": 0,
        "agents": [],
        "caller": "+4930123",
        "dialled": "800",
        "attributes": {"order": "42"},
    }
    c1 = r.call_info("c1")
    assert c1 is not None
    assert (c1["state"], c1["agents"], c1["seq"]) == ("connected", ["a1"], 0)
    assert r.agent_info("a1") == {
        "id": "a1",
        "state": "busy",
        "reason": "",
        "state_since_ms": 4_000,
        "ready_since_ms": 1_000,
        "tier": 1,
        "group": "store",
        "calls_answered": 1,
        "talk_ms": 0,
        "misses": 0,
        "calls": ["c1"],
        "pending_logout": False,
        "pending_not_ready": False,
    }
    assert r.call_info("c3") is None  # abandoned: gone
    assert (r.queue_ids(), r.agent_ids()) == (["sales"], ["a1", "a2", "a3"])


def test_views_at_the_end_of_the_day() -> None:
    r = Router(json.dumps(STATS_CONFIG))
    play(r, MORNING + AFTERNOON)
    zero = dict.fromkeys(
        [
            "offered", "answered", "abandoned", "short_abandoned", "answered_within_sl",
            "abandoned_within_sl", "wait_answered_ms", "left", "wait_left_ms", "max_wait_ms",
            "overflowed", "expired", "transferred_out", "completed", "talk_ms", "wrapup_ms",
        ],
        0,
    )  # fmt: skip
    first = {
        **zero,
        "interval_start_ms": 0,
        "offered": 3,  # c1, c2, c3
        "answered": 2,
        "abandoned": 1,
        "short_abandoned": 1,
        "answered_within_sl": 1,  # c1 (2 s); c2 waited 38 s
        "abandoned_within_sl": 1,
        "wait_answered_ms": 2_000 + 38_000,
        "left": 3,
        "wait_left_ms": 2_000 + 38_000 + 1_000,
        "max_wait_ms": 38_000,
        "completed": 2,
        "talk_ms": 30_000 + 9_000,
        "wrapup_ms": 5_000 + 2_000,
    }
    second = {
        **zero,
        "interval_start_ms": INTERVAL,
        "offered": 1,
        "abandoned": 1,
        "short_abandoned": 1,
        "abandoned_within_sl": 1,
        "left": 1,
        "wait_left_ms": 500,
        "max_wait_ms": 500,
    }
    assert r.interval_stats("sales") == [first, second]
    # Per group and interval, up to each agent's last change of state. a1: not ready 1 s,
    # ready 1 s, then reserved/busy/wrap-up 2 + 30 + 5 s, reserved at once at 39 s (0 ms
    # ready), 2 + 9 + 2 s more, ready from 52 s to 1000 s (across the border at 900 s), then
    # reserved 0.5 s. a2: not ready for 60 s. a3 (other): not ready for 0.1 s.
    assert r.agent_time_stats() == [
        {
            "group": "other",
            "interval_start_ms": 0,
            "ready_ms": 0,
            "busy_ms": 0,
            "not_ready_ms": 100,
        },
        {
            "group": "store",
            "interval_start_ms": 0,
            "ready_ms": 1_000 + (INTERVAL - 52_000),
            "busy_ms": 2_000 + 30_000 + 5_000 + 2_000 + 9_000 + 2_000,
            "not_ready_ms": 1_000 + 60_000,
        },
        {
            "group": "store",
            "interval_start_ms": INTERVAL,
            "ready_ms": 1_000_000 - INTERVAL,
            "busy_ms": 500,
            "not_ready_ms": 0,
        },
    ]
    info = r.agent_info("a1")
    assert (info["state"], info["state_since_ms"], info["ready_since_ms"]) == (
        "ready",
        1_000_500,
        52_000,  # the revoked offer of c4 gave back its idle time
    )
    assert (info["calls_answered"], info["talk_ms"], info["calls"]) == (2, 39_000, [])
    stats = r.queue_stats("sales", 1_000_600)
    assert (stats["waiting"], stats["longest_wait_ms"], stats["agents_ready"]) == (0, 0, 1)
    assert stats["agents_logged_out"] == 1
