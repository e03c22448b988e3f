"""The Rust core against the pure-Python reference router, on one recorded command stream.

Scenario (issue 2): 10,000 agents, 100 skills (each agent 3-8 of them, levels 1-10), 200 queues,
20,000 waiting calls, then a mixed stream of enqueue / agent ready (after wrap-up) / accept /
end / wrap-up done / abandon. The stream is recorded once by driving the core, then replayed
through each router, so both do exactly the same work; their offers are compared as a check.

    python bench/core_vs_reference.py [--quick] [--seed N]

Every timing is the median of three runs, the routers taking turns. Prints a table, then as
its last line one JSON object: speedup_per_call, speedup_batch, scaling_1k_to_100k,
bytes_per_waiting_call (and the raw figures behind them). The core's batch and its drain keep
events native until read: "+read" rows also read every event's values. Two rows are floors,
not routers: "per-call loop alone" is the per-call loop driving no router (the floor of every
router driven per call), "batch input alone" is the batch method reading and converting its
tuples and applying none (the floor of any router behind the batch method; the reference's
time over it is speedup_batch_input_ceiling, the most speedup_batch could reach).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from acd import Router, reference
from acd._core import heap_bytes

Command = tuple[Any, ...]

REPEATS = 3  # timing runs per figure; the median is reported
AGENTS = 10_000
SKILLS = 100
QUEUES = 200


def make_config(seed: int) -> str:
    rng = random.Random(seed)
    queues = []
    for q in range(QUEUES):
        skills = {f"s{q % SKILLS}": rng.randint(1, 4)}
        if q % 4 == 0:
            skills[f"s{(q * 7 + 3) % SKILLS}"] = rng.randint(1, 3)
        queues.append(
            {
                "id": f"q{q}",
                "skills": skills,
                "offer_timeout_ms": 10**12,
                "wrapup_until_done": True,
                "ttl_ms": 10**12,
                "no_answer": {"max_misses": 0},
            }
        )
    agents = []
    for a in range(AGENTS):
        chosen = rng.sample(range(SKILLS), rng.randint(3, 8))
        agents.append({"id": f"a{a}", "skills": {f"s{s}": rng.randint(1, 10) for s in chosen}})
    return json.dumps({"seed": seed, "queues": queues, "agents": agents})


class Pool:
    """A set with O(1) random choice and removal (swap-remove)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.where: dict[str, int] = {}

    def add(self, x: str) -> None:
        self.where[x] = len(self.items)
        self.items.append(x)

    def discard(self, x: str) -> None:
        i = self.where.pop(x, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.where[last] = i

    def pick(self, rng: random.Random) -> str:
        return self.items[rng.randrange(len(self.items))]

    def __len__(self) -> int:
        return len(self.items)


class Recorder:
    """Drives the core and records the commands, so the stream is valid for any router."""

    def __init__(self, config: str, seed: int) -> None:
        self.router = Router(config)
        self.rng = random.Random(seed + 1)
        self.now = 0
        self.seq = 0
        self.commands: list[Command] = []
        self.waiting = Pool()  # calls not yet offered
        self.offers: dict[str, str] = {}  # agent -> offered call
        self.offer_pool = Pool()  # agents holding an offer
        self.connected = Pool()  # calls connected
        self.connected_agent: dict[str, str] = {}
        self.wrapping = Pool()  # agents in wrap-up
        self.wrapup_call: dict[str, str] = {}

    def do(self, command: Command) -> None:
        self.commands.append(command)
        for e in self.router.apply_batch([command]):
            if e.kind == "offer":
                self.waiting.discard(e.call_id)
                self.offers[e.agent_id] = e.call_id
                self.offer_pool.add(e.agent_id)
            elif e.kind == "error":
                raise RuntimeError(f"recorded an invalid command {command}: {e.detail}")

    def tick(self) -> int:
        self.now += 1
        return self.now

    def enqueue(self) -> None:
        call = f"{self.seq:08x}-5b1e-4c6a-9e2f-{self.seq:012x}"  # PBX-UUID-sized ids
        self.seq += 1
        self.waiting.add(call)
        queue = f"q{self.rng.randrange(QUEUES)}"
        self.do(("enqueue", call, queue, self.tick(), self.rng.randint(0, 2)))

    def step(self) -> None:
        """One command of the mixed stream, by weights that keep the depth near its start."""
        r = self.rng.random()
        if r < 0.30 or not (self.offer_pool or self.connected or self.wrapping):
            self.enqueue()
        elif r < 0.35 and self.waiting:
            call = self.waiting.pick(self.rng)
            self.waiting.discard(call)
            self.do(("abandon", call, self.tick()))
        elif r < 0.55 and self.offer_pool:
            agent = self.offer_pool.pick(self.rng)
            self.offer_pool.discard(agent)
            call = self.offers.pop(agent)
            self.connected.add(call)
            self.connected_agent[call] = agent
            self.do(("accept", agent, call, self.tick()))
        elif r < 0.75 and self.connected:
            call = self.connected.pick(self.rng)
            self.connected.discard(call)
            agent = self.connected_agent.pop(call)
            self.wrapping.add(agent)
            self.wrapup_call[agent] = call
            self.do(("end", call, self.tick()))
        elif self.wrapping:
            agent = self.wrapping.pick(self.rng)
            self.wrapping.discard(agent)
            self.do(("wrapup_done", agent, self.wrapup_call.pop(agent), self.tick()))
        else:
            self.enqueue()


def record(config: str, seed: int, depth: int, stream: int) -> tuple[list[Command], list[Command]]:
    """Returns (setup, mixed stream): setup logs in every agent and fills the line to `depth`."""
    rec = Recorder(config, seed)
    for a in range(AGENTS):
        rec.do(("login", f"a{a}", 0))
        rec.do(("ready", f"a{a}", 0))
    while len(rec.waiting) < depth:
        rec.enqueue()
    setup = rec.commands
    rec.commands = []
    for _ in range(stream):
        rec.step()
    return setup, rec.commands


def bound_calls(router: Any, stream: list[Command]) -> list[tuple[Callable[..., Any], Command]]:
    """(method, arguments) for each command, resolved before the clock starts, for every router
    alike: the timed loop then costs what a service's own call costs, not a lookup of the
    command's name and a slice of its tuple (about half a microsecond a command here)."""
    methods: dict[str, Callable[..., Any]] = {
        "enqueue": router.enqueue,
        "abandon": router.abandon,
        "login": router.login,
        "ready": router.set_ready,
        "accept": router.accept,
        "end": router.end_call,
        "wrapup_done": router.wrapup_done,
    }
    return [(methods[c[0]], c[1:]) for c in stream]


def time_per_call(router: Any, stream: list[Command], read: bool = False) -> float:
    """One Python call per command, then drain: how a service would drive a router. `read`:
    every drained event's values are read too (the core's drain keeps them native until
    read, as its batch does; the reference's events are Python objects already)."""
    calls = bound_calls(router, stream)
    drain = router.drain
    start = time.perf_counter()
    if read:
        for method, args in calls:
            method(*args)
            for e in drain():
                e.as_tuple()
    else:
        for method, args in calls:
            method(*args)
            drain()
    return time.perf_counter() - start


class NoRouter:
    """The per-call loop's own cost: every command and drain is a C call that does nothing
    (``"".format`` takes any arguments), so what it measures is the floor of any router."""

    def __init__(self) -> None:
        for name in ("enqueue", "abandon", "login", "set_ready", "accept", "end_call"):
            setattr(self, name, "".format)
        self.wrapup_done = "".format
        self.drain = list


def offers_of(router: Any, stream: list[Command]) -> list[tuple[str, str]]:
    return [(e.call_id, e.agent_id) for e in router.apply_batch(stream) if e.kind == "offer"]


def time_batch(router: Any, stream: list[Command], chunk: int = 1000, read: bool = False) -> float:
    """Chunks of `chunk` commands through ``apply_batch``; `read`: every event's values are
    then read as tuples too (what the service does with a batch's events)."""
    start = time.perf_counter()
    for i in range(0, len(stream), chunk):
        events = router.apply_batch(stream[i : i + chunk])
        if read:
            if hasattr(events, "as_tuples"):
                events.as_tuples()
            else:
                for e in events:
                    e.as_tuple()
    return time.perf_counter() - start


# Not a command: a batch that ends with it is refused after every tuple before it was parsed.
_REFUSED = ("no-such-command",)


def time_batch_input(router: Any, stream: list[Command], chunk: int = 1000) -> float:
    """The batch method's input alone: each chunk with a refused command at its end, so the
    binding reads and converts every tuple (ids, queue names, times) and then applies
    nothing (a malformed batch changes nothing). No router, however fast, passes this floor
    behind this API: it bounds ``speedup_batch`` (``speedup_batch_input_ceiling``)."""
    elapsed = 0.0
    for i in range(0, len(stream), chunk):
        batch = [*stream[i : i + chunk], _REFUSED]
        start = time.perf_counter()
        try:
            router.apply_batch(batch)
        except ValueError:
            pass
        else:
            raise AssertionError("the refused command was accepted")
        elapsed += time.perf_counter() - start
    return elapsed


def fresh(kind: str, config: str, setup: list[Command]) -> Any:
    router: Any = Router(config) if kind == "core" else reference.Router(config)
    router.apply_batch(setup)
    return router


def bytes_per_waiting_call(config: str, calls: int) -> float:
    """Live native heap per waiting call: agents stay logged out, so every call waits."""
    router = Router(config)
    rng = random.Random(7)
    batch = [
        ("enqueue", f"{i:08x}-5b1e-4c6a-9e2f-{i:012x}", f"q{rng.randrange(QUEUES)}", 1, 0)
        for i in range(calls)
    ]
    router.apply_batch(batch[:1])  # classes and first allocations are not per call
    before = heap_bytes()
    router.apply_batch(batch[1:])
    assert router.waiting_count() == calls
    return (heap_bytes() - before) / (calls - 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller streams (under 60 s)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    stream_len = 20_000 if args.quick else 100_000
    config = make_config(args.seed)

    t0 = time.perf_counter()
    setup, stream = record(config, args.seed, 20_000, stream_len)
    print(
        f"recorded {len(setup)} setup + {len(stream)} stream commands "
        f"in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )

    # Each timing is the median of REPEATS runs, the routers taking turns within each round,
    # so a burst of noise on this shared machine moves one sample, not a whole ratio.
    runs: dict[str, Callable[[], float]] = {
        "ref": lambda: time_per_call(fresh("reference", config, setup), stream),
        "call": lambda: time_per_call(fresh("core", config, setup), stream),
        "ref_read": lambda: time_per_call(fresh("reference", config, setup), stream, read=True),
        "call_read": lambda: time_per_call(fresh("core", config, setup), stream, read=True),
        "batch": lambda: time_batch(fresh("core", config, setup), stream),
        "batch_read": lambda: time_batch(fresh("core", config, setup), stream, read=True),
        "ref_batch_read": lambda: time_batch(fresh("reference", config, setup), stream, read=True),
        "batch_input": lambda: time_batch_input(fresh("core", config, setup), stream),
    }
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(REPEATS):
        for name, run in runs.items():
            samples[name].append(run())
    med = {name: statistics.median(values) for name, values in samples.items()}
    t_ref, t_call, t_ref_read = med["ref"], med["call"], med["ref_read"]
    t_call_read, t_batch, t_batch_read = med["call_read"], med["batch"], med["batch_read"]
    t_ref_batch_read, t_batch_input = med["ref_batch_read"], med["batch_input"]
    t_harness = time_per_call(NoRouter(), stream)

    # Same decisions: replay both once more and compare every offer.
    same = offers_of(fresh("reference", config, setup), stream) == offers_of(
        fresh("core", config, setup), stream
    )

    # Scaling: the core's per-command cost with 100,000 waiting calls vs 1,000 (same agents).
    scale_len = 10_000 if args.quick else 50_000
    costs = {}
    for depth in (1_000, 100_000):
        s_setup, s_stream = record(config, args.seed, depth, scale_len)
        router = fresh("core", config, s_setup)
        costs[depth] = time_batch(router, s_stream) / len(s_stream)
    scaling = costs[100_000] / costs[1_000]

    mem = bytes_per_waiting_call(config, 20_000 if args.quick else 100_000)

    n = len(stream)
    rows = [
        ("reference, per call", t_ref),
        ("core, per call", t_call),
        ("reference, per call+read", t_ref_read),
        ("core, per call+read", t_call_read),
        ("core, batch", t_batch),
        ("reference, batch+read", t_ref_batch_read),
        ("core, batch+read", t_batch_read),
        ("batch input alone", t_batch_input),
        ("per-call loop alone", t_harness),
    ]
    print(f"{'router':<22} {'total s':>9} {'us/command':>11} {'speedup':>8}")
    for name, t in rows:
        print(f"{name:<22} {t:>9.3f} {t / n * 1e6:>11.2f} {t_ref / t:>8.1f}")
    print(
        f"core us/command at 1k waiting {costs[1_000] * 1e6:.2f}, "
        f"at 100k waiting {costs[100_000] * 1e6:.2f}"
    )
    print(f"native heap per waiting call: {mem:.0f} bytes")
    print(f"same offers in core and reference: {same}")
    result = {
        "speedup_per_call": round(t_ref / t_call, 2),
        "speedup_batch": round(t_ref / t_batch, 2),
        "speedup_batch_read": round(t_ref / t_batch_read, 2),
        "speedup_batch_input_ceiling": round(t_ref / t_batch_input, 2),
        "speedup_per_call_read": round(t_ref_read / t_call_read, 2),
        "scaling_1k_to_100k": round(scaling, 3),
        "bytes_per_waiting_call": round(mem, 1),
        "commands": n,
        "reference_us_per_command": round(t_ref / n * 1e6, 3),
        "core_per_call_us_per_command": round(t_call / n * 1e6, 3),
        "reference_per_call_read_us_per_command": round(t_ref_read / n * 1e6, 3),
        "core_per_call_read_us_per_command": round(t_call_read / n * 1e6, 3),
        "core_batch_us_per_command": round(t_batch / n * 1e6, 3),
        "core_batch_read_us_per_command": round(t_batch_read / n * 1e6, 3),
        "reference_batch_read_us_per_command": round(t_ref_batch_read / n * 1e6, 3),
        "batch_input_us_per_command": round(t_batch_input / n * 1e6, 3),
        "per_call_loop_us_per_command": round(t_harness / n * 1e6, 3),
        "same_offers": same,
    }
    print(json.dumps(result))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
