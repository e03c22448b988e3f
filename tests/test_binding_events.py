"""The native router (``acd._core``) through Python: events.

Every expected value here is worked out by hand from acd_core/ROUTING.md and DESIGN.md (and the
``_core.pyi`` docstrings), not recorded from a run.
"""

from __future__ import annotations

import pytest

from acd._core import Event, Events, IllegalTransitionError
from binding_helpers import decisions, make, ready, refuses, rows

# ---- events -----------------------------------------------------------------------------


def test_offer_events_name_the_rule_step_tier_and_level() -> None:
    r = make(
        [
            {
                "id": "sales",
                "skills": {"sales": 5, "fr": 2},
                "offer_timeout_ms": 7000,
                "max_tier": 1,
                "escalation": [{"after_ms": 1000, "lower_levels_by": 2, "max_tier": 2}],
            }
        ],
        [
            {"id": "t1", "skills": {"sales": 5, "fr": 3, "de": 9}},
            {"id": "t2", "skills": {"sales": 3, "fr": 1}, "tier": 2},
        ],
    )
    ready(r, "t1", "t2")
    r.enqueue("c1", "sales", 10)
    r.accept("t1", "c1", 15)
    # level: t1's levels over the required skills only, 5 + 3 (de does not count).
    assert decisions(r) == [
        ("offer", "c1", "t1", "sales", 10, 7010, "longest-idle", "step=0 tier=1 level=8"),
        ("connected", "c1", "t1", "sales", 15, 0, "", ""),
    ]
    r.enqueue("c2", "sales", 20)  # t2: sales 3 < 5, and tier 2 above max_tier 1
    assert decisions(r) == []
    assert r.poll_timeout() == 1020
    r.handle_timeout(1500)  # step 1 at 1020: sales >= 3, fr >= 1 (never below 1), tiers <= 2
    assert decisions(r) == [
        ("escalated", "c2", "", "sales", 1020, 0, "", "1"),
        ("offer", "c2", "t2", "sales", 1020, 8020, "longest-idle", "step=1 tier=2 level=4"),
    ]
    info = r.call_info("c2")
    assert info is not None
    assert (info["step"], info["agents"]) == (1, ["t2"])


def test_event_kinds_and_their_fields() -> None:
    r = make(
        [
            {"id": "sales", "wrapup_ms": 0, "overflow": {"after_ms": 500, "queue": "ring"}},
            {"id": "ring", "strategy": "ring-all", "ring_all_max": 2, "ttl_ms": 3000},
        ],
        [{"id": "a1"}, {"id": "b2"}],
    )
    r.login("a1", 0)
    assert rows(r) == [("agent-state", "", "a1", "", 0, 0, "login", "not-ready")]
    r.set_ready("a1", 5)
    r.enqueue("c1", "sales", 10)
    r.reject("a1", "c1", 20)  # a miss, with no delay: a1 is Ready at once and rung again
    assert decisions(r) == [
        ("offer", "c1", "a1", "sales", 10, 15010, "longest-idle", "step=0 tier=1 level=0"),
        ("missed", "c1", "a1", "sales", 20, 0, "rejected", ""),
        ("offer", "c1", "a1", "sales", 20, 15020, "longest-idle", "step=0 tier=1 level=0"),
    ]
    ready(r, "b2", at=40)
    r.handle_timeout(510)  # 500 ms in sales: the offer is revoked, the call moves to ring
    assert decisions(r) == [
        ("revoke", "c1", "a1", "sales", 510, 0, "", "overflow"),
        ("overflow", "c1", "", "ring", 510, 0, "", "sales"),
        ("offer", "c1", "a1", "ring", 510, 15510, "ring-all", "step=0 tier=1 level=0"),
        ("offer", "c1", "b2", "ring", 510, 15510, "ring-all", "step=0 tier=1 level=0"),
    ]
    r.accept("b2", "c1", 600)
    assert decisions(r) == [
        ("revoke", "c1", "a1", "ring", 600, 0, "", "answered-elsewhere"),
        ("connected", "c1", "b2", "ring", 600, 0, "", ""),
    ]
    r.transfer("c1", 700, destination="+4930123")
    assert decisions(r) == [
        ("ended", "c1", "b2", "ring", 700, 0, "", "transfer"),
        ("terminal", "c1", "", "ring", 700, 0, "", "transferred-out"),
    ]
    r.logout("a1", 800)
    r.logout("b2", 800)  # in wrap-up (5000 ms by default): the logout waits for its end
    r.enqueue("c2", "ring", 900)
    r.handle_timeout(3900)  # nobody can take it: its time-to-live (3000 ms) ends it
    assert decisions(r) == [("terminal", "c2", "", "ring", 3900, 0, "", "expired")]
    r.handle_timeout(5700)
    assert rows(r) == [("agent-state", "", "b2", "", 5700, 0, "logout", "logged-out")]


