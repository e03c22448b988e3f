"""Differential test: the native core and the pure-Python reference make the same decisions.

A seeded generator builds a random configuration inside the reference's subset (ROUTING.md,
**[ref]**) and a random stream of commands with non-decreasing time, biased towards commands
that are valid in the current state (it follows the events and agent states so far) with some
invalid ones mixed in. After every command the two routers must agree on:

- the events of the **[ref]** kinds, in order, field for field (the core's ``agent-state``
  events are left out: the reference does not produce them);
- whether the command was refused, the exception class and its message (identical: every
  error here is a runtime error, not a configuration one);
- every agent's state and reason, ``waiting_count()`` and ``poll_timeout()``;
- enqueue's return value.

Among the commands are reconfigurations (``reconfigure`` / the batch ``configure``) to random
variants of the current configuration: queues and agents added, changed, reordered and removed,
and changes both must refuse (a new seed, an invalid level, a queue or agent still in use).
Both routers must then also agree on ``agent_ids()`` and ``call_ids()``, and the core's snapshot
after each one must restore to the same bytes.

The same command streams then go through ``apply_batch`` in random-sized chunks: the events,
``error`` events included, must agree too, and the non-error events must be the ones the
command-by-command run produced.

``ACD_DIFF_SEEDS=N`` runs N seeds (default 300); ``ACD_DIFF_SEED=N`` replays one seed.
"""

from __future__ import annotations

import functools
import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

import acd
from acd import reference
from acd.protocol import RouterLike

STEPS = 300
DEFAULT_SEEDS = 300
# Event kinds the reference produces (ROUTING.md, Events, **[ref]**), plus batch errors.
REF_KINDS = frozenset({"offer", "revoke", "connected", "missed", "ended", "terminal"})
BATCH_KINDS = REF_KINDS | {"error"}
SKILLS = ("sales", "support", "fr", "de")
REASONS = ("break", "lunch", "", "training")

Row = tuple[str, str, str, str, int, int, str, str]
Command = tuple[Any, ...]


def seeds() -> list[int]:
    one = os.environ.get("ACD_DIFF_SEED")
    if one is not None:
        return [int(one)]
    return list(range(int(os.environ.get("ACD_DIFF_SEEDS", DEFAULT_SEEDS))))


# ---- random configuration ---------------------------------------------------------------


def random_queue(rng: random.Random, queue_id: str) -> dict[str, Any]:
    """A longest-idle queue with random skills and timings."""
    required = rng.sample(SKILLS, rng.choice([0, 1, 1, 2]))
    no_answer = {
        "reject_delay_ms": rng.choice([0, 0, 1, 150, 2000]),
        "timeout_delay_ms": rng.choice([0, 0, 1, 150, 2000]),
        "max_misses": rng.choice([0, 1, 2, 3, 5]),
    }
    offer_timeout_ms = rng.choice([1, 40, 300, 1500, 15000, 15000])
    if no_answer["max_misses"] == 0:
        # An unanswered offer then rings again forever: keep the cycle long enough that a
        # jump in time does not replay thousands of offers (valid, but slow to compare).
        offer_timeout_ms = max(offer_timeout_ms, 300 - no_answer["timeout_delay_ms"])
    return {
        "id": queue_id,
        "skills": {s: rng.choice([1, 1, 2, 3, 5, 8, 10]) for s in required},
        "strategy": "longest-idle",
        "offer_timeout_ms": offer_timeout_ms,
        "wrapup_ms": rng.choice([0, 0, 1, 100, 800, 5000]),
        "wrapup_until_done": rng.random() < 0.2,
        "no_answer": no_answer,
        "ttl_ms": rng.choice([1, 500, 5000, 30000, 120_000, 14_400_000]),
        "max_tier": rng.choice([0, 1]),
        "prefer_lower_tier": rng.random() < 0.5,
    }


