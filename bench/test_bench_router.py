"""pytest-benchmark suite: one routing cycle through the core and through the reference.

Run by `make bench` (`pytest bench --benchmark-only`); not part of `make test`. One cycle = a
call arrives and waits, an agent finishes wrap-up, is offered the most urgent call, accepts it
and hangs up: the same four commands on both routers, at 2,000 waiting calls and 500 agents.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from acd import Router, reference

AGENTS = 500
QUEUES = 20
DEPTH = 2_000


def config() -> str:
    rng = random.Random(3)
    queues = [
        {"id": f"q{q}", "skills": {f"s{q % 10}": 1}, "wrapup_until_done": True, "ttl_ms": 10**12}
        for q in range(QUEUES)
    ]
    agents = [
        {"id": f"a{a}", "skills": {f"s{s}": rng.randint(1, 10) for s in rng.sample(range(10), 4)}}
        for a in range(AGENTS)
    ]
    return json.dumps({"queues": queues, "agents": agents})


def prepared(make: Callable[[str], Any]) -> tuple[Any, Callable[[], None]]:
    """A router with every agent in wrap-up and DEPTH calls waiting, and one cycle to repeat."""
    router = make(config())
    rng = random.Random(5)
    clock = itertools.count(1)
    for a in range(AGENTS):
        router.login(f"a{a}", 0)
        router.set_ready(f"a{a}", 0)
    ids = itertools.count()
    for _ in range(AGENTS + DEPTH):
        router.enqueue(f"c{next(ids)}", f"q{rng.randrange(QUEUES)}", next(clock))
    holding: dict[str, str] = {}
    for e in router.drain():
        if e.kind == "offer":
            holding[e.agent_id] = e.call_id
    for agent, call in holding.items():
        t = next(clock)
        router.accept(agent, call, t)
        router.end_call(call, t)
    router.drain()
    agents = list(holding)

    def cycle() -> None:
        t = next(clock)
        router.enqueue(f"c{next(ids)}", f"q{rng.randrange(QUEUES)}", t)
        agent = agents[rng.randrange(len(agents))]
        router.wrapup_done(agent, holding[agent], t)
        offers = [e for e in router.drain() if e.kind == "offer"]
        if offers:
            call = offers[0].call_id
            router.accept(agent, call, t)
            router.end_call(call, t)
            holding[agent] = call
        router.drain()

    return router, cycle


@pytest.mark.parametrize("kind", ["core", "reference"])
def test_routing_cycle(benchmark: Any, kind: str) -> None:
    make: Callable[[str], Any] = Router if kind == "core" else reference.Router
    router, cycle = prepared(make)
    benchmark(cycle)
    assert router.waiting_count() >= DEPTH - 1