def test_agent_state_events_carry_state_and_reason() -> None:
    r = make()
    r.login("a1", 0)
    r.set_ready("a1", 1)
    r.set_not_ready("a1", "lunch", 2)
    r.set_not_ready("a1", "training", 3)  # same state, new reason: still told
    r.logout("a1", 4)
    assert [(e.kind, e.agent_id, e.at_ms, e.detail, e.rule) for e in r.drain()] == [
        ("agent-state", "a1", 0, "not-ready", "login"),
        ("agent-state", "a1", 1, "ready", ""),
        ("agent-state", "a1", 2, "not-ready", "lunch"),
        ("agent-state", "a1", 3, "not-ready", "training"),
        ("agent-state", "a1", 4, "logged-out", "logout"),
    ]


def test_preferred_agent_and_pick_rules() -> None:
    r = make(
        [{"id": "q", "wrapup_ms": 0}, {"id": "fr", "skills": {"fr": 1}}],
        [{"id": "a1"}, {"id": "a2"}],
    )
    ready(r, "a1", "a2")
    r.set_not_ready("a2", "coaching", 1)
    r.enqueue("c1", "q", 10, preferred_agent="a2", preferred_wait_ms=1000)
    assert decisions(r) == []  # held for a2, although a1 is Ready
    r.set_ready("a2", 20)
    assert decisions(r) == [
        ("offer", "c1", "a2", "q", 20, 15020, "preferred-agent", "step=0 tier=1 level=0")
    ]
    r.enqueue("c2", "fr", 30)  # nobody speaks French: it waits
    assert decisions(r) == []
    r.pick("a1", "c2", 40)  # a1 takes it from the line by hand
    assert decisions(r) == [("offer", "c2", "a1", "fr", 40, 15040, "pick", "step=0 tier=1 level=0")]
    r.enqueue("c3", "fr", 50)
    message = "agent 'a1' cannot take a voice call now"
    refuses(r, 50, lambda: r.pick("a1", "c3", 50), IllegalTransitionError, message)


def test_transfer_to_a_queue_or_an_agent() -> None:
    r = make(
        [{"id": "sales", "wrapup_ms": 0}, {"id": "billing", "transfer_agent_wait_ms": 1000}],
        [{"id": "a1"}, {"id": "a2"}, {"id": "a3"}],
    )
    ready(r, "a1", "a2")
    r.enqueue("c1", "sales", 10, priority=2)
    r.accept("a1", "c1", 20)
    r.drain()
    r.transfer("c1", 30, queue="billing")  # a2 is Ready and longest idle after a1
    assert decisions(r) == [
        ("ended", "c1", "a1", "sales", 30, 0, "", "transfer"),
        ("transferred", "c1", "", "billing", 30, 0, "", "sales"),
        ("offer", "c1", "a2", "billing", 30, 15030, "longest-idle", "step=0 tier=1 level=0"),
    ]
    info = r.call_info("c1")
    assert info is not None
    assert (info["queue_id"], info["priority"], info["seq"], info["entered_queue_at_ms"]) == (
        "billing",
        2,
        0,
        30,
    )
    r.accept("a2", "c1", 40)
    r.transfer("c1", 50, agent="a3")  # a3 is logged out: held for it up to 1000 ms
    assert decisions(r) == [
        ("connected", "c1", "a2", "billing", 40, 0, "", ""),
        ("ended", "c1", "a2", "billing", 50, 0, "", "transfer"),
        ("transferred", "c1", "a3", "billing", 50, 0, "", "billing"),
    ]
    ready(r, "a3", at=60)
    assert decisions(r) == [
        ("offer", "c1", "a3", "billing", 60, 15060, "preferred-agent", "step=0 tier=1 level=0")
    ]


def test_event_is_immutable() -> None:
    r = make()
    r.login("a1", 0)
    (event,) = r.drain()
    fields = (event.kind, event.call_id, event.agent_id, event.queue_id, event.at_ms)
    assert (*fields, event.expires_at_ms, event.rule, event.detail) == event.as_tuple()
    for name in ("kind", "call_id", "agent_id", "queue_id", "at_ms", "expires_at_ms", "rule"):
        with pytest.raises(AttributeError):
            setattr(event, name, "x")
    with pytest.raises(AttributeError):
        event.colour = "red"  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        Event()
    assert event.as_tuple() == ("agent-state", "", "a1", "", 0, 0, "login", "not-ready")
    assert isinstance(event.as_tuple(), tuple)


def test_drain_gives_the_events_so_far_native_until_read_and_clears_them() -> None:
    r = make([{"id": "sales", "skills": {"sales": 1}}], [{"id": "a1", "skills": {"sales": 1}}])
    assert len(r.drain()) == 0 and r.drain() is r.drain()  # nothing: the one shared empty
    ready(r, "a1")
    r.enqueue("c1", "sales", 10)
    drained = r.drain()
    assert isinstance(drained, Events)
    kinds = [e.kind for e in drained]
    assert kinds[-2:] == ["offer", "agent-state"] and len(drained) == len(kinds)
    assert len(r.drain()) == 0  # cleared
    r.accept("a1", "c1", 20)  # later commands do not change what was drained
    assert [e.kind for e in drained] == kinds
    assert drained[-2].call_id == "c1" and drained[-2].agent_id == "a1"
    assert [e.kind for e in drained[1:]] == kinds[1:]
    assert [e.kind for e in r.drain()] == ["connected", "agent-state"]
