"""Recovery (acd.server.recovery): a router rebuilt from the journal, with or without a
snapshot, is byte for byte the live one and makes the same decisions from then on (I7)."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from acd import Router
from acd.server.journal import Command, CorruptEntryError, Journal
from acd.server.recovery import (
    batch_entry,
    commands_of,
    journal_commands,
    recover,
    refused_by_index,
)

CONFIG = json.dumps(
    {
        "seed": 7,
        "queues": [
            {
                "id": "sales",
                "skills": {"sales": 2},
                "offer_timeout_ms": 4000,
                "wrapup_ms": 1500,
                "no_answer": {"reject_delay_ms": 800, "timeout_delay_ms": 0, "max_misses": 2},
                "ttl_ms": 60000,
            },
            {"id": "support", "strategy": "round-robin", "wrapup_until_done": True},
        ],
        "agents": [
            {"id": "a1", "skills": {"sales": 5}},
            {"id": "a2", "skills": {"sales": 2}},
            {"id": "a3"},
            {"id": "a4", "skills": {"sales": 9}, "tier": 2},
        ],
    }
)
AGENTS = ("a1", "a2", "a3", "a4")
QUEUES = ("sales", "support")


class Stream:
    """Seeded commands that are mostly valid in the router's current state (read from its
    views), with a few refused ones mixed in, as a real service would see."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = 0
        self.calls = 0

    def next(self, router: Router) -> Command:
        rng = self.rng
        self.now += rng.choice((0, 1, 40, 300, 1200, 3000))
        now = self.now
        agent = rng.choice(AGENTS)
        info = router.agent_info(agent)
        state, calls = info["state"], info["calls"]
        roll = rng.random()
        if roll < 0.05:  # refused: an offer this agent does not hold
            return ("accept", agent, f"c{rng.randint(0, self.calls + 1)}", now)
        if roll < 0.35:
            self.calls += 1
            return ("enqueue", f"c{self.calls}", rng.choice(QUEUES), now, rng.choice((0, 0, 5)))
        if roll < 0.4 and self.calls:
            return ("abandon", f"c{rng.randint(1, self.calls)}", now)
        if roll < 0.45:
            return ("timeout", now)
        if state == "logged-out":
            return ("login", agent, now)
        if state == "not-ready":
            return ("ready", agent, now) if rng.random() < 0.8 else ("logout", agent, now)
        if state == "ready":
            return ("not_ready", agent, "break", now) if roll < 0.5 else ("timeout", now)
        if state == "reserved":
            return (rng.choice(("accept", "accept", "reject")), agent, calls[0], now)
        if state == "busy":
            return ("end", calls[0], now)
        if state == "wrap-up":
            return ("wrapup_done", agent, calls[0], now) if calls else ("ready", agent, now)
        return ("timeout", now)


async def _drive(
    journal: Journal, tenant: str, live: Router, stream: Stream, steps: int, snapshot_at: int
) -> int:
    """Drives ``live`` as the service does (apply, journal, await the commit); returns how many
    commands the router refused along the way."""
    refused = 0
    for step in range(steps):
        # Sometimes several commands in one batch, as the service's batch path does.
        commands = [stream.next(live) for _ in range(stream.rng.choice((1, 1, 1, 3)))]
        events = live.apply_batch(commands)
        refused += sum(e.kind == "error" for e in events)
        to_journal = journal_commands(commands, refused_by_index(events))
        if to_journal:
            await journal.append_many(tenant, to_journal)
        if step == snapshot_at:
            await journal.save_snapshot(tenant, journal.last_seq(tenant), live.snapshot())
    return refused


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_recovered_router_is_the_live_one(tmp_path: Path, seed: int) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            await journal.set_config("shop", CONFIG)
            live = Router(CONFIG)
            stream = Stream(seed)
            refused = await _drive(journal, "shop", live, stream, 400, snapshot_at=150)
            assert 0 < refused < 100  # the stream is mostly valid, and refusals are covered
            last = journal.last_seq("shop")
            assert journal.snapshot_seqs("shop") != []

            routers = []
            for use_snapshot, chunk in ((True, 1024), (False, 1024), (False, 7)):
                router, seq = recover(journal, "shop", use_snapshot=use_snapshot, chunk=chunk)
                assert seq == last
                assert router.snapshot() == live.snapshot()
                routers.append(router)

            # The same further commands give the same events, event for event.
            for _ in range(150):
                command = stream.next(live)
                expected = [e.as_tuple() for e in live.apply_batch([command])]
                for router in routers:
                    assert [e.as_tuple() for e in router.apply_batch([command])] == expected
            for router in routers:
                assert router.snapshot() == live.snapshot()

    asyncio.run(main())


def test_a_refused_command_is_journaled_as_the_clock_it_moved(tmp_path: Path) -> None:
    live = Router(CONFIG)
    setup: list[Command] = [
        ("login", "a1", 0),
        ("ready", "a1", 0),
        ("enqueue", "c1", "sales", 10, 0),  # offered to a1 until 4010
    ]
    # Refused (no such offer), but only after the clock moved to 5000: the offer of c1
    # expired at 4010 on the way, and that is real.
    late = ("accept", "a1", "c9", 5000)
    backwards = ("accept", "a1", "c1", 4500)  # time went backwards: nothing moved
    events = live.apply_batch(setup)
    assert journal_commands(setup, refused_by_index(events)) == setup
    events = live.apply_batch([late, backwards])
    assert [e.kind for e in events if e.kind in ("missed", "error")] == ["missed", "error", "error"]
    journaled = journal_commands([late, backwards], refused_by_index(events))
    assert journaled == [("timeout", 5000)]

    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            await journal.append_many("t", [*setup, *journaled])
            router, seq = recover(journal, "t", CONFIG)
            assert seq == 4
            assert router.snapshot() == live.snapshot()

    asyncio.run(main())
    # Dropping the refused command instead would lose the expiry it fired: not the same state.
    dropped = Router(CONFIG)
    dropped.apply_batch(setup)
    assert dropped.snapshot() != live.snapshot()


