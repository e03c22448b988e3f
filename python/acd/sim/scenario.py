"""Router configurations for the simulated contact centers (schema: acd_core/ROUTING.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from acd.sim.driver import Login

# Simulated agents answer every offer at once; an offer never times out.
_OFFER_TIMEOUT_MS = 3_600_000
# Longer than any simulated day, so calls leave by being answered or by hanging up.
_TTL_MS = 7 * 86_400_000
SHORT_ABANDON_MS = 5_000

SCENARIOS = ("first-line-overflow", "single")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    queue_id: str
    config: dict[str, Any]
    logins: list[Login]
    groups: dict[str, list[str]] = field(default_factory=dict)  # group -> its agent ids
    threshold_ms: int = 20_000
    short_abandon_ms: int = SHORT_ABANDON_MS
    wrapup_ms: int = 0


def _queue(queue_id: str, skill: str, level: int, threshold_ms: int) -> dict[str, Any]:
    return {
        "id": queue_id,
        "skills": {skill: level},
        "strategy": "longest-idle",
        "sl_threshold_ms": threshold_ms,
        "short_abandon_ms": SHORT_ABANDON_MS,
        "offer_timeout_ms": _OFFER_TIMEOUT_MS,
        "wrapup_ms": 0,
        "ttl_ms": _TTL_MS,
    }


def single_queue(agents: int, threshold_ms: int, seed: int, login_ms: int = 0) -> Scenario:
    """One queue, one skill, `agents` equal agents, longest-idle FCFS."""
    ids = [f"agent-{n:03d}" for n in range(1, agents + 1)]
    config = {
        "seed": seed,
        "queues": [_queue("calls", "calls", 1, threshold_ms)],
        "agents": [{"id": a, "skills": {"calls": 1}, "group": "agents"} for a in ids],
    }
    logins = [Login(a, login_ms) for a in ids]
    return Scenario("single", "calls", config, logins, {"agents": ids}, threshold_ms)


def first_line_overflow(
    threshold_ms: int, seed: int, overflow: bool, login_ms: int = 0
) -> Scenario:
    """The "first line + overflow" case of shared/workloads/README.md.

    Tier 1: 6 store managers (sales, high level); tier 2: 10 outsourced agents (sales, lower
    level). With overflow a call goes to tier 1 while any tier-1 agent is free, otherwise at once
    to tier 2 (every tier, lower tiers first). Without it only tier 1 serves the queue, and the
    tier-2 agents do not log in.
    """
    managers = [f"manager-{n}" for n in range(1, 7)]
    outsourced = [f"outsourced-{n:02d}" for n in range(1, 11)]
    queue = _queue("sales", "sales", 3, threshold_ms)
    queue["max_tier"] = 0 if overflow else 1
    queue["prefer_lower_tier"] = True
    agents = [{"id": a, "skills": {"sales": 8}, "tier": 1, "group": "store"} for a in managers] + [
        {"id": a, "skills": {"sales": 4}, "tier": 2, "group": "outsourced"} for a in outsourced
    ]
    config = {"seed": seed, "queues": [queue], "agents": agents}
    on_duty = managers + outsourced if overflow else managers
    groups = {"store": managers, "outsourced": outsourced if overflow else []}
    return Scenario(
        "first-line-overflow",
        "sales",
        config,
        [Login(a, login_ms) for a in on_duty],
        groups,
        threshold_ms,
    )
