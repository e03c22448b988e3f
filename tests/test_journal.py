"""The journal (acd.server.journal): encoding, durability across reopen, tenants kept apart,
export / import / delete of one tenant, snapshots and pruning."""

from __future__ import annotations

import asyncio
import enum
import sqlite3
from collections.abc import Coroutine
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import pytest

from acd.server.journal import (
    Command,
    CorruptEntryError,
    Journal,
    JournalClosedError,
)
from acd.server.journal_format import decode_command, encode_command

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def entries(path: Path, tenant: str) -> list[tuple[int, Command]]:
    """The tenant's entries, read through a fresh journal (as after a restart)."""

    async def read() -> list[tuple[int, Command]]:
        async with Journal(path) as journal:
            return list(journal.entries(tenant))

    return run(read())


# ---- encoding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("enqueue", "c1", "sales", 12_500, 0),
        ("not_ready", "a1", "lunch", 0),
        ("timeout", 2**62),
        ("enqueue", "c-ü✓", "q", 1, -1_000_000, None, {"sales": 3}, {"crm": "42"}),
        ("x", True, False, 1.5, [1, "a", None, {"k": [2]}], {}),
    ],
)
def test_a_command_round_trips_to_the_same_tuple(command: Command) -> None:
    text = encode_command(command)
    back = decode_command(text)
    assert back == command
    assert [type(v) for v in back] == [type(v) for v in command]
    assert " " not in text.replace("lunch", "")  # compact: no padding between items


class Level(enum.IntEnum):
    ONE = 1


