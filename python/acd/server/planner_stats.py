"""Fixed statistics for SQLite's query planner: the shape of the histories, not their counts.

Without statistics SQLite guesses that ``tenant = ?`` picks out a few rows, as if every
tenant had a handful of contacts. It then reads a tenant's contacts through the primary key
(tenant, call_id, enqueued_at) rather than through the index on the column that does select:
clearing a caller's missed contacts on every answer (``history.clear_missed``) walked the whole
tenant, 45 ms per answered call at 200,000 contacts, growing with the history. Running ANALYZE
would fix the plans only for the data present when it ran (an empty file at first start), and
costs a scan of every index.

So the journal writes the statistics SQLite documents for this purpose (``sqlite_stat1``) once
on open: per index, rows in total, then rows per distinct value of each leading column group.
The figures describe the shape (few tenants; a call id, an agent's events, a caller number,
a moment select few rows), which does not change as the file grows. ``tests/test_planner.py``
checks the plans the service's statements get with them.
"""

from __future__ import annotations

import sqlite3

from acd.server.sql_transaction import transaction

# (table, index, stat): an index of a WITHOUT ROWID table's primary key is named as the table.
STATISTICS = (
    ("contacts", "contacts", "1000000 100000 1 1"),
    ("contacts", "contacts_by_caller", "1000000 100000 10 1"),
    ("contacts", "contacts_handled_by_caller", "800000 80000 8 1"),
    ("contacts", "contacts_by_end", "1000000 100000 2"),
    ("contacts", "contacts_by_start", "1000000 100000 2"),
    ("contacts", "contacts_missed", "20000 2000 2"),
    ("contacts", "contacts_missed_open", "2000 200 2"),
    ("contacts", "contacts_live", "1000 100"),
    ("agent_events", "agent_events_by_agent", "1000000 100000 200 1"),
    ("agent_events", "agent_events_by_time", "1000000 100000 2"),
    ("entries", "entries", "1000000 100000 1"),
)


def write(conn: sqlite3.Connection) -> None:
    """Writes :data:`STATISTICS` for the tables it names (replacing what an ANALYZE may have
    left) and makes ``conn`` (autocommit) plan with them; later connections read them."""
    tables = sorted({table for table, _, _ in STATISTICS})
    marks = ", ".join("?" * len(tables))
    conn.execute("ANALYZE sqlite_schema")  # creates sqlite_stat1 if missing; scans nothing
    with transaction(conn):
        conn.execute(f"DELETE FROM sqlite_stat1 WHERE tbl IN ({marks})", tables)
        conn.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", STATISTICS)
    conn.execute("ANALYZE sqlite_schema")  # reloads the statistics into this connection