def random_agent(rng: random.Random, agent_id: str) -> dict[str, Any]:
    """A tier-1 agent with random skills, rarely a capacity of its own."""
    agent: dict[str, Any] = {
        "id": agent_id,
        "skills": {s: rng.randint(1, 10) for s in SKILLS if rng.random() < 0.6},
        "tier": 1,
    }
    if rng.random() < 0.1:
        agent["capacity"] = rng.choice([{"voice": 0, "chat": 2}, {"voice": 1}])
    return agent


def random_config(rng: random.Random) -> dict[str, Any]:
    """1-4 longest-idle queues and 2-10 tier-1 agents with random skills and timings."""
    queues = [random_queue(rng, f"q{i}") for i in range(rng.randint(1, 4))]
    agents = [random_agent(rng, f"a{i}") for i in range(rng.randint(2, 10))]
    # Far longer than any run: the core forgets finished call ids after the window, the
    # reference never does.
    return {
        "seed": rng.randint(0, 1000),
        "dedup_window_ms": 10**12,
        "queues": queues,
        "agents": agents,
    }


def changed_config(rng: random.Random, current: dict[str, Any], n: int) -> dict[str, Any]:
    """A random change to ``current``, of the kinds an admin makes; some must be refused.
    ``n`` makes the ids of added queues and agents new."""
    config: dict[str, Any] = json.loads(json.dumps(current))
    queues: list[dict[str, Any]] = config["queues"]
    agents: list[dict[str, Any]] = config["agents"]
    roll = rng.randrange(11)
    if roll == 0:
        queues.insert(rng.randint(0, len(queues)), random_queue(rng, f"n{n}"))
    elif roll == 1:
        queue = rng.choice(queues)
        queue["skills"] = {
            s: rng.choice([1, 2, 3, 5]) for s in rng.sample(SKILLS, rng.randint(0, 2))
        }
    elif roll == 2:
        i = rng.randrange(len(queues))
        queues[i] = {**random_queue(rng, queues[i]["id"]), "skills": queues[i]["skills"]}
    elif roll == 3:
        agents.insert(rng.randint(0, len(agents)), random_agent(rng, f"n{n}"))
    elif roll in (4, 5):
        i = rng.randrange(len(agents))
        agents[i] = random_agent(rng, agents[i]["id"])
    elif roll == 6 and len(agents) > 1:
        agents.pop(rng.randrange(len(agents)))  # refused unless logged out
    elif roll == 7 and len(queues) > 1:
        queues.pop(rng.randrange(len(queues)))  # refused while it has calls
    elif roll == 8:
        queues.reverse()
        agents.reverse()
    elif roll == 9:
        config["seed"] += 1  # refused: a running router keeps its seed
    else:
        # Refused as invalid, with the same message on both sides.
        if rng.random() < 0.5:
            queues[0]["skills"] = {"sales": 11}
        else:
            queues.append({"id": queues[0]["id"]})
    return config


# ---- random commands --------------------------------------------------------------------


@dataclass
class Tracker:
    """What the generator knows from the events so far (which are the same on both sides)."""

    offers: dict[str, str] = field(default_factory=dict)  # call -> agent with an open offer
    connected: dict[str, str] = field(default_factory=dict)  # call -> agent
    live: set[str] = field(default_factory=set)
    used: list[str] = field(default_factory=list)  # every call id enqueued, in order
    last_call: dict[str, str] = field(default_factory=dict)  # agent -> call it last ended
    states: dict[str, str] = field(default_factory=dict)  # agent -> state

    def observe(self, rows: list[Row]) -> None:
        for kind, call, agent, *_ in rows:
            if kind == "offer":
                self.offers[call] = agent
            elif kind in ("revoke", "missed"):
                self.offers.pop(call, None)
            elif kind == "connected":
                self.offers.pop(call, None)
                self.connected[call] = agent
            elif kind == "ended":
                self.connected.pop(call, None)
                self.last_call[agent] = call
            elif kind == "terminal":
                self.live.discard(call)
                self.offers.pop(call, None)


