"""The contact history's newer columns (routing rule, transfers, recording) on a journal file
written before they existed: the service opens it, adds them, exports the old rows with them
empty and fills them for new calls; an export file from before them imports too."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

from acd.server.app import JOURNAL_FILE
from acd.server.clock import Clock
from acd.server.history import ADDED_COLUMNS
from acd.server.journal import Journal
from acd.v1 import agent_pb2
from quality_helpers import (
    ANNA,
    MONDAY_10,
    FakeWall,
    T,
    answered_call,
    attach,
    cdrs,
    config,
    finish,
    login_ready,
)
from server_helpers import running

PERIOD = {"from_ms": MONDAY_10 - 86_400_000, "to_ms": MONDAY_10 + 86_400_000}


def _drop_added_columns(path: Path) -> None:
    """Makes ``path``'s contacts table what it was before ``ADDED_COLUMNS``."""
    with closing(sqlite3.connect(path)) as conn:
        for name, _ in reversed(ADDED_COLUMNS):
            conn.execute(f"ALTER TABLE contacts DROP COLUMN {name}")
        conn.commit()
        columns = {row[1] for row in conn.execute("PRAGMA table_info(contacts)")}
    assert not columns & {name for name, _ in ADDED_COLUMNS}


def test_an_older_journal_file_opens_and_gains_the_columns(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        answered_call(s, anna, "anna", "old", wall)
        finish(s, "anna", "old", wall)
        s.agent.Logout(agent_pb2.LogoutRequest(agent_id="anna"), metadata=ANNA, timeout=T)
        anna.close()
    _drop_added_columns(tmp_path / "data" / JOURNAL_FILE)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        (old,) = cdrs(s, **PERIOD)
        assert (old.call_id, old.agent_id, old.outcome) == ("old", "anna", "completed")
        assert (old.routing_rule, old.transfer_count, old.recording) == ("", 0, "")
        anna = login_ready(s, "anna")
        answered_call(s, anna, "anna", "new", wall)
        attach(s, "new", "/rec/new.wav")
        finish(s, "anna", "new", wall)
        anna.close()
        _, new = cdrs(s, **PERIOD)
    assert (new.call_id, new.routing_rule, new.recording) == ("new", "longest-idle", "/rec/new.wav")


def test_an_export_from_before_the_columns_imports(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        answered_call(s, anna, "anna", "c1", wall)
        finish(s, "anna", "c1", wall)
        anna.close()
    export = tmp_path / "store.export"

    async def move() -> None:
        async with Journal(tmp_path / "data" / JOURNAL_FILE) as journal:
            journal.export_tenant("store", export)
        _drop_added_columns(export)
        async with Journal(tmp_path / "there.sqlite3") as journal:
            assert await journal.import_tenant(export) == "store"

    asyncio.run(move())
    with closing(sqlite3.connect(tmp_path / "there.sqlite3")) as conn:
        rows = conn.execute(
            "SELECT call_id, agent_id, route_rule, transfers, recording FROM contacts"
        ).fetchall()
    assert rows == [("c1", "anna", "", "[]", "")]
