"""Stateful property test of the core through its Python API (Hypothesis RuleBasedStateMachine).

Hypothesis drives one native router with random command sequences (enqueue, login, ready, not
ready, accept, reject, timers, end, wrap-up done, abandon, logout, transfer, snapshot/restore)
and shrinks any failure to a minimal sequence. After every step:

- the pure-Python reference router, fed the same commands, is the model where the semantics
  overlap (ROUTING.md, **[ref]**): the same result or error (class and message), the same
  events of the reference's kinds, the same agent states, waiting count and timer. A transfer is
  core-only; from then on the run checks the invariants alone;
- the invariants of DESIGN.md that the Python side can see: I1 (every acknowledged call is live
  or has exactly one terminal event, never both), I2/I5 (an offer goes only to an agent who is
  Ready at that moment — so never to one in wrap-up — and an agent holds at most one voice-like
  offer or call), I3 (a call connects at most once between transfers), I4 (no open offer past
  its expiry, no live call past its time-to-live: every command fires due timers first);
- I7 for snapshots: a router restored from a snapshot has the same snapshot bytes, and the run
  goes on with the restored router, so everything after it is compared against the model too.

Derandomized (the same examples on every run, so CI is reproducible); ``ACD_STATEFUL_EXAMPLES``
raises the number of examples for a longer local run.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import acd
from acd import reference
from test_differential import REASONS, REF_KINDS, Command, outcome, random_config, rows, state_of

EXAMPLES = int(os.environ.get("ACD_STATEFUL_EXAMPLES", "300"))


class CoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.core: acd.Router | None = None
        self.ref: reference.Router | None = None
        self.config: dict[str, Any] = {}
        self.now = 0
        self.next_id = 0
        self.acknowledged: list[str] = []
        self.terminals: Counter[str] = Counter()
        self.agent_state: dict[str, str] = {}
        self.offers: dict[str, tuple[str, int]] = {}  # call -> (agent, expires_at)
        self.connected: dict[str, str] = {}  # call -> agent, until it ends or is transferred
        self.connects: Counter[str] = Counter()  # connections since the last transfer
        self.wrapups: set[tuple[str, str]] = set()  # (agent, call) in wrap-up

    # ---- driving both routers ------------------------------------------------------------

    def step(self, command: Command) -> object:
        assert self.core is not None
        result = outcome(self.core, command)
        events = self.core.drain()
        if self.ref is not None:
            expected = outcome(self.ref, command)
            assert result == expected, f"{command!r}: core {result!r}, reference {expected!r}"
            ref_rows = rows(self.ref.drain(), REF_KINDS)
            assert rows(events, REF_KINDS) == ref_rows, f"{command!r}: events differ"
            assert state_of(self.core) == state_of(self.ref), f"{command!r}: state differs"
        if command[0] == "enqueue" and result[0] is True:
            self.acknowledged.append(command[1])
        for event in events:
            self.observe(event)
        return result[0]

    def observe(self, e: Any) -> None:
        """Follows the events, checking I2/I3/I5 at the moment each one happens."""
        if e.kind == "agent-state":
            self.agent_state[e.agent_id] = e.detail
        elif e.kind == "offer":
            state = self.agent_state.get(e.agent_id)
            assert state == "ready", f"I2/I5: {e.call_id} offered to {e.agent_id} in {state}"
            held = [c for c, (a, _) in self.offers.items() if a == e.agent_id]
            held += [c for c, a in self.connected.items() if a == e.agent_id]
            assert not held, f"I2: {e.agent_id} offered {e.call_id} while holding {held}"
            self.offers[e.call_id] = (e.agent_id, e.expires_at_ms)
        elif e.kind in ("revoke", "missed"):
            self.offers.pop(e.call_id, None)
        elif e.kind == "connected":
            self.offers.pop(e.call_id, None)
            self.connects[e.call_id] += 1
            assert self.connects[e.call_id] == 1, f"I3: {e.call_id} connected twice"
            self.connected[e.call_id] = e.agent_id
        elif e.kind == "ended":
            self.connected.pop(e.call_id, None)
            self.wrapups.add((e.agent_id, e.call_id))
        elif e.kind == "transferred":
            self.connected.pop(e.call_id, None)
            self.connects[e.call_id] = 0
        elif e.kind == "terminal":
            self.terminals[e.call_id] += 1
            self.offers.pop(e.call_id, None)
            self.connected.pop(e.call_id, None)

    def later(self, ms: int) -> int:
        self.now += ms
        return self.now

    # ---- rules ---------------------------------------------------------------------------

    @initialize(seed=st.integers(0, 2**32 - 1), slow=st.booleans())
    def configure(self, seed: int, slow: bool) -> None:
        self.config = random_config(random.Random(seed))
        if slow:  # offers and calls that outlast a few steps, so that they get answered
            for queue in self.config["queues"]:
                queue["offer_timeout_ms"] = max(queue["offer_timeout_ms"], 15_000)
                queue["ttl_ms"] = max(queue["ttl_ms"], 120_000)
        text = json.dumps(self.config)
        self.core, self.ref = acd.Router(text), reference.Router(text)
        self.agent_state = {a["id"]: "logged-out" for a in self.config["agents"]}

    def _agents(self) -> list[str]:
        return [a["id"] for a in self.config["agents"]]

    @rule(data=st.data(), ms=st.integers(0, 3_000), priority=st.integers(0, 3))
    def enqueue(self, data: st.DataObject, ms: int, priority: int) -> None:
        queue = data.draw(st.sampled_from([q["id"] for q in self.config["queues"]]))
        again = bool(self.acknowledged) and data.draw(st.booleans(), "repeat")
        if again:
            call_id = data.draw(st.sampled_from(self.acknowledged), "call")
        else:
            self.next_id += 1
            call_id = f"c{self.next_id}"
        self.step(("enqueue", call_id, queue, self.later(ms), priority))

    @rule(data=st.data(), ms=st.integers(0, 2_000))
    def agent_command(self, data: st.DataObject, ms: int) -> None:
        agent = data.draw(st.sampled_from(self._agents()), "agent")
        kind = data.draw(st.sampled_from(["login", "ready", "ready", "not_ready", "logout"]))
        if kind == "not_ready":
            reason = data.draw(st.sampled_from(REASONS), "reason")
            self.step(("not_ready", agent, reason, self.later(ms)))
        else:
            self.step((kind, agent, self.later(ms)))

    @rule(data=st.data(), ms=st.integers(0, 2_000))
    def staff(self, data: st.DataObject, ms: int) -> None:
        """An agent starts work: logs in if needed, then becomes Ready (the common path)."""
        agent = data.draw(st.sampled_from(self._agents()), "agent")
        if self.agent_state[agent] == "logged-out":
            self.step(("login", agent, self.later(ms)))
        self.step(("ready", agent, self.now))

    @precondition(lambda self: bool(self.offers))
    @rule(data=st.data(), ms=st.sampled_from([0, 0, 0, 1, 10, 100]), accept=st.booleans())
    def answer_offer(self, data: st.DataObject, ms: int, accept: bool) -> None:
        call = data.draw(st.sampled_from(sorted(self.offers)), "call")
        agent = self.offers[call][0]
        self.step(("accept" if accept else "reject", agent, call, self.later(ms)))

    @precondition(lambda self: bool(self.offers))
    @rule()
    def answer_every_offer(self) -> None:
        """Desktops that answer at once: every open offer is accepted now."""
        for call, (agent, _) in sorted(self.offers.items()):
            self.step(("accept", agent, call, self.now))

    @rule(data=st.data(), ms=st.integers(0, 2_000))
    def stray_command(self, data: st.DataObject, ms: int) -> None:
        """A command that is often refused: a random agent and call, whatever their state."""
        agent = data.draw(st.sampled_from([*self._agents(), "nobody"]), "agent")
        call = data.draw(st.sampled_from([*self.acknowledged, "ghost"]), "call")
        kind = data.draw(st.sampled_from(["accept", "reject", "wrapup_done"]), "kind")
        self.step((kind, agent, call, self.later(ms)))

    @precondition(lambda self: bool(self.connected))
    @rule(data=st.data(), ms=st.integers(0, 60_000))
    def end_call(self, data: st.DataObject, ms: int) -> None:
        call = data.draw(st.sampled_from(sorted(self.connected)), "call")
        self.step(("end", call, self.later(ms)))

    @precondition(lambda self: bool(self.wrapups))
    @rule(data=st.data(), ms=st.integers(0, 5_000))
    def finish_wrapup(self, data: st.DataObject, ms: int) -> None:
        agent, call = data.draw(st.sampled_from(sorted(self.wrapups)), "wrap-up")
        self.wrapups.discard((agent, call))  # done, refused or already over: either way
        self.step(("wrapup_done", agent, call, self.later(ms)))

    @precondition(lambda self: bool(self.acknowledged))
    @rule(data=st.data(), ms=st.integers(0, 5_000))
    def abandon(self, data: st.DataObject, ms: int) -> None:
        call = data.draw(st.sampled_from(self.acknowledged), "call")
        self.step(("abandon", call, self.later(ms)))

    @rule(ms=st.sampled_from([0, 1, 100, 1_000, 15_000, 60_000, 600_000]))
    def time_passes(self, ms: int) -> None:
        self.step(("timeout", self.later(ms)))

    @precondition(lambda self: bool(self.connected))
    @rule(data=st.data(), ms=st.integers(0, 5_000))
    def transfer(self, data: st.DataObject, ms: int) -> None:
        """Core only: the reference has no transfer, so the model stops here."""
        assert self.core is not None
        call = data.draw(st.sampled_from(sorted(self.connected)), "call")
        queue = data.draw(st.sampled_from([q["id"] for q in self.config["queues"]]), "queue")
        self.ref = None
        self.core.transfer(call, self.later(ms), queue=queue)  # connected: never refused
        for event in self.core.drain():
            self.observe(event)

    @rule(data=st.data(), ms=st.integers(0, 5_000))
    def request_callback(self, data: st.DataObject, ms: int) -> None:
        """Core only (the reference has no callbacks): a waiting or ringing caller takes a
        callback in their place; the callback is a call of its own for I1."""
        assert self.core is not None
        core = self.core
        waiting = [
            c
            for c in core.call_ids()
            if (info := core.call_info(c)) is not None
            and info["state"] != "connected"
            and info["channel"] != "callback"
        ]
        if not waiting:
            return
        call = data.draw(st.sampled_from(waiting), "call")
        self.ref = None
        before = core.call_info(call)
        assert before is not None
        try:
            core.request_callback(call, f"{call}-cb", "+4930111", self.later(ms))
            self.acknowledged.append(f"{call}-cb")
        except acd.NotFoundError:  # its time-to-live ran out first (timers fire before)
            assert core.call_info(call) is None
        for event in core.drain():
            self.observe(event)
        after = core.call_info(f"{call}-cb")
        if after is not None and after["state"] == "waiting":  # not offered at once
            assert (after["score"], after["seq"]) == (before["score"], before["seq"])

    @rule()
    def snapshot_and_restore(self) -> None:
        assert self.core is not None
        data = self.core.snapshot()
        restored = acd.Router.from_snapshot(data)
        assert restored.snapshot() == data, "I7: a restored router's snapshot differs"
        assert state_of(restored) == state_of(self.core)
        self.core = restored

    # ---- invariants ----------------------------------------------------------------------

    @invariant()
    def every_call_is_live_or_finished_once(self) -> None:  # I1
        if self.core is None:
            return
        live = set(self.core.call_ids())
        for call in self.acknowledged:
            count = self.terminals[call]
            assert count <= 1, f"I1: {call} finished {count} times"
            assert (call in live) != (count == 1), f"I1: {call} live={call in live} x{count}"
        assert live <= set(self.acknowledged), f"I1: unknown live calls {live}"

    @invariant()
    def nothing_is_overdue(self) -> None:  # I4
        if self.core is None:
            return
        for call, (agent, expires_at) in self.offers.items():
            assert expires_at >= self.now, f"I4: offer of {call} to {agent} past {expires_at}"
        ttl = {q["id"]: q["ttl_ms"] for q in self.config["queues"]}
        for call in self.core.call_ids():
            info = self.core.call_info(call)
            assert info is not None
            if info["state"] == "waiting":
                deadline = info["enqueued_at_ms"] + ttl[info["queue_id"]]
                assert deadline >= self.now, f"I4: {call} waits past its time-to-live"

    @invariant()
    def waiting_keys_match_call_info(self) -> None:
        """The lean key the service's position estimates read says what call_info says."""
        if self.core is None:
            return
        for call in [*self.core.call_ids(), "never-enqueued"]:
            info = self.core.call_info(call)
            key = self.core.waiting_key(call)
            if info is None or info["state"] != "waiting":
                assert key is None, f"{call}: {key} while {info and info['state']}"
            else:
                assert key == (info["queue_id"], info["score"], info["seq"]), call

    @invariant()
    def views_match_the_events(self) -> None:  # I2 through the views
        if self.core is None:
            return
        for agent in self._agents():
            info = self.core.agent_info(agent)
            assert len(info["calls"]) <= 1, f"I2: {agent} holds {info['calls']}"
            assert info["state"] == self.agent_state[agent], f"{agent}: view vs events"


TestCoreMachine = CoreMachine.TestCase
TestCoreMachine.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