class Generator:
    """A random command stream, biased towards commands valid in the current state."""

    def __init__(self, rng: random.Random, config: dict[str, Any]) -> None:
        self.rng = rng
        self.config = config  # the configuration in force
        self.changes = 0
        self.queues: list[str] = [q["id"] for q in config["queues"]]
        self.agents: list[str] = [a["id"] for a in config["agents"]]
        self.now = 0
        self.next_call = 0
        self.seen = Tracker(states={a: "logged-out" for a in self.agents})

    def time(self, poll: int | None, quick: bool) -> int:
        """A command's time: the same or a little later, sometimes the next deadline or a jump.

        ``quick``: an agent reacting to an offer or a call, usually before anything expires.
        """
        rng = self.rng
        roll = rng.random()
        if quick and roll < 0.7:
            self.now += rng.choice([0, 0, 1])
        elif roll < 0.35:
            pass
        elif roll < 0.75:
            self.now += rng.randint(1, 300)
        elif roll < 0.85:
            self.now += rng.randint(300, 5000)
        elif poll is not None and poll >= self.now:
            self.now = poll
        if rng.random() < 0.015 and self.now > 0:
            return self.now - rng.randint(1, min(self.now, 500))  # time going backwards
        return self.now

    def agent(self, wanted: tuple[str, ...]) -> str:
        """Mostly an agent in one of the wanted states; sometimes any, rarely an unknown one."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.02:
            return "nobody"
        fitting = [a for a in self.agents if self.seen.states[a] in wanted]
        if fitting and roll < 0.92:
            return rng.choice(fitting)
        return rng.choice(self.agents)

    def call(self, pool: dict[str, str] | set[str]) -> str:
        """Mostly a call of the pool; sometimes any call ever enqueued, rarely an unknown one."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.03:
            return "ghost"
        if pool and roll < 0.93:
            return rng.choice(sorted(pool))
        return rng.choice(self.seen.used) if self.seen.used else "ghost"

    def enqueue(self, now: int) -> Command:
        rng = self.rng
        roll = rng.random()
        if roll < 0.06 and self.seen.used:
            call_id = rng.choice(self.seen.used)  # a duplicate: live or finished
        elif roll < 0.07:
            call_id = ""  # invalid id
        else:
            call_id = f"c{self.next_call}"
            self.next_call += 1
        queue = "nowhere" if rng.random() < 0.03 else rng.choice(self.queues)
        priority = rng.randint(-2, 2)
        if rng.random() < 0.02:
            priority = rng.choice([1_000_001, -1_000_001, 2_000_000_000])
        return ("enqueue", call_id, queue, now, priority)

    def next(self, poll: int | None) -> Command:
        """The next command; commands with nothing to act on are rare (mostly invalid then)."""
        rng = self.rng
        seen = self.seen
        in_wrapup = [a for a, s in seen.states.items() if s == "wrap-up"]
        waiting = seen.live - set(seen.connected)
        weights = {
            "enqueue": 15,
            "timeout": 14,
            "accept": 30 if seen.offers else 1,
            "reject": 6 if seen.offers else 1,
            "withdraw": 2 if seen.offers else 1,
            "end": 15 if seen.connected else 1,
            "wrapup_done": 6 if in_wrapup else 1,
            "login": 5,
            "logout": 2,
            "ready": 9,
            "not_ready": 4,
            "abandon": 5 if waiting else 1,
            "configure": 3,
        }
        kind = rng.choices(list(weights), list(weights.values()))[0]
        now = self.time(poll, kind in ("accept", "reject", "withdraw", "end", "wrapup_done"))
        if kind == "enqueue":
            return self.enqueue(now)
        if kind == "configure":
            self.changes += 1
            changed = changed_config(rng, self.config, self.changes)
            return ("configure", json.dumps(changed), now)
        if kind == "timeout":
            if poll is not None and poll >= self.now and rng.random() < 0.5:
                self.now = poll
                return ("timeout", poll)
            return ("timeout", now)
        if kind in ("accept", "reject", "withdraw"):
            call_id = self.call(seen.offers)
            agent_id = seen.offers.get(call_id) or self.agent(("reserved",))
            if rng.random() < 0.05:
                agent_id = rng.choice(self.agents)  # maybe not the offered agent
            if kind == "withdraw":
                return (kind, agent_id, call_id, rng.choice(("restart", "disconnected")), now)
            return (kind, agent_id, call_id, now)
        if kind == "end":
            return ("end", self.call(seen.connected), now)
        if kind == "wrapup_done":
            agent_id = self.agent(("wrap-up",))
            call_id = seen.last_call.get(agent_id, "ghost")
            if rng.random() < 0.05:
                call_id = self.call(seen.live)
            return ("wrapup_done", agent_id, call_id, now)
        if kind == "login":
            return ("login", self.agent(("logged-out",)), now)
        if kind == "logout":
            return ("logout", self.agent(("ready", "not-ready", "reserved", "busy")), now)
        if kind == "ready":
            return ("ready", self.agent(("not-ready", "wrap-up")), now)
        if kind == "not_ready":
            reason = rng.choice(REASONS)
            if rng.random() < 0.03:
                reason = rng.choice(["bad\x07reason", "x" * 65])
            agent_id = self.agent(("ready", "not-ready", "busy", "wrap-up"))
            return ("not_ready", agent_id, reason, now)
        return ("abandon", self.call(waiting if rng.random() < 0.9 else seen.live), now)

    def applied(
        self,
        command: Command,
        result: object,
        refused: bool,
        rows: list[Row],
        states: dict[str, str],
    ) -> None:
        """Learns from what the command did: its result, its events, the agents' states."""
        if command[0] == "enqueue" and result is True:
            self.seen.live.add(command[1])
            self.seen.used.append(command[1])
        if command[0] == "configure" and not refused:
            self.config = json.loads(command[1])
            self.queues = [q["id"] for q in self.config["queues"]]
        self.seen.observe(rows)
        self.seen.states = states
        self.agents = list(states)


