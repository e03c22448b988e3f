"""The native router (``acd._core``) through Python: reconfiguration and ``call_ids``.

Expected values are worked out from acd_core/ROUTING.md (Reconfiguration, Batch commands), not
recorded from a run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from acd._core import (
    ConfigError,
    IllegalTransitionError,
    InvalidArgumentError,
    Router,
)
from binding_helpers import decisions, make, ready, refuses


def config(
    queues: list[dict[str, Any]] | None = None,
    agents: list[dict[str, Any]] | None = None,
    **top: Any,
) -> str:
    """The JSON ``make`` builds a router from (seed 1, queue q, agent a1 by default)."""
    queues = [{"id": "q"}] if queues is None else queues
    agents = [{"id": "a1"}] if agents is None else agents
    return json.dumps({"seed": 1, "queues": queues, "agents": agents, **top})


SALES_AGENTS = [{"id": "a1", "skills": {"sales": 3}}, {"id": "a2", "skills": {"sales": 5}}]


def test_a_ready_agent_that_now_qualifies_is_offered_the_most_urgent_call() -> None:
    r = make([{"id": "q", "skills": {"sales": 9}}], SALES_AGENTS)
    ready(r, "a1", "a2")
    r.enqueue("c1", "q", 1000)
    r.enqueue("c2", "q", 2000, priority=1)
    assert decisions(r) == []
    r.reconfigure(config([{"id": "q", "skills": {"sales": 3}}], SALES_AGENTS), 10_000)
    # c2 first (priority); both agents idle since 0: a1 (lower index) then a2. Offers of
    # the default 15 s timeout; level = the agent's sales level.
    assert decisions(r) == [
        ("offer", "c2", "a1", "q", 10_000, 25_000, "longest-idle", "step=0 tier=1 level=3"),
        ("offer", "c1", "a2", "q", 10_000, 25_000, "longest-idle", "step=0 tier=1 level=5"),
    ]


def test_added_and_removed_queues_and_agents_follow_the_new_order() -> None:
    r = make([{"id": "q"}, {"id": "old"}], [{"id": "a1"}, {"id": "gone"}])
    ready(r, "a1")
    r.reconfigure(config([{"id": "new"}, {"id": "q"}], [{"id": "b"}, {"id": "a1"}]), 50)
    assert r.queue_ids() == ["new", "q"]
    assert r.agent_ids() == ["b", "a1"]
    assert r.agent_info("a1")["state"] == "ready"
    assert r.agent_info("b")["state"] == "logged-out"
    assert r.enqueue("c1", "new", 60)
    assert [e.agent_id for e in r.drain() if e.kind == "offer"] == ["a1"]


def test_a_shorter_time_to_live_expires_calls_that_waited_longer_at_once() -> None:
    r = make([{"id": "q", "ttl_ms": 60_000}], [])
    r.enqueue("c1", "q", 0)
    r.enqueue("c2", "q", 20_000)
    r.reconfigure(config([{"id": "q", "ttl_ms": 30_000}], []), 40_000)
    assert decisions(r) == [("terminal", "c1", "", "q", 40_000, 0, "", "expired")]
    assert r.poll_timeout() == 50_000
    assert r.call_ids() == ["c2"]


def test_an_offer_keeps_its_own_timeout() -> None:
    r = make([{"id": "q", "offer_timeout_ms": 15_000}])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.drain()
    r.reconfigure(config([{"id": "q", "offer_timeout_ms": 1_000}]), 5_000)
    r.handle_timeout(14_999)
    assert r.call_info("c1")["state"] == "offered"  # type: ignore[index]
    r.handle_timeout(15_000)
    offers = [(e.at_ms, e.expires_at_ms) for e in r.drain() if e.kind == "offer"]
    assert offers == [(15_000, 16_000)]  # a1 missed it and is Ready again: the new timeout


def test_refusals_name_what_is_in_the_way_and_change_nothing() -> None:
    r = make([{"id": "q"}, {"id": "other"}], [{"id": "a1"}, {"id": "a2"}])
    r.enqueue("c1", "other", 0)
    r.login("a2", 0)
    refuses(
        r,
        10,
        lambda: r.reconfigure(config([{"id": "q", "skills": {"s": 11}}]), 10),
        ConfigError,
        "queues[0].skills.s: level 11 out of range 1..10",
    )
    refuses(
        r,
        10,
        lambda: r.reconfigure(config(seed=2), 10),
        InvalidArgumentError,
        "seed: a running router keeps its seed (1), got 2",
    )
    refuses(
        r,
        10,
        lambda: r.reconfigure(config([{"id": "q"}], [{"id": "a1"}, {"id": "a2"}]), 10),
        IllegalTransitionError,
        "queue 'other' still has calls (waiting, offered, connected or in wrap-up):"
        " cannot remove it",
    )
    refuses(
        r,
        10,
        lambda: r.reconfigure(config([{"id": "q"}, {"id": "other"}], [{"id": "a1"}]), 10),
        IllegalTransitionError,
        "agent 'a2' is not-ready: cannot remove it (log it out first)",
    )
    refuses(
        r,
        20,
        lambda: r.reconfigure(config([{"id": "q"}, {"id": "other"}]), 19),
        InvalidArgumentError,
        "now_ms: time went backwards (19 < 20)",
    )


def test_the_batch_form_applies_or_reports_an_error_event() -> None:
    r = make([{"id": "q"}, {"id": "other"}])
    events = r.apply_batch(
        [
            ("enqueue", "c1", "other", 5, 0),
            ("configure", "{not json", 10),
            ("configure", config([{"id": "q"}]), 20),
            ("configure", config([{"id": "q"}, {"id": "other"}, {"id": "x"}]), 30),
        ]
    )
    errors = [(e.kind, e.at_ms, e.rule, e.detail.split(":")[0]) for e in events]
    assert errors == [
        ("error", 5, "config", "command 1"),
        ("error", 20, "illegal-transition", "command 2"),
    ]
    assert r.queue_ids() == ["q", "other", "x"]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (("configure", "{}"), "commands[0]: 'configure' takes 2 arguments, got 1"),
        (("configure", {"queues": []}, 5), "commands[0][1]: "),
        (("configure", "{}", "5"), "commands[0][2]: "),
    ],
)
def test_a_malformed_configure_tuple_raises_value_error(command: Any, message: str) -> None:
    r = make()
    with pytest.raises(ValueError) as info:
        r.apply_batch([command])
    assert str(info.value).startswith(message)
    assert r.queue_ids() == ["q"]


def test_call_ids_lists_live_calls_in_arrival_order() -> None:
    r = make(agents=[{"id": "a1"}, {"id": "a2"}])
    ready(r, "a1", "a2")
    for i, call_id in enumerate(["c3", "c1", "c2", "c4"]):
        r.enqueue(call_id, "q", 100 + i)
    r.accept("a1", "c3", 200)  # connected; c1 offered to a2; c2 and c4 waiting
    r.abandon("c2", 300)
    assert r.call_ids() == ["c3", "c1", "c4"]
    r.end_call("c3", 400)
    assert r.call_ids() == ["c1", "c4"]
    assert make().call_ids() == []


def test_a_reconfigured_router_snapshots_and_restores_to_the_same_bytes() -> None:
    r = make([{"id": "q", "skills": {"sales": 4}}], SALES_AGENTS)
    ready(r, "a1", "a2")
    r.enqueue("c1", "q", 10)
    r.enqueue("c2", "q", 20)
    r.reconfigure(
        config(
            [{"id": "q", "skills": {"sales": 2}, "strategy": "linear"}, {"id": "extra"}],
            [*SALES_AGENTS, {"id": "a3", "skills": {"fr": 2}}],
        ),
        30,
    )
    data = r.snapshot()
    restored = Router.from_snapshot(data)
    assert restored.snapshot() == data
    assert restored.call_ids() == r.call_ids() == ["c1", "c2"]
