"""Group commit in the journal: concurrent appends share transactions, each append is
acknowledged only by a commit, and a failed commit reaches every waiter."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from acd.server.journal import CommitError, Journal


def test_concurrent_appends_share_commits_and_get_increasing_seqs(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            seqs = await asyncio.gather(*(journal.append("t", ("timeout", i)) for i in range(300)))
            assert seqs == list(range(1, 301))  # distinct, increasing, in the order of the calls
            stats = journal.stats
            assert stats.entries == 300
            assert stats.commits < stats.entries
            assert stats.largest_batch > 1
            assert [c for _, c in journal.entries("t")] == [("timeout", i) for i in range(300)]

    asyncio.run(main())


def test_a_batch_holds_at_most_max_batch_entries(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3", max_batch=10) as journal:
            seqs = await asyncio.gather(*(journal.append("t", ("timeout", i)) for i in range(95)))
            assert seqs == list(range(1, 96))
            assert journal.stats.largest_batch <= 10
            assert journal.stats.commits >= 10
            # append_many is one transaction, however large: it is never split.
            many = await journal.append_many("t", [("timeout", i) for i in range(25)])
            assert many == list(range(96, 121))
            assert journal.stats.largest_batch == 25
            assert await journal.append_many("t", []) == []

    asyncio.run(main())


def test_one_commit_per_append_when_max_batch_is_one(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3", max_batch=1) as journal:
            await asyncio.gather(*(journal.append("t", ("timeout", i)) for i in range(20)))
            assert journal.stats.commits == journal.stats.entries == 20

    asyncio.run(main())


def test_a_cancelled_waiter_does_not_withdraw_its_entry(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            first = journal.append("t", ("timeout", 1))
            first.cancel()
            assert await journal.append("t", ("timeout", 2)) == 2
            assert [s for s, _ in journal.entries("t")] == [1, 2]

    asyncio.run(main())


def test_then_hears_each_outcome_in_the_turn_that_settles_its_future(tmp_path: Path) -> None:
    """The continuation runs as the future is settled, before the future's own callbacks (a
    turn later), also for a caller that gave up, and one that raises spoils no other."""

    async def main() -> None:
        heard: list[tuple[str, Any, Any]] = []

        def then(name: str, value: Any, error: Any) -> None:
            heard.append((name, value, error))
            if name == "broken":
                raise RuntimeError("a bug in a continuation")

        loop = asyncio.get_running_loop()
        handled: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _, context: handled.append(context))
        async with Journal(tmp_path / "j.sqlite3") as journal:
            first = journal.append("t", ("timeout", 1), then=functools.partial(then, "first"))
            first.add_done_callback(lambda f: heard.append(("callback", f.result(), None)))
            broken = journal.append("t", ("timeout", 2), then=functools.partial(then, "broken"))
            gone = journal.append("t", ("timeout", 3), then=functools.partial(then, "gone"))
            gone.cancel()
            assert list(await asyncio.gather(first, broken)) == [1, 2]
            await asyncio.sleep(0)  # the done-callback's turn
        assert heard[:3] == [("first", 1, None), ("broken", 2, None), ("gone", 3, None)]
        assert ("callback", 1, None) in heard[3:]
        assert [c["exception"].args[0] for c in handled] == ["a bug in a continuation"]

    asyncio.run(main())


# ---- failures ---------------------------------------------------------------------------


class FailingConnection(sqlite3.Connection):
    """A connection whose commits fail on demand, like an fsync error would make them. Being a
    subclass, it keeps the writer's statements (sql_transaction.native_transactions)."""

    fail = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if self.fail and sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return super().execute(sql, *args)


def _failing(opened: list[FailingConnection]) -> Any:
    def connect(path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(path, factory=FailingConnection, check_same_thread=False)
        assert isinstance(conn, FailingConnection)
        opened.append(conn)
        return conn

    return connect


def test_a_failed_commit_reaches_every_waiter_and_nothing_is_acknowledged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    opened: list[FailingConnection] = []

    async def main() -> list[Any]:
        async with Journal(path, connect=_failing(opened)) as journal:
            assert await journal.append_many("t", [("timeout", 0), ("timeout", 1)]) == [1, 2]
            opened[0].fail = True
            futures: list[asyncio.Future[Any]] = [
                journal.append(f"t{i % 2}", ("timeout", 2 + i)) for i in range(100)
            ]
            heard: list[Any] = []
            futures.append(journal.append("t", ("timeout", 0), then=lambda *o: heard.append(o)))
            futures.append(journal.save_snapshot("t", 2, b"s"))
            outcomes = await asyncio.gather(*futures, return_exceptions=True)
            # The journal stays failed: no later write can slip in after a lost one.
            with pytest.raises(CommitError):
                journal.append("t", ("timeout", 500))
            assert journal.stats.entries == 2
            [(value, error)] = heard
            assert value is None and isinstance(error, CommitError)
            return outcomes

    outcomes = asyncio.run(main())
    assert all(isinstance(o, CommitError) for o in outcomes), outcomes
    assert all(isinstance(o.__cause__, sqlite3.OperationalError) for o in outcomes)

    async def reopened() -> None:
        async with Journal(path) as journal:  # reopening is the way back
            assert [s for s, _ in journal.entries("t")] == [1, 2]
            assert list(journal.entries("t0")) == list(journal.entries("t1")) == []
            assert journal.latest_snapshot("t") is None
            assert await journal.append("t", ("timeout", 3)) == 3

    asyncio.run(reopened())


def test_a_full_database_fails_the_commit_for_all_its_appends(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"

    def small(p: str) -> sqlite3.Connection:
        conn = sqlite3.connect(p, check_same_thread=False)
        # A disk that fills up, for real: room for the schema (about 20 pages), not the entries.
        conn.execute("PRAGMA max_page_count = 32")
        return conn

    async def main() -> list[Any]:
        async with Journal(path, connect=small) as journal:
            assert await journal.append("t", ("timeout", 0)) == 1
            big = "x" * 2000
            futures = [journal.append("t", ("enqueue", big, "q", i, 0)) for i in range(100)]
            return await asyncio.gather(*futures, return_exceptions=True)

    outcomes = asyncio.run(main())
    failed = [o for o in outcomes if isinstance(o, CommitError)]
    acked = [o for o in outcomes if isinstance(o, int)]
    assert failed, "the database never filled up"
    assert len(failed) + len(acked) == len(outcomes)
    assert "full" in str(failed[0])

    async def reopened() -> None:
        async with Journal(path) as journal:
            # Exactly the acknowledged entries are there, nothing of the failed ones.
            assert [s for s, _ in journal.entries("t")] == [1, *acked]

    asyncio.run(reopened())


def test_a_refused_snapshot_does_not_fail_the_journal(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            with pytest.raises(ValueError):
                await journal.save_snapshot("t", 1, b"no entry 1 yet")
            assert await journal.append("t", ("timeout", 0)) == 1
            with pytest.raises(TypeError):
                journal.save_snapshot("t", 1, "not bytes")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                journal.append("t", ("timeout", {1, 2}))

    asyncio.run(main())