def apply(router: RouterLike, command: Command) -> object:
    """One command, as the method call its batch tuple stands for."""
    name, *args = command
    if name == "enqueue":
        call_id, queue_id, now, priority = args
        return router.enqueue(call_id, queue_id, now, priority)
    methods: dict[str, Callable[..., object]] = {
        "abandon": router.abandon,
        "login": router.login,
        "logout": router.logout,
        "ready": router.set_ready,
        "not_ready": router.set_not_ready,
        "accept": router.accept,
        "reject": router.reject,
        "withdraw": router.withdraw,
        "end": router.end_call,
        "wrapup_done": router.wrapup_done,
        "timeout": router.handle_timeout,
        "configure": router.reconfigure,
    }
    return methods[name](*args)


def outcome(router: RouterLike, command: Command) -> tuple[object, str | None, str | None]:
    """(return value, exception class name, message) of one command."""
    try:
        return apply(router, command), None, None
    except Exception as exc:  # the class name is compared, whatever it is
        return None, type(exc).__name__, str(exc)


def rows(events: Sequence[Any], kinds: frozenset[str]) -> list[Row]:
    return [e.as_tuple() for e in events if e.kind in kinds]


def state_of(router: RouterLike) -> dict[str, Any]:
    infos = {a: router.agent_info(a) for a in router.agent_ids()}
    return {
        "agents": {a: (i["state"], i["reason"]) for a, i in infos.items()},
        "waiting_count": router.waiting_count(),
        "poll_timeout": router.poll_timeout(),
        "agent_ids": router.agent_ids(),
        "call_ids": router.call_ids(),
    }


