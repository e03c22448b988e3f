"""The reference router's reconfiguration and ``call_ids`` (ROUTING.md, Reconfiguration, in
the **[ref]** subset). Expected values are worked out from ROUTING.md; the differential test
compares the same commands against the core at random.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from acd.reference import (
    ConfigError,
    IllegalTransitionError,
    InvalidArgumentError,
    Router,
)
from reference_helpers import agent, offers, queue, ready, router, rows


def config(queues: list[dict[str, Any]], agents: list[dict[str, Any]], seed: int = 1) -> str:
    return json.dumps({"seed": seed, "queues": queues, "agents": agents})


SALES = [agent("a1", skills={"sales": 3}), agent("a2", skills={"sales": 5})]


def test_a_ready_agent_that_now_qualifies_is_offered_the_most_urgent_call() -> None:
    r = router([queue(skills={"sales": 9})], SALES)
    ready(r, "a1", "a2")
    r.enqueue("c1", "q", 1000)
    r.enqueue("c2", "q", 2000, priority=1)
    assert offers(r) == []
    r.reconfigure(config([queue(skills={"sales": 3})], SALES), 10_000)
    assert rows(r) == [
        ("offer", "c2", "a1", "q", 10_000, 25_000, "longest-idle", "step=0 tier=1 level=3"),
        ("offer", "c1", "a2", "q", 10_000, 25_000, "longest-idle", "step=0 tier=1 level=5"),
    ]


def test_agent_order_and_tiers_follow_the_new_config() -> None:
    r = router([queue()], [agent("a1"), agent("a2")])
    ready(r, "a1", "a2")  # both idle since 0: the lower index wins
    r.reconfigure(config([queue()], [agent("a2"), agent("a1"), agent("a3")]), 10)
    assert r.agent_ids() == ["a2", "a1", "a3"]
    assert r.agent_info("a3")["state"] == "logged-out"
    r.enqueue("c1", "q", 20)
    assert offers(r) == [("c1", "a2")]


def test_time_to_live_follows_the_new_setting_from_the_enqueue() -> None:
    r = router([queue(ttl_ms=60_000)], [])
    r.enqueue("c1", "q", 0)
    r.enqueue("c2", "q", 20_000)
    r.reconfigure(config([queue(ttl_ms=30_000)], []), 40_000)
    assert rows(r) == [("terminal", "c1", "", "q", 40_000, 0, "", "expired")]
    assert r.poll_timeout() == 50_000
    assert r.call_ids() == ["c2"]


def test_an_offer_keeps_its_own_timeout() -> None:
    r = router([queue(offer_timeout_ms=15_000)], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.reconfigure(config([queue(offer_timeout_ms=1_000)], [agent("a1")]), 5_000)
    r.handle_timeout(15_000)
    assert [(e.kind, e.at_ms, e.expires_at_ms) for e in r.drain() if e.kind != "missed"] == [
        ("offer", 0, 15_000),
        ("offer", 15_000, 16_000),
    ]


def test_a_queue_renumbered_keeps_the_calls_of_its_agents_in_wrap_up() -> None:
    q1, q2 = queue("q1", wrapup_until_done=True), queue("q2")
    r = router([q1, q2], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q1", 0)
    r.accept("a1", "c1", 10)
    r.end_call("c1", 20)
    r.reconfigure(config([q2, q1], [agent("a1")]), 30)
    with pytest.raises(IllegalTransitionError, match="queue 'q1' still has calls"):
        r.reconfigure(config([q2], [agent("a1")]), 40)
    r.wrapup_done("a1", "c1", 50)
    r.reconfigure(config([q2], [agent("a1")]), 60)
    assert r.queue_ids() == ["q2"]


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (
            config([queue(skills={"sales": 11})], [agent("a1"), agent("a2")]),
            ConfigError,
            "queues[0].skills.sales: level 11 out of range 1..10",
        ),
        (
            config([queue()], [agent("a1"), agent("a2")], seed=2),
            InvalidArgumentError,
            "seed: a running router keeps its seed (1), got 2",
        ),
        (
            config([queue()], [agent("a1")]),
            IllegalTransitionError,
            "agent 'a2' is busy: cannot remove it (log it out first)",
        ),
        (
            config([queue()], [agent("a1"), agent("a2", capacity={"chat": 2})]),
            IllegalTransitionError,
            "agent 'a2' holds 1 voice work item(s): cannot lower its voice capacity to 0",
        ),
        (
            config([queue("other")], [agent("a1"), agent("a2")]),
            IllegalTransitionError,
            "queue 'q' still has calls (waiting, offered, connected or in wrap-up):"
            " cannot remove it",
        ),
    ],
)
def test_refusals_change_nothing(text: str, error: type[Exception], message: str) -> None:
    r = router([queue()], [agent("a1"), agent("a2")])
    ready(r, "a2")
    r.enqueue("c1", "q", 0)
    r.accept("a2", "c1", 10)
    r.drain()
    before = (r.agent_ids(), r.call_ids(), r.agent_info("a2"), r.poll_timeout())
    with pytest.raises(error) as info:
        r.reconfigure(text, 20)
    assert str(info.value) == message
    assert (r.agent_ids(), r.call_ids(), r.agent_info("a2"), r.poll_timeout()) == before
    assert r.drain() == []


def test_the_batch_form_reports_a_refusal_as_an_error_event() -> None:
    r = router([queue(), queue("other")], [])
    events = r.apply_batch(
        [
            ("enqueue", "c1", "other", 5, 0),
            ("configure", "[]", 10),
            ("configure", config([queue()], []), 20),
            ("configure", config([queue(), queue("x")], []), 30),
        ]
    )
    assert [(e.kind, e.at_ms, e.rule, e.detail.split(":")[0]) for e in events] == [
        ("error", 5, "config", "command 1"),
        ("error", 20, "illegal-transition", "command 2"),
        ("error", 30, "illegal-transition", "command 3"),
    ]
    with pytest.raises(ValueError, match="'configure' takes 2 arguments"):
        r.apply_batch([("configure", "{}")])


def test_call_ids_lists_live_calls_in_arrival_order() -> None:
    r = Router(config([queue()], [agent("a1"), agent("a2")]))
    ready(r, "a1", "a2")
    for i, call_id in enumerate(["c3", "c1", "c2", "c4"]):
        r.enqueue(call_id, "q", 100 + i)
    r.accept("a1", "c3", 200)
    r.abandon("c2", 300)
    assert r.call_ids() == ["c3", "c1", "c4"]
