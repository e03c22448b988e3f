"""An agent's outbox: a stream following it gets every message after its cursor, in order,
once, across sequence gaps (a snapshot takes a number without entering the ring) and pushes
that land while it reads; one whose cursor fell out of the ring is told to start again."""

from __future__ import annotations

import asyncio
import threading

from acd.server.fanout import AgentOutbox
from acd.v1 import agent_pb2


def message(note: str) -> agent_pb2.StreamOffersResponse:
    out = agent_pb2.StreamOffersResponse()
    out.revoked.call_id = note
    return out


async def take(outbox: AgentOutbox, cursor: int, count: int) -> list[tuple[int, str]]:
    got: list[tuple[int, str]] = []
    async for m in outbox.follow(cursor):
        got.append((m.sequence, m.revoked.call_id))
        if len(got) == count:
            break
    return got


def test_follow_reads_after_the_cursor_across_gaps_and_live_pushes() -> None:
    async def main() -> None:
        outbox = AgentOutbox(ring=8)
        outbox.push(message("a"))  # 1
        snapshot = outbox.next_sequence()  # 2: a snapshot's number, not in the ring
        outbox.push(message("b"))  # 3
        outbox.push(message("c"))  # 4
        assert await take(outbox, 1, 2) == [(3, "b"), (4, "c")]
        assert await take(outbox, snapshot, 1) == [(3, "b")]
        reader = asyncio.ensure_future(take(outbox, 4, 3))
        await asyncio.sleep(0)
        for note in ("d", "e", "f"):
            outbox.push(message(note))
            await asyncio.sleep(0)
        assert await reader == [(5, "d"), (6, "e"), (7, "f")]

    asyncio.run(main())


def test_a_cursor_out_of_the_ring_ends_the_follow() -> None:
    async def main() -> None:
        outbox = AgentOutbox(ring=4)
        for i in range(10):
            outbox.push(message(f"m{i}"))
        assert [m async for m in outbox.follow(2)] == []  # 3..6 are gone: start again
        assert await take(outbox, 6, 4) == [(7, "m6"), (8, "m7"), (9, "m8"), (10, "m9")]

    asyncio.run(main())


def test_a_follower_waits_when_a_snapshot_took_the_newest_number() -> None:
    """A follower that has read everything while the newest number is a snapshot's (another
    stream of the agent opened after the last push): no message will fill that number. It
    must wait for the next push, not spin, which starved the event loop and with it the
    whole service (the scenario runs in a thread, so that a spin fails the test instead of
    hanging it)."""
    got: list[list[tuple[int, str]]] = []

    async def main() -> None:
        outbox = AgentOutbox(ring=8)
        outbox.push(message("a"))  # 1
        outbox.next_sequence()  # 2: another stream's snapshot
        reader = asyncio.ensure_future(take(outbox, 1, 1))
        for _ in range(5):
            await asyncio.sleep(0)  # a spinning reader never lets this go on
        outbox.push(message("b"))  # 3
        got.append(await reader)

    worker = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the follower spun on the gap"
    assert got == [[(3, "b")]]
