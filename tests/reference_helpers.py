"""Shared helpers for the tests of the pure-Python reference router (acd.reference).

Used by the tests/test_reference_*.py files.
"""

from __future__ import annotations

import json
from typing import Any

from acd.reference import Router

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
