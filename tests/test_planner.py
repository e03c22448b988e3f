"""planner_stats: with the journal's fixed statistics, no statement the service runs on the
histories walks a whole tenant (the plans do not depend on how many rows there are, so an
empty journal shows them)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from acd.server import history, planner_stats
from acd.server.history import Contact, HistoryStore
from acd.server.journal import Journal
from acd.server.journal_format import TABLES

HOUR = 3_600_000


def opened_journal(tmp_path: Path) -> str:
    path = tmp_path / "j.sqlite3"

    async def open_and_close() -> None:
        async with Journal(path):
            pass

    asyncio.run(open_and_close())
    return str(path)


def plan(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[str]:
    return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


# "... USING [COVERING ]INDEX name (tenant=?)" or "... USING PRIMARY KEY (tenant=?)": every
# row of the tenant, unless the index is a partial one that holds few rows by design.
_BY_TENANT = re.compile(r"USING (?:COVERING )?(?:INDEX (\w+)|PRIMARY KEY) \(tenant=\?\)$")
SMALL_PARTIAL_INDEXES = {"contacts_live"}


def walks(details: list[str]) -> list[str]:
    """The steps that read a whole table or a whole tenant of it."""

    def whole(d: str) -> bool:
        if d.startswith("SCAN "):
            return d.split()[1] in TABLES
        by_tenant = _BY_TENANT.search(d)
        return by_tenant is not None and by_tenant.group(1) not in SMALL_PARTIAL_INDEXES

    return [d for d in details if whole(d)]


CONTACT = Contact("c1", 5 * HOUR, "sales", "voice", caller_number="+4930111", callback_for="c0")


def write_statements() -> list[tuple[str, tuple[Any, ...]]]:
    return [
        history.insert_live("t", CONTACT),
        history.answered("t", CONTACT),
        history.transferred("t", CONTACT),
        history.recording("t", CONTACT),
        history.finished("t", CONTACT),
        history.disposition("t", "c1", "sale", "", 6 * HOUR),
        history.wrapup_over("t", "c1", 6 * HOUR),
        history.clear_missed("t", CONTACT, 6 * HOUR),
    ]


def test_the_written_statistics_are_the_ones_sqlite_plans_with(tmp_path: Path) -> None:
    with sqlite3.connect(opened_journal(tmp_path)) as conn:
        rows = set(conn.execute("SELECT tbl, idx, stat FROM sqlite_stat1"))
        indexes = {n for (n,) in conn.execute("SELECT name FROM sqlite_schema")}
    assert set(planner_stats.STATISTICS) <= rows
    # Every index named exists (a renamed index would silently lose its figures).
    assert {idx for _, idx, _ in planner_stats.STATISTICS} <= indexes


@pytest.mark.parametrize("index", range(len(write_statements())))
def test_no_history_write_walks_the_tenant(tmp_path: Path, index: int) -> None:
    sql, params = write_statements()[index]
    with sqlite3.connect(opened_journal(tmp_path)) as conn:
        assert walks(plan(conn, sql, params)) == [], sql


def test_clearing_a_callers_missed_contacts_reads_only_the_open_missed_ones(
    tmp_path: Path,
) -> None:
    sql, params = history.clear_missed("t", CONTACT, 6 * HOUR)
    path = opened_journal(tmp_path)
    with sqlite3.connect(path) as conn:
        assert any("contacts_missed_open" in d for d in plan(conn, sql, params))
        conn.execute("DELETE FROM sqlite_stat1")
    # Without the statistics SQLite walks the tenant through the primary key: the check above
    # is what the statistics are for.
    with sqlite3.connect(path) as conn:
        assert walks(plan(conn, sql, params)) != []


def test_a_callers_last_handled_contact_reads_no_unanswered_one(tmp_path: Path) -> None:
    """A number whose recent contacts went unanswered (a withheld number, a caller who keeps
    hanging up) must not cost a screen pop one row per such contact: the partial index holds
    answered contacts only."""
    store = HistoryStore(opened_journal(tmp_path), "t")
    conn = store._db()
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    store.last_handled("+4930111", HOUR, "c9")
    conn.set_trace_callback(None)
    (sql,) = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert any("contacts_handled_by_caller" in d for d in plan(conn, sql, ())), sql
    store.close()


READS: list[tuple[str, Callable[[HistoryStore], object]]] = [
    ("live", lambda h: h.live()),
    ("latest", lambda h: h.latest("c1")),
    ("counts_by_caller", lambda h: h.counts_by_caller("+4930111", [0, HOUR], 2 * HOUR)),
    ("newest_by_caller", lambda h: h.newest_by_caller("+4930111", 0)),
    ("latest_by_caller", lambda h: h.latest_by_caller("+4930111", HOUR, "c9")),
    ("previous_by_caller", lambda h: h.previous_by_caller("+4930111", HOUR, "c9")),
    ("last_handled", lambda h: h.last_handled("+4930111", HOUR, "c9")),
    ("entered", lambda h: h.entered(0, HOUR, ["sales", "support"])),
    ("finished_page", lambda h: h.finished_page(0, HOUR, None, 100)),
    ("finished_page after", lambda h: h.finished_page(0, HOUR, (5, "c1", 1), 100)),
    ("recordings_page", lambda h: h.recordings_page(0, HOUR, "a1", None, 100)),
    ("missed", lambda h: h.missed(["sales"], 0, False, 50)),
    ("agents.between", lambda h: h.agents().between(0, HOUR, ["a1", "a2"])),
    ("agents.state_before", lambda h: h.agents().state_before("a1", HOUR)),
    ("evaluations.page", lambda h: h.evaluations().page(0, HOUR, "a1", None, None, 100)),
]


@pytest.mark.parametrize("name, read", READS, ids=[name for name, _ in READS])
def test_no_history_read_walks_the_tenant(
    tmp_path: Path, name: str, read: Callable[[HistoryStore], object]
) -> None:
    store = HistoryStore(opened_journal(tmp_path), "t")
    conn = store._db()
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    read(store)
    conn.set_trace_callback(None)
    queries = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert queries, name
    for sql in queries:  # traced with its values in place
        assert walks(plan(conn, sql, ())) == [], sql
    store.close()
