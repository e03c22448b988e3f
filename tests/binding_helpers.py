"""Shared helpers for the tests of the native router (``acd._core``) through Python.

Used by the tests/test_binding_*.py files: building a router, reading its events, checking a
refused command, and the small day in one queue that the views and snapshot tests play.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from acd._core import AcdError, Router

Row = tuple[str, str, str, str, int, int, str, str]


def make(
    queues: list[dict[str, Any]] | None = None,
    agents: list[dict[str, Any]] | None = None,
    **top: Any,
) -> Router:
    queues = [{"id": "q"}] if queues is None else queues
    agents = [{"id": "a1"}] if agents is None else agents
    return Router(json.dumps({"seed": 1, "queues": queues, "agents": agents, **top}))


def ready(r: Router, *agent_ids: str, at: int = 0) -> None:
    for agent_id in agent_ids:
        r.login(agent_id, at)
        r.set_ready(agent_id, at)


def rows(r: Router, *skip: str) -> list[Row]:
    """Drained events as tuples, leaving out the kinds in ``skip``."""
    return [e.as_tuple() for e in r.drain() if e.kind not in skip]


def decisions(r: Router) -> list[Row]:
    return rows(r, "agent-state")


def refuses(
    r: Router, now: int, command: Callable[[], object], cls: type[AcdError], message: str
) -> None:
    """``command`` raises ``cls(message)`` and leaves the router byte for byte as it was."""
    r.handle_timeout(now)  # timers due by now fire first, so only the refusal could change state
    r.drain()
    before = r.snapshot()
    with pytest.raises(cls) as info:
        command()
    assert type(info.value) is cls
    assert str(info.value) == message
    assert r.snapshot() == before
    assert len(r.drain()) == 0


STATS_CONFIG = {
    "seed": 1,
    "queues": [
        {
            "id": "sales",
            "skills": {"sales": 3},
            "sl_threshold_ms": 20_000,
            "short_abandon_ms": 5_000,
            "wrapup_ms": 5_000,
        }
    ],
    "agents": [
        {"id": "a1", "skills": {"sales": 5}, "group": "store"},
        {"id": "a2", "skills": {"sales": 4}, "group": "store"},
        {"id": "a3", "group": "other"},  # no sales skill: not one of the queue's team
    ],
}

# (method, args, kwargs): a small day in one queue, split where the views are checked.
Step = tuple[str, tuple[Any, ...], dict[str, Any]]
MORNING: list[Step] = [
    ("login", ("a1", 0), {}),
    ("login", ("a2", 0), {}),
    ("login", ("a3", 0), {}),
    ("logout", ("a3", 100), {}),
    ("set_ready", ("a1", 1_000), {}),
    ("enqueue", ("c1", "sales", 2_000), {}),  # offered to a1 at once
    (
        "enqueue",
        ("c2", "sales", 3_000),
        {"caller": "+4930123", "dialled": "800", "attributes": {"order": "42"}},
    ),
    ("accept", ("a1", "c1", 4_000), {}),  # c1 waited 2 s
    ("enqueue", ("c3", "sales", 5_000), {}),
    ("abandon", ("c3", 6_000), {}),  # after 1 s: a short abandon, within the SL threshold
]
AFTERNOON: list[Step] = [
    ("end_call", ("c1", 34_000), {}),  # 30 s talk, wrap-up to 39 s, then c2 goes to a1
    ("handle_timeout", (40_000,), {}),
    ("accept", ("a1", "c2", 41_000), {}),  # c2 waited 38 s: outside the SL threshold
    ("end_call", ("c2", 50_000), {}),  # 9 s talk
    ("wrapup_done", ("a1", "c2", 52_000), {}),  # 2 s wrap-up
    ("logout", ("a2", 60_000), {}),
    ("enqueue", ("c4", "sales", 1_000_000), {}),  # the next interval; offered to a1
    ("abandon", ("c4", 1_000_500), {}),
]


def play(r: Router, steps: list[Step]) -> None:
    for method, args, kwargs in steps:
        getattr(r, method)(*args, **kwargs)
