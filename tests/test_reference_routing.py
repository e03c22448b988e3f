"""Behaviour of the pure-Python reference router (acd.reference), the differential oracle:
the order of waiting calls, eligibility and choice of agent, offers and the miss policy,
and decisions under random commands.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from acd.reference import Event, IllegalTransitionError, NotFoundError, Router
from reference_helpers import agent, offers, queue, ready, router, rows


def serve_all(r: Router, agent_id: str, now: int) -> list[str]:
    """Let one agent (no wrap-up) take every call it is offered; return them in order."""
    served: list[str] = []
    while True:
        offered = [e for e in r.drain() if e.kind == "offer" and e.agent_id == agent_id]
        if not offered:
            return served
        call_id = offered[0].call_id
        served.append(call_id)
        r.accept(agent_id, call_id, now)
        r.end_call(call_id, now)


# ---- order of waiting calls -------------------------------------------------------------


def test_fifo_within_priority() -> None:
    r = router([queue(wrapup_ms=0)], [agent("a1")])
    for i, call_id in enumerate(["c1", "c2", "c3"]):
        assert r.enqueue(call_id, "q", i * 10)
    assert r.waiting_count() == 3
    r.login("a1", 30)
    r.set_ready("a1", 30)
    assert serve_all(r, "a1", 40) == ["c1", "c2", "c3"]
    assert r.waiting_count() == 0


def test_priority_first_then_arrival() -> None:
    r = router([queue(wrapup_ms=0)], [agent("a1")])
    r.enqueue("low", "q", 0, priority=0)
    r.enqueue("high1", "q", 10, priority=5)
    r.enqueue("high2", "q", 20, priority=5)
    r.enqueue("neg", "q", 30, priority=-1)
    ready(r, "a1", at=40)
    assert serve_all(r, "a1", 50) == ["high1", "high2", "low", "neg"]


def test_multi_queue_agent_takes_most_urgent_call() -> None:
    r = router(
        [queue("q1", skills={"s1": 1}, wrapup_ms=0), queue("q2", skills={"s2": 1}, wrapup_ms=0)],
        [agent("a1", skills={"s1": 1, "s2": 1})],
    )
    r.enqueue("q1-old", "q1", 0)
    r.enqueue("q2-urgent", "q2", 5, priority=1)
    r.enqueue("q2-old", "q2", 6)
    r.enqueue("q1-new", "q1", 7)
    ready(r, "a1", at=10)
    assert serve_all(r, "a1", 20) == ["q2-urgent", "q1-old", "q2-old", "q1-new"]


# ---- eligibility and choice of agent ----------------------------------------------------


def test_skills_and_levels_decide_eligibility() -> None:
    r = router(
        [queue("sales", skills={"sales": 3, "fr": 2})],
        [
            agent("low", skills={"sales": 2, "fr": 9}),
            agent("nofr", skills={"sales": 9}),
            agent("ok", skills={"sales": 4, "fr": 2, "de": 7}, tier=2),
        ],
    )
    ready(r, "low", "nofr", "ok")
    r.enqueue("c1", "sales", 10)
    (offer,) = r.drain()
    assert offer.as_tuple() == (
        "offer", "c1", "ok", "sales", 10, 15010, "longest-idle", "step=0 tier=2 level=6",
    )  # fmt: skip
    r.enqueue("c2", "sales", 11)
    assert r.drain() == []
    assert r.call_info("c2") == {
        "id": "c2", "state": "waiting", "queue_id": "sales", "channel": "voice", "priority": 0,
        "seq": 2, "enqueued_at_ms": 11, "agents": [],
    }  # fmt: skip


def test_longest_idle_agent_gets_the_call() -> None:
    r = router([queue()], [agent("a1"), agent("a2"), agent("a3"), agent("a4")])
    for agent_id in ("a1", "a2", "a3", "a4"):
        r.login(agent_id, 0)
    r.set_ready("a3", 5)
    r.set_ready("a1", 10)
    r.set_ready("a4", 10)
    r.set_ready("a2", 20)
    r.set_ready("a3", 25)  # already Ready: no-op, keeps ready_since 5
    for i in range(4):
        r.enqueue(f"c{i}", "q", 30)
    assert offers(r) == [("c0", "a3"), ("c1", "a1"), ("c2", "a4"), ("c3", "a2")]


def test_lower_tier_first_unless_disabled() -> None:
    agents = [agent("t2", tier=2), agent("t1", tier=1)]
    r = router([queue("q1"), queue("q2", prefer_lower_tier=False)], agents)
    r.login("t2", 0)
    r.set_ready("t2", 0)
    r.login("t1", 5)
    r.set_ready("t1", 5)
    r.enqueue("c1", "q1", 10)
    assert offers(r) == [("c1", "t1")]
    r.enqueue("c2", "q2", 11)
    assert offers(r) == [("c2", "t2")]


# ---- offers: reject, timeout, miss policy -----------------------------------------------


def test_reject_puts_the_call_back_in_its_place() -> None:
    r = router(
        [queue(no_answer={"reject_delay_ms": 1000, "max_misses": 0})],
        [agent("a1"), agent("a2")],
    )
    ready(r, "a1")
    r.login("a2", 0)
    r.enqueue("c1", "q", 1)
    r.enqueue("c2", "q", 2)
    r.drain()
    r.reject("a1", "c1", 3)
    assert rows(r) == [("missed", "c1", "a1", "q", 3, 0, "rejected", "")]
    info = r.agent_info("a1")
    assert (info["state"], info["reason"], info["miss_delay"]) == ("ready", "", True)
    assert r.waiting_count() == 2
    r.set_ready("a1", 4)  # no-op: the miss delay is served in full
    r.set_ready("a2", 4)
    assert offers(r) == [("c1", "a2")]
    assert r.poll_timeout() == 1003
    r.handle_timeout(2000)  # the miss delay ended at 1003: a1 Ready since then, takes c2
    assert offers(r) == [("c2", "a1")]
    assert r.agent_info("a1")["ready_since_ms"] == 1003


def test_reject_with_no_delay_may_ring_the_same_agent_again() -> None:
    r = router([queue(no_answer={"max_misses": 2})], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 1)
    r.reject("a1", "c1", 2)
    assert [e.kind for e in r.drain()] == ["offer", "missed", "offer"]
    r.reject("a1", "c1", 3)
    assert [(e.kind, e.rule) for e in r.drain()] == [("missed", "rejected")]
    assert r.agent_info("a1")["reason"] == "missed"
    assert r.call_info("c1") is not None
    assert r.waiting_count() == 1


def test_offer_timeout_fires_at_its_deadline_when_polled_late() -> None:
    r = router(
        [queue(offer_timeout_ms=1000, no_answer={"max_misses": 1})],
        [agent("a1"), agent("a2")],
    )
    ready(r, "a1", at=0)
    ready(r, "a2", at=50)
    r.enqueue("c1", "q", 100)
    assert r.poll_timeout() == 1100
    r.handle_timeout(5000)
    assert rows(r) == [
        ("offer", "c1", "a1", "q", 100, 1100, "longest-idle", "step=0 tier=1 level=0"),
        ("missed", "c1", "a1", "q", 1100, 0, "timed-out", ""),
        ("offer", "c1", "a2", "q", 1100, 2100, "longest-idle", "step=0 tier=1 level=0"),
        ("missed", "c1", "a2", "q", 2100, 0, "timed-out", ""),
    ]
    with pytest.raises(IllegalTransitionError, match="no open offer"):
        r.accept("a2", "c1", 5000)
    assert r.agent_info("a1")["state"] == "not-ready"
    assert r.agent_info("a1")["reason"] == "missed"
    assert r.poll_timeout() == 100 + 14_400_000  # only the time-to-live is left


def test_late_accept_is_refused_after_the_offer_expired() -> None:
    r = router([queue(offer_timeout_ms=500, no_answer={"timeout_delay_ms": 100})], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.drain()
    with pytest.raises(IllegalTransitionError):
        r.accept("a1", "c1", 500)
    assert [e.kind for e in r.drain()] == ["missed"]
    info = r.call_info("c1")
    assert info is not None
    assert (info["state"], info["agents"]) == ("waiting", [])
    r.handle_timeout(600)  # miss delay over: offered again, stamped at the deadline
    assert rows(r) == [
        ("offer", "c1", "a1", "q", 600, 1100, "longest-idle", "step=0 tier=1 level=0")
    ]


def test_accept_resets_the_miss_counter() -> None:
    r = router([queue(wrapup_ms=0, no_answer={"max_misses": 2})], [agent("a1")])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.reject("a1", "c1", 1)
    assert r.agent_info("a1")["misses"] == 1
    r.accept("a1", "c1", 2)
    assert r.agent_info("a1")["misses"] == 0


# ---- invariants and decisions under random commands -------------------------------------


class RandomDriver:
    """Random commands through a small router; checks decisions against brute force."""

    def __init__(self, seed: int) -> None:
        self.rng = rng = random.Random(seed)
        skills = [f"s{i}" for i in range(4)]
        self.queues = [
            queue(
                f"q{i}",
                skills={rng.choice(skills): rng.randint(1, 3)},
                offer_timeout_ms=rng.randint(20, 200),
                wrapup_ms=rng.choice([0, 30]),
                wrapup_until_done=rng.random() < 0.2,
                ttl_ms=rng.choice([2000, 10**9]),
                no_answer={"reject_delay_ms": rng.choice([0, 10]), "max_misses": rng.randint(0, 3)},
            )
            for i in range(5)
        ]
        agents = [agent(f"a{i}", skills={s: rng.randint(1, 5) for s in skills}) for i in range(8)]
        self.router = router(self.queues, agents)
        self.names = [a["id"] for a in agents]
        self.serves = {
            a["id"]: {
                q["id"]
                for q in self.queues
                if all(a["skills"].get(s, 0) >= lvl for s, lvl in q["skills"].items())
            }
            for a in agents
        }
        self.order: dict[str, int] = {}  # call id -> arrival order (the call's seq)
        self.terminal: list[str] = []
        self.now = 0

    def waiting(self) -> dict[str, dict[str, Any]]:
        infos = {c: self.router.call_info(c) for c in self.order}
        return {c: i for c, i in infos.items() if i is not None and i["state"] == "waiting"}

    def ready_agents(self) -> dict[str, dict[str, Any]]:
        infos = {a: self.router.agent_info(a) for a in self.names}
        return {a: i for a, i in infos.items() if i["state"] == "ready" and not i["miss_delay"]}

    def check_enqueue(self, call_id: str, queue_id: str, priority: int) -> None:
        r = self.router
        candidates = [
            (info["ready_since_ms"], self.names.index(a))
            for a, info in self.ready_agents().items()
            if queue_id in self.serves[a]
        ]
        if not r.enqueue(call_id, queue_id, self.now, priority):
            return
        self.order[call_id] = len(self.order)
        got = [e.agent_id for e in self.events() if e.kind == "offer"]
        assert got == ([self.names[min(candidates)[1]]] if candidates else [])

    def check_set_ready(self, name: str) -> None:
        r = self.router
        if r.agent_info(name)["state"] != "not-ready":
            return
        urgent = sorted(
            (info["enqueued_at_ms"] - info["priority"] * 10**10, self.order[c], c)
            for c, info in self.waiting().items()
            if info["queue_id"] in self.serves[name]
        )
        r.set_ready(name, self.now)
        got = [e.call_id for e in self.events() if e.kind == "offer"]
        assert got == ([urgent[0][2]] if urgent else [])

    def events(self) -> list[Event]:
        events = self.router.drain()
        self.terminal += [e.call_id for e in events if e.kind == "terminal"]
        return events

    def step(self) -> None:
        r, rng = self.router, self.rng
        self.now += rng.randint(0, 8)
        r.handle_timeout(self.now)
        self.events()
        name = rng.choice(self.names)
        info = r.agent_info(name)
        command = rng.randrange(10)
        try:
            if command < 3:
                call_id = f"c{rng.randint(0, 400)}"
                self.check_enqueue(call_id, rng.choice(self.queues)["id"], rng.randint(-1, 1))
            elif command == 3 and self.order:
                r.abandon(rng.choice(list(self.order)), self.now)
            elif command == 4 and info["state"] == "logged-out":
                r.login(name, self.now)
            elif command == 4:
                self.check_set_ready(name)
            elif command == 5 and info["state"] == "reserved":
                verb = rng.choice([r.accept, r.accept, r.accept, r.reject])
                verb(name, info["calls"][0], self.now)
            elif command == 6 and info["state"] == "busy":
                r.end_call(info["calls"][0], self.now)
            elif command == 7 and info["state"] == "wrap-up":
                r.wrapup_done(name, info["calls"][0], self.now)
            elif command == 8 and rng.random() < 0.2:
                r.set_not_ready(name, "break", self.now)
            elif command == 8 and rng.random() < 0.1:
                r.logout(name, self.now)
        except (IllegalTransitionError, NotFoundError):
            pass
        self.events()
        waiting_queues = {i["queue_id"] for i in self.waiting().values()}
        live = [r.call_info(c) for c in self.order]
        assert r.waiting_count() == sum(1 for i in live if i and i["state"] != "connected")
        for agent_id in self.ready_agents():  # work-conserving
            assert not self.serves[agent_id] & waiting_queues, agent_id


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_commands_match_brute_force_decisions(seed: int) -> None:
    driver = RandomDriver(seed)
    for _ in range(1500):
        driver.step()
    assert len(driver.terminal) == len(set(driver.terminal))  # one terminal per call at most
    assert set(driver.terminal) <= set(driver.order)
    infos = [driver.router.call_info(c) for c in driver.order]
    finished = {c for c, info in zip(driver.order, infos, strict=True) if info is None}
    assert finished == set(driver.terminal)  # every call that left had its terminal event