def routers(config: dict[str, Any]) -> tuple[acd.Router, reference.Router]:
    text = json.dumps(config)
    return acd.Router(text), reference.Router(text)


class Mismatch(AssertionError):
    pass


def fail(
    seed: int, step: int | str, what: str, core: object, ref: object, done: list[Command]
) -> None:
    """Fails with the seed and step first, the last commands and how to replay."""
    recent = "\n".join(f"  {i}: {c!r}" for i, c in list(enumerate(done))[-8:])
    raise Mismatch(
        f"seed {seed} step {step}: {what} differ\n core: {core!r}\n  ref: {ref!r}\n"
        f"last commands:\n{recent}\n"
        f"replay: ACD_DIFF_SEED={seed} pytest tests/test_differential.py"
    )


# ---- the comparisons ---------------------------------------------------------------------


@dataclass
class Run:
    config: dict[str, Any]
    commands: list[Command]
    rows: list[Row]  # every [ref]-kind event of the command-by-command run, in order
    refused: int


@functools.cache
def run_step_by_step(seed: int, steps: int = STEPS) -> Run:
    """Random commands through both routers, comparing after every one.

    Cached: the batch test replays the commands of the same seed without generating them again.
    """
    rng = random.Random(seed)
    config = random_config(rng)
    core, ref = routers(config)
    gen = Generator(rng, config)
    commands: list[Command] = []
    all_rows: list[Row] = []
    refused = 0
    for step in range(steps):
        command = gen.next(ref.poll_timeout())
        commands.append(command)
        core_out, ref_out = outcome(core, command), outcome(ref, command)
        core_rows, ref_rows = rows(core.drain(), REF_KINDS), rows(ref.drain(), REF_KINDS)
        if core_out != ref_out:
            fail(seed, step, "results (value, error class, message)", core_out, ref_out, commands)
        if core_rows != ref_rows:
            fail(seed, step, "events", core_rows, ref_rows, commands)
        core_state, ref_state = state_of(core), state_of(ref)
        if core_state != ref_state:
            fail(seed, step, "states", core_state, ref_state, commands)
        if command[0] == "configure" and core_out[1] is None:
            data = core.snapshot()
            again = acd.Router.from_snapshot(data).snapshot()
            if again != data:
                fail(seed, step, "snapshots after a restore", len(again), len(data), commands)
        refused += ref_out[1] is not None
        all_rows += ref_rows
        states = {a: s for a, (s, _) in ref_state["agents"].items()}
        gen.applied(command, ref_out[0], ref_out[1] is not None, ref_rows, states)
    return Run(config, commands, all_rows, refused)


def run_batches(seed: int, run: Run) -> None:
    """The same commands through apply_batch on both, in random-sized chunks."""
    rng = random.Random(seed * 7919 + 1)
    core, ref = routers(run.config)
    batch_rows: list[Row] = []
    start = 0
    while start < len(run.commands):
        size = rng.choice([1, 2, 5, 17, 40, 120])
        chunk = run.commands[start : start + size]
        step = f"{start}..{start + len(chunk) - 1} (batch)"
        core_rows = rows(core.apply_batch(chunk), BATCH_KINDS)
        ref_rows = rows(ref.apply_batch(chunk), BATCH_KINDS)
        if core_rows != ref_rows:
            fail(seed, step, "batch events", core_rows, ref_rows, run.commands[: start + size])
        core_state, ref_state = state_of(core), state_of(ref)
        if core_state != ref_state:
            fail(seed, step, "states", core_state, ref_state, run.commands[: start + size])
        batch_rows += ref_rows
        start += len(chunk)
    replayed = [r for r in batch_rows if r[0] != "error"]
    errors = [r for r in batch_rows if r[0] == "error"]
    assert replayed == run.rows, f"seed {seed}: batch events differ from the step-by-step run"
    assert len(errors) == run.refused, f"seed {seed}: one error event per refused command"


SEEDS = seeds()


