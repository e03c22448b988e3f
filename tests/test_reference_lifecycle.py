"""Behaviour of the pure-Python reference router (acd.reference), the differential oracle:
wrap-up and pending states, and calls leaving.
"""

from __future__ import annotations

import pytest

from acd.reference import IllegalTransitionError
from reference_helpers import agent, offers, queue, ready, router, rows

# ---- wrap-up and pending states ---------------------------------------------------------


def test_wrapup_timer_then_ready() -> None:
    r = router([queue(wrapup_ms=3000)], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.accept("a1", "c1", 10)
    r.enqueue("c2", "q", 20)
    r.end_call("c1", 100)
    assert rows(r)[-3:] == [
        ("connected", "c1", "a1", "q", 10, 0, "", ""),
        ("ended", "c1", "a1", "q", 100, 0, "", ""),
        ("terminal", "c1", "", "q", 100, 0, "", "completed"),
    ]
    assert r.agent_info("a1")["state"] == "wrap-up"
    assert r.poll_timeout() == 3100
    r.handle_timeout(9999)
    assert rows(r) == [
        ("offer", "c2", "a1", "q", 3100, 18100, "longest-idle", "step=0 tier=1 level=0")
    ]


def test_wrapup_until_done() -> None:
    r = router([queue(wrapup_until_done=True)], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.accept("a1", "c1", 1)
    r.end_call("c1", 2)
    assert r.poll_timeout() is None  # no wrap-up timer; c1's time-to-live no longer counts
    r.handle_timeout(1_000_000)
    assert r.agent_info("a1")["state"] == "wrap-up"
    with pytest.raises(IllegalTransitionError, match="agent 'a1' is not in wrap-up for call 'c9'"):
        r.wrapup_done("a1", "c9", 1_000_000)
    r.enqueue("c2", "q", 1_000_001)
    r.drain()
    r.wrapup_done("a1", "c1", 1_000_002)
    assert offers(r) == [("c2", "a1")]
    assert r.agent_info("a1")["ready_since_ms"] == 1_000_002


def test_pending_not_ready_applies_when_wrapup_ends() -> None:
    r = router([queue(wrapup_ms=1000)], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.accept("a1", "c1", 1)
    r.set_not_ready("a1", "lunch", 2)
    assert r.agent_info("a1")["state"] == "busy"
    r.enqueue("c2", "q", 3)
    r.end_call("c1", 10)
    r.handle_timeout(5000)
    assert r.agent_info("a1")["state"] == "not-ready"
    assert r.agent_info("a1")["reason"] == "lunch"
    assert [e.kind for e in r.drain()][-1] == "terminal"  # c2 was never offered
    assert r.waiting_count() == 1


def test_pending_logout_wins_over_pending_not_ready_and_set_ready() -> None:
    r = router([queue(wrapup_ms=1000)], [agent("a1"), agent("a2")])
    ready(r, "a1", "a2")
    r.enqueue("c1", "q", 0)
    r.enqueue("c2", "q", 0)
    r.accept("a1", "c1", 1)
    r.accept("a2", "c2", 1)
    r.set_not_ready("a1", "break", 2)
    r.logout("a1", 3)
    r.logout("a2", 3)
    info = r.agent_info("a1")
    assert (info["state"], info["pending_logout"], info["pending_not_ready"]) == (
        "busy",
        True,
        True,
    )
    r.end_call("c1", 4)
    r.end_call("c2", 4)
    r.set_ready("a2", 5)  # ends wrap-up, but the pending logout still applies
    assert (r.agent_info("a2")["state"], r.agent_info("a2")["reason"]) == ("logged-out", "logout")
    r.handle_timeout(2000)
    assert r.agent_info("a1")["state"] == "logged-out"
    assert r.agent_info("a1")["pending_not_ready"] is False


def test_set_ready_in_wrapup_drops_a_pending_not_ready() -> None:
    r = router([queue(wrapup_ms=1000)], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.accept("a1", "c1", 1)
    r.set_not_ready("a1", "lunch", 2)
    assert r.agent_info("a1")["reason"] == "lunch"  # the reason it will have
    r.end_call("c1", 3)
    r.set_ready("a1", 4)
    info = r.agent_info("a1")
    assert (info["state"], info["reason"], info["ready_since_ms"]) == ("ready", "", 4)
    assert r.poll_timeout() is None  # the wrap-up timer is gone


# ---- calls leaving ----------------------------------------------------------------------


def test_abandon_while_offered_revokes_then_rematches_the_agent() -> None:
    r = router([queue()], [agent("a1"), agent("a2")])
    ready(r, "a1", at=0)
    ready(r, "a2", at=7)
    r.enqueue("c1", "q", 10)
    r.drain()
    r.abandon("c1", 20)
    assert rows(r) == [
        ("revoke", "c1", "a1", "q", 20, 0, "", "abandoned"),
        ("terminal", "c1", "", "q", 20, 0, "", "abandoned"),
    ]
    info = r.agent_info("a1")
    assert (info["state"], info["ready_since_ms"]) == ("ready", 0)
    r.enqueue("c2", "q", 30)  # a1 is longest idle again (ready since 0, not 20)
    assert offers(r) == [("c2", "a1")]
    assert r.call_info("c1") is None  # finished calls are unknown, except to enqueue


def test_abandon_frees_the_agent_for_the_next_waiting_call() -> None:
    r = router([queue()], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 1)
    r.enqueue("c2", "q", 2)
    r.drain()
    r.abandon("c1", 3)
    assert [(e.kind, e.call_id) for e in r.drain()] == [
        ("revoke", "c1"), ("terminal", "c1"), ("offer", "c2"),
    ]  # fmt: skip


def test_ttl_expires_waiting_and_offered_calls() -> None:
    r = router([queue(ttl_ms=1000, offer_timeout_ms=5000)], [agent("a1")])
    ready(r, "a1")
    r.enqueue("offered", "q", 100)
    r.enqueue("waiting", "q", 200)
    r.drain()
    r.handle_timeout(1100)
    assert rows(r) == [
        ("revoke", "offered", "a1", "q", 1100, 0, "", "expired"),
        ("terminal", "offered", "", "q", 1100, 0, "", "expired"),
        ("offer", "waiting", "a1", "q", 1100, 6100, "longest-idle", "step=0 tier=1 level=0"),
    ]
    r.handle_timeout(1200)
    assert [(e.kind, e.detail) for e in r.drain()] == [
        ("revoke", "expired"), ("terminal", "expired"),
    ]  # fmt: skip
    assert r.waiting_count() == 0
    assert r.poll_timeout() is None


def test_connected_calls_do_not_expire() -> None:
    r = router([queue(ttl_ms=1000)], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.accept("a1", "c1", 1)
    r.handle_timeout(5000)
    assert [e.kind for e in r.drain()] == ["offer", "connected"]
    with pytest.raises(IllegalTransitionError, match="connected"):
        r.abandon("c1", 5000)


def test_logout_while_reserved_revokes_and_requeues() -> None:
    r = router([queue()], [agent("a1"), agent("a2")])
    ready(r, "a1", at=0)
    r.login("a2", 0)
    r.enqueue("c1", "q", 1)
    r.logout("a1", 2)
    assert [(e.kind, e.detail) for e in r.drain()] == [
        ("offer", "step=0 tier=1 level=0"), ("revoke", "logout"),
    ]  # fmt: skip
    assert r.waiting_count() == 1
    r.set_ready("a2", 3)
    assert offers(r) == [("c1", "a2")]


def test_enqueue_is_idempotent() -> None:
    r = router([queue(wrapup_ms=0)], [agent("a1")])
    assert r.enqueue("c1", "q", 0)
    assert not r.enqueue("c1", "q", 1, priority=9)
    assert r.waiting_count() == 1
    ready(r, "a1", at=2)
    r.accept("a1", "c1", 3)
    r.end_call("c1", 4)
    assert not r.enqueue("c1", "q", 5)  # finished ids are remembered
    assert [e.kind for e in r.drain()] == ["offer", "connected", "ended", "terminal"]