@pytest.mark.parametrize(
    "command",
    [
        (),
        ["login", "a1", 0],
        (5, "a1"),
        ("login", ("a1",), 0),  # a nested tuple would come back as a list
        ("login", b"a1", 0),
        ("login", "a1", Level.ONE),
        ("enqueue", "c", "q", 1, 0, {1: 2}),
        ("timeout", float("nan")),
        ("x", {"a"}),
    ],
)
def test_a_value_that_would_not_round_trip_is_refused(command: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        encode_command(command)


@pytest.mark.parametrize("text", ["", "{}", "[]", "[1, 2]", '"login"', '["a"'])
def test_decoding_a_non_command_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        decode_command(text)


# ---- durability -------------------------------------------------------------------------


def test_entries_survive_a_reopen_and_the_sequence_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"

    async def first() -> list[int]:
        async with Journal(path) as journal:
            one = await journal.append("t1", ("login", "a1", 0))
            more = await journal.append_many("t1", [("ready", "a1", 1), ("timeout", 2)])
            return [one, *more]

    async def second() -> int:
        async with Journal(path) as journal:
            assert journal.last_seq("t1") == 3
            return await journal.append("t1", ("logout", "a1", 3))

    assert run(first()) == [1, 2, 3]
    assert run(second()) == 4
    assert entries(path, "t1") == [
        (1, ("login", "a1", 0)),
        (2, ("ready", "a1", 1)),
        (3, ("timeout", 2)),
        (4, ("logout", "a1", 3)),
    ]


def test_the_file_is_in_wal_mode_and_the_writer_syncs_fully(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    opened: list[sqlite3.Connection] = []

    def connect(p: str) -> sqlite3.Connection:
        opened.append(sqlite3.connect(p, check_same_thread=False))
        return opened[-1]

    async def main() -> None:
        async with Journal(path, connect=connect) as journal:
            await journal.append("t", ("timeout", 1))
            # The writer is idle (its last commit was awaited): reading a pragma is safe.
            assert opened[0].execute("PRAGMA synchronous").fetchone() == (2,)  # FULL

    run(main())
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_close_commits_what_is_pending_and_refuses_later_writes(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"

    async def main() -> list[int]:
        journal = Journal(path)
        futures = [journal.append("t", ("timeout", i)) for i in range(50)]
        await journal.close()  # nothing awaited the futures yet
        assert all(f.done() for f in futures)
        with pytest.raises(JournalClosedError):
            journal.append("t", ("timeout", 99))
        return [f.result() for f in futures]

    assert run(main()) == list(range(1, 51))
    assert [seq for seq, _ in entries(path, "t")] == list(range(1, 51))


def test_an_unreadable_entry_names_its_tenant_and_seq(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"

    async def fill() -> None:
        async with Journal(path) as journal:
            await journal.append_many("shop", [("timeout", 1), ("timeout", 2), ("timeout", 3)])

    run(fill())
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE entries SET command = '[\"timeout\", 2' WHERE seq = 2")
    with pytest.raises(CorruptEntryError) as info:
        entries(path, "shop")
    assert (info.value.tenant, info.value.seq) == ("shop", 2)
    assert "'shop', seq 2" in str(info.value)


# ---- tenants ----------------------------------------------------------------------------


def test_each_tenant_has_its_own_sequence(tmp_path: Path) -> None:
    async def main(journal: Journal) -> list[int]:
        futures = [journal.append(f"t{i % 3}", ("timeout", i)) for i in range(9)]
        return list(await asyncio.gather(*futures))

    async def body() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            assert await main(journal) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
            assert journal.tenants() == ["t0", "t1", "t2"]
            assert [c for _, c in journal.entries("t1")] == [("timeout", i) for i in (1, 4, 7)]
            assert list(journal.entries("nobody")) == []
            assert journal.last_seq("nobody") == 0

    run(body())


async def _three_tenants(journal: Journal) -> None:
    for tenant in ("t1", "t2", "t3"):
        await journal.set_config(tenant, f'{{"tenant": "{tenant}"}}')
        await journal.append_many(tenant, [("login", f"{tenant}-a", i) for i in range(5)])
        await journal.save_snapshot(tenant, 3, f"state of {tenant}".encode())


def test_export_delete_and_import_move_one_tenant(tmp_path: Path) -> None:
    export = tmp_path / "t2.export"

    async def here() -> None:
        async with Journal(tmp_path / "here.sqlite3") as journal:
            await _three_tenants(journal)
            before = {t: list(journal.entries(t)) for t in ("t1", "t3")}
            journal.export_tenant("t2", export)
            await journal.delete_tenant("t2")
            assert journal.tenants() == ["t1", "t3"]
            assert list(journal.entries("t2")) == []
            assert journal.latest_snapshot("t2") is None
            assert {t: list(journal.entries(t)) for t in ("t1", "t3")} == before
            assert journal.latest_snapshot("t1") == (3, b"state of t1")
            assert await journal.append("t2", ("timeout", 0)) == 1  # a new tenant t2

    async def there() -> None:
        async with Journal(tmp_path / "there.sqlite3") as journal:
            await journal.append("t9", ("timeout", 0))
            assert await journal.import_tenant(export) == "t2"
            assert journal.tenants() == ["t2", "t9"]
            assert [c for _, c in journal.entries("t2")] == [("login", "t2-a", i) for i in range(5)]
            assert journal.latest_snapshot("t2") == (3, b"state of t2")
            assert journal.config("t2") == '{"tenant": "t2"}'
            assert await journal.append("t2", ("timeout", 9)) == 6
            with pytest.raises(ValueError, match="already exists"):
                await journal.import_tenant(export)
            assert await journal.append("t9", ("timeout", 1)) == 2  # a refusal breaks nothing

    run(here())
    run(there())


def test_exporting_an_unknown_tenant_leaves_no_file(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            await journal.append("t1", ("timeout", 0))
            with pytest.raises(KeyError):
                journal.export_tenant("t2", tmp_path / "out")
            assert not (tmp_path / "out").exists()
            journal.export_tenant("t1", tmp_path / "out")
            with pytest.raises(FileExistsError):
                journal.export_tenant("t1", tmp_path / "out")

    run(main())


def test_the_initial_config_is_fixed_once_there_are_entries(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            await journal.set_config("t", "{}")
            await journal.set_config("t", '{"seed": 2}')
            assert journal.config("t") == '{"seed": 2}'
            await journal.append("t", ("timeout", 0))
            with pytest.raises(ValueError, match="initial config"):
                await journal.set_config("t", "{}")
            assert journal.config("t") == '{"seed": 2}'
            assert journal.config("other") is None

    run(main())


# ---- snapshots and pruning -------------------------------------------------------------


def test_only_the_newest_snapshots_are_kept_and_pruning_follows_the_oldest(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3", keep_snapshots=2) as journal:
            await journal.append_many("t", [("timeout", i) for i in range(10)])
            await journal.append("u", ("timeout", 0))
            assert await journal.prune("t") == 0  # no snapshot: every entry is needed
            for seq in (2, 5, 7):
                await journal.save_snapshot("t", seq, b"s%d" % seq)
            assert journal.snapshot_seqs("t") == [5, 7]
            assert journal.latest_snapshot("t") == (7, b"s7")
            assert await journal.prune("t") == 5
            assert [s for s, _ in journal.entries("t")] == [6, 7, 8, 9, 10]
            assert journal.last_seq("t") == 10
            assert [s for s, _ in journal.entries("u")] == [1]
            with pytest.raises(ValueError, match="newer snapshot"):
                await journal.save_snapshot("t", 6, b"old")
            with pytest.raises(ValueError, match="past its last"):
                await journal.save_snapshot("t", 11, b"future")
            await journal.save_snapshot("t", 7, b"again")  # the same seq replaces
            assert journal.latest_snapshot("t") == (7, b"again")
            assert await journal.append("t", ("timeout", 10)) == 11

    run(main())


def test_the_service_state_commits_with_its_snapshot(tmp_path: Path) -> None:
    """The snapshot holds the router only; the service's state (scheduled callbacks, pending
    breaks) is the entry right after it, in the same transaction: a crash keeps both or
    neither, and replay from the snapshot starts with the state."""
    state = ("svc:state", {"breaks": {"anna": "lunch"}, "callbacks": {}})

    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            await journal.append_many("t", [("timeout", i) for i in range(3)])
            await journal.save_snapshot("t", 3, b"router", then=state)
            assert journal.latest_snapshot("t") == (3, b"router")
            assert list(journal.entries("t", after=3)) == [(4, state)]
            assert journal.last_seq("t") == 4
            assert await journal.append("t", ("timeout", 9)) == 5
            with pytest.raises(ValueError, match="state after snapshot 4: the last entry is 5"):
                await journal.save_snapshot("t", 4, b"stale", then=state)
            assert journal.latest_snapshot("t") == (3, b"router")  # refused whole
            assert journal.last_seq("t") == 5

    run(main())


def test_pruning_everything_up_to_the_last_seq_keeps_the_sequence(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"

    async def main() -> None:
        async with Journal(path, keep_snapshots=1) as journal:
            await journal.append_many("t", [("timeout", i) for i in range(4)])
            await journal.save_snapshot("t", 4, b"all")
            assert await journal.prune("t") == 4
        async with Journal(path) as journal:
            assert list(journal.entries("t")) == []
            assert await journal.append("t", ("timeout", 5)) == 5

    run(main())
