"""How the service's writers run a transaction: ``transaction`` for a Python sqlite3
connection, and ``native_transactions`` for the journal writer's appends, which run in one
native call without the GIL (``acd._core.Transactions``).

Why native: Python's sqlite3 releases the GIL around every prepare and every step, and the
writer thread then has to win it back from the event loop's thread, waiting up to the switch
interval each time while that thread is busy. A commit of n statements waited about 2n + 4
times, and a commit's latency is the latency of every request waiting on it. An earlier
version ran each commit as one multi-row insert into a view whose triggers ran the statements
(three waits a commit); the native transaction needs one, and costs SQLite no triggers.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from acd._core import Transactions

Statement = tuple[str, tuple[Any, ...]]

# The settings of the Python connection that the native one copies: durability, how long it
# waits for a lock, and a size limit where one was set.
_COPIED_SETTINGS = ("synchronous", "busy_timeout", "max_page_count")


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back if anything inside raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (busy, I/O error) can leave the transaction open: end it here.
        if conn.in_transaction:
            conn.rollback()
        raise


def native_transactions(conn: sqlite3.Connection, path: str) -> Transactions | None:
    """A second, native connection to ``path`` with the settings of ``conn``, for the
    writer's appends. None where ``conn`` is of a subclass of ``sqlite3.Connection``: a
    connection that overrides ``execute`` (tests make commits fail that way) keeps every
    statement, so that what it overrides still happens."""
    if type(conn) is not sqlite3.Connection:
        return None
    setup = []
    for name in _COPIED_SETTINGS:
        (value,) = conn.execute(f"PRAGMA {name}").fetchone()
        setup.append(f"PRAGMA {name} = {int(value)}")
    return Transactions(path, setup)
