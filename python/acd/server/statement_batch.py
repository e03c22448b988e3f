"""Runs a commit's statements as one SQLite statement, so the journal's writer thread takes the
GIL back once per commit instead of once per row.

Why: Python's sqlite3 releases the GIL around every step of every statement. The writer thread
then has to win the GIL back from the event loop's thread before it can bind the next row, and
while that thread is busy each win waits for it to let go (up to the switch interval). With a
busy event loop a one-row insert that takes 10 us alone took 150-200 us of wall time in the
writer (measured: lifecycle phase of bench/service_vs_echo.py, about 35 statements a commit),
and the commit's latency is every waiting client's latency.

How: each distinct statement text becomes a TEMP trigger on a TEMP view, ``statement_inbox``
(columns ``kind, p1 .. p64``), that runs the statement with its k-th ``?`` read from column
``pk`` of the inserted row. A whole commit is then one
``INSERT INTO statement_inbox (kind, p1, ..) VALUES (?, ..), (?, ..), ..`` with every value
bound as itself: SQLite fires the triggers row by row, in the order the statements were
given, so the effect is exactly that of running them one after another (an UPDATE sees the
INSERT before it), and a value reaches its statement as the same SQLite value it would have
been bound as (a view column has no type affinity). A statement that fails fails the one
execute, and with it the transaction, as before.

The row count of the insert is rounded up to one of a few sizes, the extra rows of kind 0
matching no trigger, so SQLite (and Python's statement cache) sees a handful of texts, not one
per commit length. A commit longer than one insert may hold (SQLite's limit on bound
variables) runs as several inserts in one transaction.

An earlier version carried each row's values as one JSON text read back by ``json_extract``:
SQLite before 3.45 parses the text again for every value, which made a 13-value insert cost
about 40% more SQLite time than binding it, and JSON cannot carry bytes, floats or NUL exactly.
Commits of fewer than ``MIN_STATEMENTS`` statements gain nothing from batching and run as before.
"""

from __future__ import annotations

import bisect
import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

Statement = tuple[str, tuple[Any, ...]]
# The inserts that run a commit: (SQL text, its values), in order.
Prepared = list[tuple[str, list[Any]]]

VIEW = "statement_inbox"

# Parameters one statement may have to be batched (the view's columns; the service's longest
# statement has 29). A longer one runs unbatched.
MAX_PARAMS = 64

# Rows an inbox insert is rounded up to, two sizes an octave: at most a third of a commit's
# rows are padding, and a few dozen texts cover every commit.
_SIZES = (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)

# What fills a row past its statement's values, and the rows past a commit's statements: no
# trigger reads them, and Python's sqlite3 binds an int several times faster than None (None
# goes through its adapter lookup).
_FILL = (0,) * (MAX_PARAMS + 1)


def trigger_body(sql: str) -> tuple[str, int]:
    """``sql`` with its k-th ``?`` (outside quotes) read from ``NEW.pk``, and the number of
    parameters. Numbered or named parameters (``?1``, ``:name``) raise ValueError: a
    statement using them runs unbatched."""
    out: list[str] = []
    quote = ""
    k = 0
    for i, ch in enumerate(sql):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            if sql[i + 1 : i + 2].isdigit():
                raise ValueError(f"numbered parameter in statement: {sql!r}")
            k += 1
            out.append(f"NEW.p{k}")
            continue
        elif ch in ":@$" and (sql[i + 1 : i + 2].isalnum() or sql[i + 1 : i + 2] == "_"):
            raise ValueError(f"named parameter in statement: {sql!r}")
        out.append(ch)
    if quote:
        raise ValueError(f"unbalanced quote in statement: {sql!r}")
    return "".join(out).strip().rstrip(";"), k


# Fewer statements than this run one by one. Batching costs GIL-held work (the values laid
# out in one list) and makes commits quicker, so under a saturating load of unary enqueues
# each group commit gathers fewer appends: unary EnqueueCall at saturation ran about 10% slower
# at 8 than at 32 (1,036 vs 1,145/s, three runs each, back to back). Below the threshold,
# though, a commit waits for the GIL at every row while the event loop is busy: in the full
# service bench, at 32, commits of 9-29 statements took 50-85 ms (400-540 commits over 15 ms a
# run, 20-50 at 8) and the offer latency p99 was 12-16 ms (9-11 ms at 8). An offer reaching its
# agent on time matters more than enqueues beyond a thousand a second.
MIN_STATEMENTS = 8

