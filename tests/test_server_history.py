"""The contact history (acd.server.history): one complete row per contact, written in the
journal's transaction, kept across restarts without duplicates."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from acd.server import history
from acd.server.clock import Clock
from acd.server.history import Contact
from acd.server.journal import CommitError, Journal
from history_helpers import (
    MONDAY_10,
    FakeWall,
    accept,
    cancel,
    config,
    contacts,
    end,
    enqueue,
    handle,
    login_ready,
    next_offer,
    wrap_up,
)
from server_helpers import running


def test_a_finished_call_has_its_complete_row(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(
            s,
            "c1",
            caller_number="+4930111",
            dialled_number="+49800100200",
            attributes={"order": "A-7"},
        )
        assert next_offer(anna).offer.call_id == "c1"
        wall.ms += 4_000
        accept(s, "anna", "c1")
        wall.ms += 60_000
        end(s, "c1")
        wall.ms += 10_000
        wrap_up(s, "anna", "c1", "sold", "wants the blue one")
    [row] = contacts(tmp_path / "data")
    assert row["tenant"] == "store"
    assert (row["call_id"], row["queue_id"], row["first_queue_id"]) == ("c1", "sales", "sales")
    assert (row["channel"], row["caller_number"], row["dialled_number"]) == (
        "voice",
        "+4930111",
        "+49800100200",
    )
    assert row["campaign"] == "radio"  # "+49 800 100 200" in the config, spaces ignored
    assert (row["enqueued_at"], row["answered_at"], row["ended_at"]) == (
        MONDAY_10,
        MONDAY_10 + 4_000,
        MONDAY_10 + 64_000,
    )
    assert (row["outcome"], row["wait_ms"], row["talk_ms"], row["wrapup_ms"]) == (
        "completed",
        4_000,
        60_000,
        10_000,
    )
    assert (row["agent_id"], row["disposition"], row["notes"]) == (
        "anna",
        "sold",
        "wants the blue one",
    )
    assert json.loads(row["attributes"]) == {"order": "A-7"}
    assert row["within_hours"] == 1
    assert row["missed"] == 0


def test_a_live_call_has_an_open_row_and_a_call_id_repeat_adds_none(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        enqueue(s, "c1", caller_number="+4930111")
        assert enqueue(s, "c1", caller_number="+4930111").duplicate
        wall.ms += 1_000
        [row] = contacts(tmp_path / "data")
        assert (row["call_id"], row["ended_at"], row["outcome"]) == ("c1", None, None)
        cancel(s, "c1")
        assert enqueue(s, "c1").duplicate  # within the dedup window: the same contact
    row, callback = contacts(tmp_path / "data")
    assert (row["outcome"], row["wait_ms"], row["answered_at"]) == ("abandoned", 1_000, None)
    # Missed within the office's hours: sales calls it back (test_server_missed).
    assert (callback["call_id"], callback["channel"]) == ("c1:callback", "callback")


def test_restarts_keep_the_history_without_duplicates(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        for i in range(3):
            enqueue(s, f"c{i}", caller_number="+4930111")
            handle(s, anna, "anna", f"c{i}", "sold", wall)
        enqueue(s, "live", caller_number="+4930222")
        assert next_offer(anna).offer.call_id == "live"
        wall.ms += 2_000
        accept(s, "anna", "live")  # connected across the restart
    before = contacts(tmp_path / "data")
    assert [r["call_id"] for r in before] == ["c0", "c1", "c2", "live"]
    assert before[-1]["answered_at"] is not None and before[-1]["ended_at"] is None

    for _ in range(2):  # replay at each start must not write a row again
        wall.ms += 1_000
        with running(tmp_path, config(), clock=Clock(wall)):
            pass
        assert contacts(tmp_path / "data") == before

    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        wall.ms += 30_000
        end(s, "live")
        wrap_up(s, "anna", "live", "no-interest")
    rows = contacts(tmp_path / "data")
    assert rows[:3] == before[:3]
    live = rows[3]
    assert (live["outcome"], live["agent_id"], live["disposition"]) == (
        "completed",
        "anna",
        "no-interest",
    )
    assert live["wait_ms"] == 2_000  # the answer time came back from the history's row
    assert live["answered_at"] == before[-1]["answered_at"]


def test_rows_commit_with_their_journal_entry_or_not_at_all(tmp_path: Path) -> None:
    """An append whose transaction fails leaves neither the entry nor the row: the history
    can never hold a contact the journal does not, nor miss one it holds."""
    path = tmp_path / "journal.sqlite3"
    fail = {"on": False}

    class Failing(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            # Where a commit fails; a subclass keeps the writer's statements (no native path).
            if fail["on"] and sql == "COMMIT":
                raise sqlite3.OperationalError("disk I/O error (injected)")
            return super().execute(sql, *args)

    def connect(p: str) -> sqlite3.Connection:
        return sqlite3.connect(p, check_same_thread=False, factory=Failing)

    contact = Contact("c1", MONDAY_10, "sales", "voice", caller_number="+49301")

    async def scenario() -> None:
        async with Journal(path, connect=connect) as journal:
            await journal.append("store", ("timeout", 1), [history.insert_live("store", contact)])
            fail["on"] = True
            second = Contact("c2", MONDAY_10, "sales", "voice")
            with pytest.raises(CommitError):
                await journal.append(
                    "store", ("timeout", 2), [history.insert_live("store", second)]
                )

    asyncio.run(scenario())
    with sqlite3.connect(path) as conn:
        entries = conn.execute("SELECT seq FROM entries").fetchall()
        rows = conn.execute("SELECT call_id FROM contacts").fetchall()
    assert entries == [(1,)]
    assert rows == [("c1",)]


def test_a_transferred_call_ends_in_its_last_queue(tmp_path: Path) -> None:
    from acd.v1 import routing_pb2
    from history_helpers import ADAPTER

    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "c1", caller_number="+4930111")
        assert next_offer(anna).offer.call_id == "c1"
        accept(s, "anna", "c1")
        wall.ms += 5_000
        transfer = routing_pb2.TransferCallRequest(call_id="c1", queue_id="support")
        s.routing.TransferCall(transfer, metadata=ADAPTER, timeout=5)
        wrap_up(s, "anna", "c1", "sold")
        assert next_offer(anna).offer.call_id == "c1"
        accept(s, "anna", "c1")
        wall.ms += 5_000
        end(s, "c1")
    [row] = contacts(tmp_path / "data")
    assert (row["first_queue_id"], row["queue_id"], row["outcome"]) == (
        "sales",
        "support",
        "completed",
    )
    assert (row["wait_ms"], row["talk_ms"]) == (0, 10_000)  # from the first answer


def test_a_disposition_is_recorded_only_with_an_accepted_wrap_up(tmp_path: Path) -> None:
    from acd.server.commands import Applied, RouterEvent
    from acd.server.history_events import ContactLog, HistoryStore

    log = ContactLog("store", HistoryStore(str(tmp_path / "unused.sqlite3"), "store"))
    tenant = config().tenants["store"]
    extras: dict[str, Any] = {"calls": {}, "agents": {}, "queues": set()}

    def no_follow_ups(commands: object) -> Any:
        raise AssertionError("no follow-up expected")

    done = ("wrapup_done", "anna", "c1", MONDAY_10)
    refused = RouterEvent("error", "", "", "", MONDAY_10, 0, "illegal-transition", "command 0: x")
    log.expect_disposition("anna", "c1", "sold", "")
    was_refused = Applied([refused], [], {0: refused})
    log.record(tenant, [done], was_refused, frozenset(), extras, no_follow_ups)
    assert log.take_statements() == []
    log.record(tenant, [done], Applied([], [done], {}), frozenset(), extras, no_follow_ups)
    assert log.take_statements() == []  # the refused one's code was not kept for later
    log.expect_disposition("anna", "c1", "sold", "notes")
    log.record(tenant, [done], Applied([], [done], {}), frozenset(), extras, no_follow_ups)
    [(sql, params)] = log.take_statements()
    assert sql.startswith("UPDATE contacts SET disposition")
    assert params[:2] == ("sold", "notes")