@pytest.mark.parametrize("seed", SEEDS)
def test_core_and_reference_agree_command_by_command(seed: int) -> None:
    run = run_step_by_step(seed)
    assert len(run.commands) == STEPS


@pytest.mark.parametrize("seed", SEEDS)
def test_core_and_reference_agree_through_apply_batch(seed: int) -> None:
    run_batches(seed, run_step_by_step(seed))


@pytest.mark.parametrize(
    "config",
    [
        {"queues": [{"id": "q", "skills": {"s": 11}}]},
        {"queues": [{"id": "q", "skills": {"s": -1}}]},
        {"agents": [{"id": "a", "skills": {"s": 0}}]},
        {"agents": [{"id": "a", "tier": 0}]},
        {"queues": [{"id": "q"}, {"id": "q"}]},
        {"agents": [{"id": "a"}, {"id": "a"}]},
        {"queues": [{"id": "q", "colour": 1}]},
        {"queues": [{"id": "q", "no_answer": {"max_misses": -1}}]},
        {"queues": [{"id": "q", "strategy": "fastest"}]},
        {"queues": [{"id": "q", "offer_timeout_ms": 0}]},
        {"queues": [{"id": "q", "ttl_ms": 0}]},
        {"queues": [{"id": "q", "wrapup_until_done": 1}]},
        {"queues": [{"id": ""}]},
        {"tenant": 1},
    ],
)
def test_both_refuse_a_bad_config_naming_the_same_field(config: dict[str, Any]) -> None:
    """Texts may differ (the core's come partly from its JSON decoder); the field path not."""
    text = json.dumps(config)
    paths = []
    for router in (acd.Router, reference.Router):
        with pytest.raises(Exception) as info:
            router(text)
        assert type(info.value).__name__ == "ConfigError"
        paths.append(str(info.value).split(": ", 1)[0])
    assert paths[0] == paths[1]


def test_the_generator_exercises_every_kind_of_event_and_error() -> None:
    """The random streams reach every [ref] event kind, every error class and every state, and
    reconfigurations are accepted (some making offers or ending calls at once) and refused."""
    kinds: set[str] = set()
    changes: set[str] = set()
    errors: set[str] = set()
    states: set[str] = set()
    for seed in range(40):
        rng = random.Random(seed)
        config = random_config(rng)
        _, ref = routers(config)
        gen = Generator(rng, config)
        for _ in range(STEPS):
            command = gen.next(ref.poll_timeout())
            value, error, _ = outcome(ref, command)
            events = rows(ref.drain(), REF_KINDS)
            kinds |= {e[0] for e in events}
            kinds |= {f"revoke:{e[7]}" for e in events if e[0] == "revoke"}
            kinds |= {f"missed:{e[6]}" for e in events if e[0] == "missed"}
            kinds |= {f"terminal:{e[7]}" for e in events if e[0] == "terminal"}
            if error is not None:
                errors.add(error)
            if command[0] == "configure":
                changes.add(error or ("accepted, with events" if events else "accepted"))
            states_now = {a: ref.agent_info(a)["state"] for a in ref.agent_ids()}
            gen.applied(command, value, error is not None, events, states_now)
            states |= set(gen.seen.states.values())
    assert kinds >= REF_KINDS | {
        "revoke:abandoned", "revoke:logout", "revoke:expired", "revoke:withdrawn",
        "missed:rejected", "missed:timed-out", "terminal:completed", "terminal:abandoned",
        "terminal:expired",
    }  # fmt: skip
    assert errors == {
        "NotFoundError", "InvalidArgumentError", "IllegalTransitionError", "ConfigError",
    }  # fmt: skip
    assert changes == {
        "accepted", "accepted, with events", "ConfigError", "InvalidArgumentError",
        "IllegalTransitionError",
    }  # fmt: skip
    assert states == {"logged-out", "not-ready", "ready", "reserved", "busy", "wrap-up"}