# Distinct statement texts with a trigger at most (the service has about fifteen).
MAX_KINDS = 64


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


class StatementBatch:
    """The triggers of one connection (made as new statement texts come, outside any
    transaction) and the layout of a commit's statements as inbox inserts."""

    def __init__(self, conn: sqlite3.Connection, min_statements: int = MIN_STATEMENTS):
        self._conn = conn
        self._min_statements = min_statements
        # Statement text -> (its trigger's kind, its parameter count); kind 0: SQLite would
        # not take it in a trigger.
        self._kinds: dict[str, tuple[int, int]] = {}
        self._texts: dict[tuple[int, int], str] = {}  # (width, rows) -> inbox insert
        self._variables = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        columns = ", ".join(f"NULL AS p{k}" for k in range(1, MAX_PARAMS + 1))
        view = f"CREATE TEMP VIEW IF NOT EXISTS {VIEW} AS SELECT 0 AS kind, {columns} WHERE 0"
        conn.execute(view)

    def prepare(self, statements: Sequence[Statement]) -> Prepared | None:
        """The inserts that run ``statements`` (see :meth:`run`), making the triggers of texts
        not seen before; None when they are too few to gain from it, or a text cannot be
        batched, or a statement has the wrong number of values (run unbatched, SQLite says
        so). Call it outside a transaction (a rolled-back CREATE TRIGGER would leave the
        table wrong)."""
        if len(statements) < self._min_statements:
            return None
        kinds = self._kinds
        width = 1
        for sql, params in statements:
            known = kinds.get(sql) or self._add(sql)
            if not known[0] or known[1] != len(params):
                return None
            width = max(width, known[1])
        width = -(-width // 8) * 8  # a few widths, a few texts
        pad = width + 1
        fitting = [n for n in _SIZES if n * pad <= self._variables]
        if not fitting:  # an SQLite built with a very low variable limit: run unbatched
            return None
        per_insert = fitting[-1]
        out: Prepared = []
        for start in range(0, len(statements), per_insert):
            chunk = statements[start : start + per_insert]
            rows = _SIZES[bisect.bisect_left(_SIZES, len(chunk))]
            values: list[Any] = []
            for sql, params in chunk:
                values.append(kinds[sql][0])
                values += params
                values += _FILL[: width - len(params)]
            values += _FILL[:pad] * (rows - len(chunk))  # kind 0: rows no trigger takes
            out.append((self._text(width, rows), values))
        return out

    def run(self, prepared: Prepared) -> None:
        """Runs the inserts :meth:`prepare` made: one is its own transaction in autocommit
        mode; several run in one (or in the caller's, if one is open)."""
        conn = self._conn
        alone = len(prepared) == 1 or conn.in_transaction
        with contextlib.nullcontext() if alone else transaction(conn):
            for sql, values in prepared:
                conn.execute(sql, values)

    def _text(self, width: int, rows: int) -> str:
        text = self._texts.get((width, rows))
        if text is None:
            columns = ", ".join(f"p{k}" for k in range(1, width + 1))
            row = "(" + ", ".join("?" * (width + 1)) + ")"
            text = f"INSERT INTO temp.{VIEW} (kind, {columns}) VALUES " + ", ".join([row] * rows)
            self._texts[(width, rows)] = text
        return text

    def _add(self, sql: str) -> tuple[int, int]:
        kind = len(self._kinds) + 1
        if kind > MAX_KINDS:
            # Statement texts are fixed in the code; if some text ever carried its values,
            # each would add a trigger that every row of every commit then checks.
            return (0, 0)  # not remembered either: the table stays bounded
        try:
            body, params = trigger_body(sql)
            if params > MAX_PARAMS:
                raise ValueError(f"{params} parameters, more than the inbox's {MAX_PARAMS}")
            self._conn.execute(
                f"CREATE TEMP TRIGGER {VIEW}_{kind} INSTEAD OF INSERT ON {VIEW} "
                f"WHEN NEW.kind = {kind} BEGIN {body}; END"
            )
        except (sqlite3.Error, ValueError):
            # Not every statement may stand in a trigger (a WITH clause, RETURNING): such a
            # text always runs unbatched. It fails there too if it is simply wrong.
            kind, params = 0, 0
        self._kinds[sql] = (kind, params)
        return kind, params
