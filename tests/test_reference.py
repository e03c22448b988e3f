"""Behaviour of the pure-Python reference router (acd.reference), the differential oracle."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from acd.reference import (
    ConfigError,
    Event,
    IllegalTransitionError,
    InvalidArgumentError,
    NotFoundError,
    Router,
)

Row = tuple[str, str, str, str, int, int, str, str]


def queue(queue_id: str = "q", **fields: Any) -> dict[str, Any]:
    return {"id": queue_id, **fields}


def agent(agent_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": agent_id, **fields}


def router(queues: list[dict[str, Any]], agents: list[dict[str, Any]]) -> Router:
    return Router(json.dumps({"seed": 1, "queues": queues, "agents": agents}))


def ready(r: Router, *agent_ids: str, at: int = 0) -> None:
    for agent_id in agent_ids:
        r.login(agent_id, at)
        r.set_ready(agent_id, at)


def rows(r: Router) -> list[Row]:
    return [e.as_tuple() for e in r.drain()]


def offers(r: Router) -> list[tuple[str, str]]:
    return [(e.call_id, e.agent_id) for e in r.drain() if e.kind == "offer"]


def serve_all(r: Router, agent_id: str, now: int) -> list[str]:
    """Let one agent (no wrap-up) take every call it is offered; return them in order."""
    served: list[str] = []
    while True:
        offered = [e for e in r.drain() if e.kind == "offer" and e.agent_id == agent_id]
        if not offered:
            return served
        call_id = offered[0].call_id
        served.append(call_id)
        r.accept(agent_id, call_id, now)
        r.end_call(call_id, now)


# ---- order of waiting calls -------------------------------------------------------------


def test_fifo_within_priority() -> None:
    r = router([queue(wrapup_ms=0)], [agent("a1")])
    for i, call_id in enumerate(["c1", "c2", "c3"]):
        assert r.enqueue(call_id, "q", i * 10)
    assert r.waiting_count() == 3
    r.login("a1", 30)
    r.set_ready("a1", 30)
    assert serve_all(r, "a1", 40) == ["c1", "c2", "c3"]
    assert r.waiting_count() == 0


def test_priority_first_then_arrival() -> None:
    r = router([queue(wrapup_ms=0)], [agent("a1")])
    r.enqueue("low", "q", 0, priority=0)
    r.enqueue("high1", "q", 10, priority=5)
    r.enqueue("high2", "q", 20, priority=5)
    r.enqueue("neg", "q", 30, priority=-1)
    ready(r, "a1", at=40)
    assert serve_all(r, "a1", 50) == ["high1", "high2", "low", "neg"]


def test_multi_queue_agent_takes_most_urgent_call() -> None:
    r = router(
        [queue("q1", skills={"s1": 1}, wrapup_ms=0), queue("q2", skills={"s2": 1}, wrapup_ms=0)],
        [agent("a1", skills={"s1": 1, "s2": 1})],
    )
    r.enqueue("q1-old", "q1", 0)
    r.enqueue("q2-urgent", "q2", 5, priority=1)
    r.enqueue("q2-old", "q2", 6)
    r.enqueue("q1-new", "q1", 7)
    ready(r, "a1", at=10)
    assert serve_all(r, "a1", 20) == ["q2-urgent", "q1-old", "q2-old", "q1-new"]


# ---- eligibility and choice of agent ----------------------------------------------------


def test_skills_and_levels_decide_eligibility() -> None:
    r = router(
        [queue("sales", skills={"sales": 3, "fr": 2})],
        [
            agent("low", skills={"sales": 2, "fr": 9}),
            agent("nofr", skills={"sales": 9}),
            agent("ok", skills={"sales": 4, "fr": 2, "de": 7}, tier=2),
        ],
    )
    ready(r, "low", "nofr", "ok")
    r.enqueue("c1", "sales", 10)
    (offer,) = r.drain()
    assert offer.as_tuple() == (
        "offer", "c1", "ok", "sales", 10, 15010, "longest-idle", "step=0 tier=2 level=6",
    )  # fmt: skip
    r.enqueue("c2", "sales", 11)
    assert r.drain() == []
    assert r.call_info("c2") == {
        "id": "c2", "state": "waiting", "queue_id": "sales", "channel": "voice", "priority": 0,
        "seq": 2, "enqueued_at_ms": 11, "agents": [],
    }  # fmt: skip


def test_longest_idle_agent_gets_the_call() -> None:
    r = router([queue()], [agent("a1"), agent("a2"), agent("a3"), agent("a4")])
    for agent_id in ("a1", "a2", "a3", "a4"):
        r.login(agent_id, 0)
    r.set_ready("a3", 5)
    r.set_ready("a1", 10)
    r.set_ready("a4", 10)
    r.set_ready("a2", 20)
    r.set_ready("a3", 25)  # already Ready: no-op, keeps ready_since 5
    for i in range(4):
        r.enqueue(f"c{i}", "q", 30)
    assert offers(r) == [("c0", "a3"), ("c1", "a1"), ("c2", "a4"), ("c3", "a2")]


def test_lower_tier_first_unless_disabled() -> None:
    agents = [agent("t2", tier=2), agent("t1", tier=1)]
    r = router([queue("q1"), queue("q2", prefer_lower_tier=False)], agents)
    r.login("t2", 0)
    r.set_ready("t2", 0)
    r.login("t1", 5)
    r.set_ready("t1", 5)
    r.enqueue("c1", "q1", 10)
    assert offers(r) == [("c1", "t1")]
    r.enqueue("c2", "q2", 11)
    assert offers(r) == [("c2", "t2")]


# ---- offers: reject, timeout, miss policy -----------------------------------------------


def test_reject_puts_the_call_back_in_its_place() -> None:
    r = router(
        [queue(no_answer={"reject_delay_ms": 1000, "max_misses": 0})],
        [agent("a1"), agent("a2")],
    )
    ready(r, "a1")
    r.login("a2", 0)
    r.enqueue("c1", "q", 1)
    r.enqueue("c2", "q", 2)
    r.drain()
    r.reject("a1", "c1", 3)
    assert rows(r) == [("missed", "c1", "a1", "q", 3, 0, "rejected", "")]
    info = r.agent_info("a1")
    assert (info["state"], info["reason"], info["miss_delay"]) == ("ready", "", True)
    assert r.waiting_count() == 2
    r.set_ready("a1", 4)  # no-op: the miss delay is served in full
    r.set_ready("a2", 4)
    assert offers(r) == [("c1", "a2")]
    assert r.poll_timeout() == 1003
    r.handle_timeout(2000)  # the miss delay ended at 1003: a1 Ready since then, takes c2
    assert offers(r) == [("c2", "a1")]
    assert r.agent_info("a1")["ready_since_ms"] == 1003


def test_reject_with_no_delay_may_ring_the_same_agent_again() -> None:
    r = router([queue(no_answer={"max_misses": 2})], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 1)
    r.reject("a1", "c1", 2)
    assert [e.kind for e in r.drain()] == ["offer", "missed", "offer"]
    r.reject("a1", "c1", 3)
    assert [(e.kind, e.rule) for e in r.drain()] == [("missed", "rejected")]
    assert r.agent_info("a1")["reason"] == "missed"
    assert r.call_info("c1") is not None
    assert r.waiting_count() == 1


def test_offer_timeout_fires_at_its_deadline_when_polled_late() -> None:
    r = router(
        [queue(offer_timeout_ms=1000, no_answer={"max_misses": 1})],
        [agent("a1"), agent("a2")],
    )
    ready(r, "a1", at=0)
    ready(r, "a2", at=50)
    r.enqueue("c1", "q", 100)
    assert r.poll_timeout() == 1100
    r.handle_timeout(5000)
    assert rows(r) == [
        ("offer", "c1", "a1", "q", 100, 1100, "longest-idle", "step=0 tier=1 level=0"),
        ("missed", "c1", "a1", "q", 1100, 0, "timed-out", ""),
        ("offer", "c1", "a2", "q", 1100, 2100, "longest-idle", "step=0 tier=1 level=0"),
        ("missed", "c1", "a2", "q", 2100, 0, "timed-out", ""),
    ]
    with pytest.raises(IllegalTransitionError, match="no open offer"):
        r.accept("a2", "c1", 5000)
    assert r.agent_info("a1")["state"] == "not-ready"
    assert r.agent_info("a1")["reason"] == "missed"
    assert r.poll_timeout() == 100 + 14_400_000  # only the time-to-live is left


def test_late_accept_is_refused_after_the_offer_expired() -> None:
    r = router([queue(offer_timeout_ms=500, no_answer={"timeout_delay_ms": 100})], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.drain()
    with pytest.raises(IllegalTransitionError):
        r.accept("a1", "c1", 500)
    assert [e.kind for e in r.drain()] == ["missed"]
    info = r.call_info("c1")
    assert info is not None
    assert (info["state"], info["agents"]) == ("waiting", [])
    r.handle_timeout(600)  # miss delay over: offered again, stamped at the deadline
    assert rows(r) == [
        ("offer", "c1", "a1", "q", 600, 1100, "longest-idle", "step=0 tier=1 level=0")
    ]


def test_accept_resets_the_miss_counter() -> None:
    r = router([queue(wrapup_ms=0, no_answer={"max_misses": 2})], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.reject("a1", "c1", 1)
    assert r.agent_info("a1")["misses"] == 1
    r.accept("a1", "c1", 2)
    assert r.agent_info("a1")["misses"] == 0


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


# ---- errors -----------------------------------------------------------------------------


def refused(error: type[Exception], message: str, command: Callable[[], object]) -> None:
    with pytest.raises(error) as info:
        command()
    assert str(info.value) == message


def test_unknown_ids_and_bad_arguments() -> None:
    r = router([queue()], [agent("a1")])
    refused(NotFoundError, "agent_id 'a9': unknown agent", lambda: r.login("a9", 0))
    refused(NotFoundError, "queue_id 'nope': unknown queue", lambda: r.enqueue("c", "nope", 0))
    refused(NotFoundError, "call_id 'c9': unknown call", lambda: r.abandon("c9", 0))
    bad_id = "call_id: must be 1..256 characters without control characters"
    refused(InvalidArgumentError, bad_id, lambda: r.enqueue("", "q", 0))
    refused(InvalidArgumentError, bad_id, lambda: r.enqueue("c\n", "q", 0))
    refused(
        InvalidArgumentError,
        "priority: 1000001 out of range -1000000..1000000",
        lambda: r.enqueue("c1", "q", 0, priority=1_000_001),
    )
    refused(
        InvalidArgumentError,
        "channel: 'chat' is not supported by the reference router (only voice)",
        lambda: r.enqueue("c1", "q", 0, channel="chat"),
    )
    unsupported = InvalidArgumentError
    message = "{}: not supported by the reference router"
    refused(unsupported, message.format("skills"), lambda: r.enqueue("c", "q", 0, skills={}))
    refused(
        unsupported,
        message.format("preferred_agent"),
        lambda: r.enqueue("c", "q", 0, preferred_agent="a1"),
    )
    refused(
        unsupported,
        message.format("attributes"),
        lambda: r.enqueue("c", "q", 0, attributes={"k": "v"}),
    )
    refused(
        InvalidArgumentError,
        "reason: must be at most 64 characters without control characters",
        lambda: r.set_not_ready("a1", "x" * 65, 0),
    )
    r.handle_timeout(100)
    refused(
        InvalidArgumentError,
        "now_ms: time went backwards (99 < 100)",
        lambda: r.enqueue("c1", "q", 99),
    )
    assert r.waiting_count() == 0
    assert r.call_info("c1") is None


def test_a_bad_argument_does_not_move_the_clock_but_a_refused_transition_does() -> None:
    r = router([queue(offer_timeout_ms=10, no_answer={"max_misses": 1})], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.drain()
    with pytest.raises(NotFoundError):
        r.enqueue("c2", "nope", 50)  # refused before the clock moves: the offer is still open
    assert r.drain() == []
    r.handle_timeout(5)
    with pytest.raises(NotFoundError):
        r.login("a9", 50)  # an unknown agent is looked up after the timers fired
    assert [(e.kind, e.at_ms) for e in r.drain()] == [("missed", 10)]


def test_illegal_transitions_change_nothing() -> None:
    r = router([queue()], [agent("a1")])
    illegal = IllegalTransitionError
    refused(illegal, "agent 'a1' is logged-out: cannot set ready", lambda: r.set_ready("a1", 0))
    refused(illegal, "agent 'a1' is logged-out: cannot log out", lambda: r.logout("a1", 0))
    r.login("a1", 0)
    refused(illegal, "agent 'a1' is not-ready: cannot log in", lambda: r.login("a1", 1))
    assert (r.agent_info("a1")["state"], r.agent_info("a1")["reason"]) == ("not-ready", "login")
    r.set_ready("a1", 2)
    r.enqueue("c1", "q", 3)
    refused(
        illegal,
        "agent 'a1' is reserved: cannot set not ready",
        lambda: r.set_not_ready("a1", "break", 4),
    )
    refused(illegal, "call 'c1' is not connected", lambda: r.end_call("c1", 4))
    refused(
        illegal,
        "agent 'a1' is not in wrap-up for call 'c1'",
        lambda: r.wrapup_done("a1", "c1", 4),
    )
    r.enqueue("c2", "q", 4)
    refused(
        illegal,
        "agent 'a1' has no open offer for call 'c2'",
        lambda: r.accept("a1", "c2", 5),
    )
    assert r.agent_info("a1")["calls"] == ["c1"]
    assert r.waiting_count() == 2  # c1 offered, c2 waiting
    r.accept("a1", "c1", 6)
    refused(
        illegal,
        "call 'c1' is connected: end it with end_call",
        lambda: r.abandon("c1", 7),
    )
    assert r.call_info("c1") is not None


@pytest.mark.parametrize(
    ("queues", "agents", "message"),
    [
        ([queue(skills={"sales": 11})], [], "queues[0].skills.sales: level 11 out of range 1..10"),
        ([queue(), queue("q2", wrapup=1)], [], "queues[1].wrapup: unknown field"),
        ([queue(strategy="round-robin")], [], "queues[0].strategy: 'round-robin' is not supp"),
        ([queue(strategy="fastest")], [], "queues[0].strategy: unknown strategy 'fastest'"),
        ([queue(aging_ms=1000)], [], "queues[0].aging_ms"),
        ([queue(overflow={"after_ms": 1, "queue": "q"})], [], "queues[0].overflow"),
        ([queue(offer_timeout_ms=0)], [], "queues[0].offer_timeout_ms: must be above 0"),
        ([queue(ttl_ms=0)], [], "queues[0].ttl_ms: must be above 0"),
        ([queue(wrapup_ms=-1)], [], "queues[0].wrapup_ms: -1 out of range 0.."),
        ([queue(no_answer={"max_misses": -1})], [], "queues[0].no_answer.max_misses: -1"),
        ([queue(), queue()], [], "queues[1].id: duplicate queue 'q'"),
        ([queue("")], [], "queues[0].id: must be 1..256 characters without control characters"),
        ([], [agent("a"), agent("a")], "agents[1].id: duplicate agent 'a'"),
        ([], [agent("a", tier=0)], "agents[0].tier: tiers start at 1"),
        ([], [agent("a", tier=256)], "agents[0].tier: 256 out of range 1..255"),
        ([{"skills": {}}], [], "queues[0].id: missing"),
        ([], [agent("a1", skills={"x": 0})], "agents[0].skills.x: level 0 out of range 1..10"),
        ([], [agent("a1", capacity={"voice": 2})], "agents[0].capacity.voice"),
        ([], [agent("a1", tier="1")], "agents[0].tier: expected an integer"),
    ],
)
def test_config_errors_name_the_field(
    queues: list[dict[str, Any]], agents: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        router(queues, agents)
    assert str(info.value).startswith(message)


def test_config_rejects_unknown_top_level_fields_and_bad_json() -> None:
    with pytest.raises(ConfigError, match="tenant: unknown field"):
        Router('{"tenant": 1}')
    with pytest.raises(ConfigError, match="invalid JSON"):
        Router("{")
    r = Router("{}")
    assert (r.queue_ids(), r.agent_ids(), r.poll_timeout()) == ([], [], None)


# ---- batch ------------------------------------------------------------------------------


def test_batch_reports_an_error_and_goes_on() -> None:
    r = router([queue()], [agent("a1")])
    events = r.apply_batch(
        [
            ("login", "a1", 0),
            ("ready", "a1", 1),
            ("accept", "a1", "nope", 2),
            ("enqueue", "c1", "q", 3, 0),
            ("enqueue", "c2", "nope", 4, 0),
            ("accept", "a1", "c1", 5),
            ("timeout", 4),
        ]
    )
    assert [e.as_tuple() for e in events] == [
        ("error", "", "", "", 2, 0, "", "command 2: call_id 'nope': unknown call"),
        ("offer", "c1", "a1", "q", 3, 15003, "longest-idle", "step=0 tier=1 level=0"),
        ("error", "", "", "", 3, 0, "", "command 4: queue_id 'nope': unknown queue"),
        ("connected", "c1", "a1", "q", 5, 0, "", ""),
        ("error", "", "", "", 5, 0, "", "command 6: now_ms: time went backwards (4 < 5)"),
    ]
    assert r.drain() == []


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (("frobnicate", 4), "commands[1]: unknown command 'frobnicate'"),
        (("enqueue", "c1", "q", 3), "commands[1]: 'enqueue' takes 4 arguments, got 3"),
        (("login", "a1", "0"), "commands[1][2]: expected int, got str"),
        (["login", "a1", 0], "commands[1]: expected a tuple"),
    ],
)
def test_a_malformed_batch_applies_nothing(command: Any, message: str) -> None:
    r = router([queue()], [agent("a1")])
    with pytest.raises(ValueError) as info:
        r.apply_batch([("login", "a1", 0), command])
    assert str(info.value) == message
    assert r.agent_info("a1")["state"] == "logged-out"


def test_event_fields() -> None:
    event = Event("offer", "c", "a", "q", 1, 2, "longest-idle", "step=0 tier=1 level=0")
    assert (event.kind, event.call_id, event.agent_id, event.queue_id) == ("offer", "c", "a", "q")
    assert (event.at_ms, event.expires_at_ms, event.rule, event.detail)[:2] == (1, 2)
    assert event.as_tuple() == ("offer", "c", "a", "q", 1, 2, "longest-idle", event.detail)


# ---- invariants and decisions under random commands -------------------------------------


class RandomDriver:
    """Random commands through a small router; checks decisions against brute force."""

    def __init__(self, seed: int) -> None:
        self.rng = rng = random.Random(seed)
        skills = [f"s{i}" for i in range(4)]
        self.queues = [
            queue(
                f"q{i}",
                skills={rng.choice(skills): rng.randint(1, 3)},
                offer_timeout_ms=rng.randint(20, 200),
                wrapup_ms=rng.choice([0, 30]),
                wrapup_until_done=rng.random() < 0.2,
                ttl_ms=rng.choice([2000, 10**9]),
                no_answer={"reject_delay_ms": rng.choice([0, 10]), "max_misses": rng.randint(0, 3)},
            )
            for i in range(5)
        ]
        agents = [agent(f"a{i}", skills={s: rng.randint(1, 5) for s in skills}) for i in range(8)]
        self.router = router(self.queues, agents)
        self.names = [a["id"] for a in agents]
        self.serves = {
            a["id"]: {
                q["id"]
                for q in self.queues
                if all(a["skills"].get(s, 0) >= lvl for s, lvl in q["skills"].items())
            }
            for a in agents
        }
        self.order: dict[str, int] = {}  # call id -> arrival order (the call's seq)
        self.terminal: list[str] = []
        self.now = 0

    def waiting(self) -> dict[str, dict[str, Any]]:
        infos = {c: self.router.call_info(c) for c in self.order}
        return {c: i for c, i in infos.items() if i is not None and i["state"] == "waiting"}

    def ready_agents(self) -> dict[str, dict[str, Any]]:
        infos = {a: self.router.agent_info(a) for a in self.names}
        return {a: i for a, i in infos.items() if i["state"] == "ready" and not i["miss_delay"]}

    def check_enqueue(self, call_id: str, queue_id: str, priority: int) -> None:
        r = self.router
        candidates = [
            (info["ready_since_ms"], self.names.index(a))
            for a, info in self.ready_agents().items()
            if queue_id in self.serves[a]
        ]
        if not r.enqueue(call_id, queue_id, self.now, priority):
            return
        self.order[call_id] = len(self.order)
        got = [e.agent_id for e in self.events() if e.kind == "offer"]
        assert got == ([self.names[min(candidates)[1]]] if candidates else [])

    def check_set_ready(self, name: str) -> None:
        r = self.router
        if r.agent_info(name)["state"] != "not-ready":
            return
        urgent = sorted(
            (info["enqueued_at_ms"] - info["priority"] * 10**10, self.order[c], c)
            for c, info in self.waiting().items()
            if info["queue_id"] in self.serves[name]
        )
        r.set_ready(name, self.now)
        got = [e.call_id for e in self.events() if e.kind == "offer"]
        assert got == ([urgent[0][2]] if urgent else [])

    def events(self) -> list[Event]:
        events = self.router.drain()
        self.terminal += [e.call_id for e in events if e.kind == "terminal"]
        return events

    def step(self) -> None:
        r, rng = self.router, self.rng
        self.now += rng.randint(0, 8)
        r.handle_timeout(self.now)
        self.events()
        name = rng.choice(self.names)
        info = r.agent_info(name)
        command = rng.randrange(10)
        try:
            if command < 3:
                call_id = f"c{rng.randint(0, 400)}"
                self.check_enqueue(call_id, rng.choice(self.queues)["id"], rng.randint(-1, 1))
            elif command == 3 and self.order:
                r.abandon(rng.choice(list(self.order)), self.now)
            elif command == 4 and info["state"] == "logged-out":
                r.login(name, self.now)
            elif command == 4:
                self.check_set_ready(name)
            elif command == 5 and info["state"] == "reserved":
                verb = rng.choice([r.accept, r.accept, r.accept, r.reject])
                verb(name, info["calls"][0], self.now)
            elif command == 6 and info["state"] == "busy":
                r.end_call(info["calls"][0], self.now)
            elif command == 7 and info["state"] == "wrap-up":
                r.wrapup_done(name, info["calls"][0], self.now)
            elif command == 8 and rng.random() < 0.2:
                r.set_not_ready(name, "break", self.now)
            elif command == 8 and rng.random() < 0.1:
                r.logout(name, self.now)
        except (IllegalTransitionError, NotFoundError):
            pass
        self.events()
        waiting_queues = {i["queue_id"] for i in self.waiting().values()}
        live = [r.call_info(c) for c in self.order]
        assert r.waiting_count() == sum(1 for i in live if i and i["state"] != "connected")
        for agent_id in self.ready_agents():  # work-conserving
            assert not self.serves[agent_id] & waiting_queues, agent_id


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_commands_match_brute_force_decisions(seed: int) -> None:
    driver = RandomDriver(seed)
    for _ in range(1500):
        driver.step()
    assert len(driver.terminal) == len(set(driver.terminal))  # one terminal per call at most
    assert set(driver.terminal) <= set(driver.order)
    infos = [driver.router.call_info(c) for c in driver.order]
    finished = {c for c, info in zip(driver.order, infos, strict=True) if info is None}
    assert finished == set(driver.terminal)  # every call that left had its terminal event