def test_batch_entries_replay_as_their_commands_in_order(tmp_path: Path) -> None:
    """The service journals the commands of one turn of its event loop as one entry: mixed
    with single entries and split across replay chunks, the router comes back the same."""
    stream = Stream(11)
    live = Router(CONFIG)
    entries: list[Command] = []
    rng = random.Random(5)
    for _ in range(120):
        group: list[Command] = []
        for _ in range(rng.choice((1, 1, 2, 5, 17))):
            command = stream.next(live)
            group += journal_commands([command], refused_by_index(live.apply_batch([command])))
        if group:
            entries.append(batch_entry(group))
            assert commands_of(entries[-1]) == group
    assert any(e[0] == "batch" for e in entries) and any(e[0] != "batch" for e in entries)

    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            await journal.set_config("shop", CONFIG)
            await journal.append_many("shop", entries)
            for chunk in (1, 3, 1024):
                router, seq = recover(journal, "shop", chunk=chunk)
                assert seq == len(entries)
                assert router.snapshot() == live.snapshot()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (("batch", [["login", "a2", 3], ["accept", "a2", "c1", 3]]), "refused on replay"),
        (("batch", [["login", "a2", 3], "ready"]), "not a command in a batch entry"),
        (("batch", "login"), "a batch entry is"),
    ],
)
def test_a_bad_batch_entry_names_its_seq(tmp_path: Path, bad: Command, reason: str) -> None:
    path = tmp_path / "j.sqlite3"
    asyncio.run(_journal(path, [*GOOD, bad, ("timeout", 9)]))

    async def main() -> None:
        async with Journal(path) as journal:
            for chunk in (1, 100):
                with pytest.raises(CorruptEntryError, match=reason) as info:
                    recover(journal, "t", chunk=chunk)
                assert (info.value.tenant, info.value.seq) == ("t", 4)

    asyncio.run(main())


# ---- what cannot be replayed --------------------------------------------------------------


async def _journal(path: Path, commands: list[Command]) -> None:
    async with Journal(path) as journal:
        await journal.set_config("t", CONFIG)
        await journal.append_many("t", commands)


GOOD: list[Command] = [("login", "a1", 0), ("ready", "a1", 1), ("enqueue", "c1", "sales", 2, 0)]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (("frobnicate", 3), "not a command"),
        (("login", "a1", "three"), "not a command"),
        (("accept", "a2", "c1", 3), "refused on replay"),
    ],
)
def test_an_entry_the_router_does_not_take_names_its_seq(
    tmp_path: Path, bad: Command, reason: str
) -> None:
    path = tmp_path / "j.sqlite3"
    asyncio.run(_journal(path, [*GOOD, bad, ("timeout", 9)]))

    async def main() -> None:
        async with Journal(path) as journal:
            for chunk in (1, 2, 100):
                with pytest.raises(CorruptEntryError, match=reason) as info:
                    recover(journal, "t", chunk=chunk)
                assert (info.value.tenant, info.value.seq) == ("t", 4)

    asyncio.run(main())


@pytest.mark.parametrize(
    ("sql", "seq", "reason"),
    [
        ("UPDATE entries SET command = 'garbage' WHERE seq = 2", 2, "unreadable entry"),
        ("DELETE FROM entries WHERE seq = 2", 2, "entry missing"),
        ("DELETE FROM entries WHERE seq = 3", 3, "entries missing up to seq 3"),
        ("UPDATE tenants SET config = NULL", 0, "no snapshot and no config"),
    ],
)
def test_a_damaged_journal_is_an_error_naming_tenant_and_seq(
    tmp_path: Path, sql: str, seq: int, reason: str
) -> None:
    path = tmp_path / "j.sqlite3"
    asyncio.run(_journal(path, GOOD))
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(sql)

    async def main() -> None:
        async with Journal(path) as journal:
            with pytest.raises(CorruptEntryError, match=reason) as info:
                recover(journal, "t")
            assert (info.value.tenant, info.value.seq) == ("t", seq)

    asyncio.run(main())


def test_after_pruning_only_the_snapshot_can_recover(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            await journal.set_config("t", CONFIG)
            live = Router(CONFIG)
            live.apply_batch(GOOD)
            await journal.append_many("t", GOOD)
            await journal.save_snapshot("t", 3, live.snapshot())
            more: list[Command] = [("accept", "a1", "c1", 5), ("end", "c1", 9)]
            live.apply_batch(more)
            await journal.append_many("t", more)
            assert await journal.prune("t") == 3
            router, seq = recover(journal, "t")
            assert (router.snapshot(), seq) == (live.snapshot(), 5)
            with pytest.raises(CorruptEntryError, match="entry missing") as info:
                recover(journal, "t", use_snapshot=False)
            assert info.value.seq == 1

    asyncio.run(main())


def test_a_damaged_snapshot_is_an_error_naming_its_seq(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            await journal.append_many("t", GOOD)
            await journal.save_snapshot("t", 2, b"not a snapshot")
            with pytest.raises(CorruptEntryError, match="unreadable snapshot") as info:
                recover(journal, "t", CONFIG)
            assert info.value.seq == 2
            _, seq = recover(journal, "t", CONFIG, use_snapshot=False)
            assert seq == 3

    asyncio.run(main())
