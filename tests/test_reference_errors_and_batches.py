"""Behaviour of the pure-Python reference router (acd.reference), the differential oracle:
errors, configuration errors, batches and the Event type.
"""

from __future__ import annotations

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
from reference_helpers import agent, queue, ready, router

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
        ("error", "", "", "", 2, 0, "not-found", "command 2: call_id 'nope': unknown call"),
        ("offer", "c1", "a1", "q", 3, 15003, "longest-idle", "step=0 tier=1 level=0"),
        ("error", "", "", "", 3, 0, "not-found", "command 4: queue_id 'nope': unknown queue"),
        ("connected", "c1", "a1", "q", 5, 0, "", ""),
        (
            "error",
            "",
            "",
            "",
            5,
            0,
            "invalid-argument",
            "command 6: now_ms: time went backwards (4 < 5)",
        ),
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
