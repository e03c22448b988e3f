"""Runs a commit's statements as one SQLite statement, so the journal's writer thread takes the
GIL back once per commit instead of once per row.

Why: Python's sqlite3 releases the GIL around every step of every statement. The writer thread
then has to win the GIL back from the event loop's thread before it can bind the next row, and
while that thread is busy each win waits for it to let go (up to the switch interval). With a
busy event loop a one-row insert that takes 10 us alone took 150-200 us of wall time in the
writer (measured: lifecycle phase of bench/service_vs_echo.py, about 35 statements a commit),
and the commit's latency is every waiting client's latency.

How: each distinct statement text becomes a TEMP trigger on a TEMP view, ``statement_inbox``,
that runs the statement with its ``?`` parameters read from the inserted row's JSON array. A
whole commit is then one ``INSERT INTO statement_inbox SELECT ... FROM json_each(?)``: SQLite
fires the triggers row by row, in the order the statements were given, so the effect is
exactly that of running them one after another (an UPDATE sees the INSERT before it). A
statement that fails fails the one execute, and with it the transaction, as before. Commits
of fewer than ``MIN_STATEMENTS`` statements gain nothing from it and run as before.

Parameters must survive JSON unchanged: str, int, None, bool. :meth:`prepare` returns None
for anything else (bytes, a float) and for a string holding NUL, and the caller runs that
commit's statements one by one instead.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from typing import Any

Statement = tuple[str, tuple[Any, ...]]

VIEW = "statement_inbox"
_INSERT = (
    f"INSERT INTO temp.{VIEW} (kind, params) SELECT json_extract(value, '$[0]'), value"
    " FROM json_each(?)"
)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# A NUL as JSON writes it: \u0000 after an even number of backslashes (an odd number would
# make it the text "\u0000", escaped).
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def trigger_body(sql: str) -> str:
    """``sql`` with its k-th ``?`` (outside quotes) read from ``NEW.params`` (index k + 1: index
    0 is the statement's kind)."""
    out: list[str] = []
    quote = ""
    k = 0
    for ch in sql:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            k += 1
            out.append(f"json_extract(NEW.params, '$[{k}]')")
            continue
        out.append(ch)
    if quote:
        raise ValueError(f"unbalanced quote in statement: {sql!r}")
    return "".join(out).strip().rstrip(";")


# Fewer statements than this run one by one. Batching costs GIL-held work (the JSON encoding,
# 3-5 us a statement) and makes commits quicker, so under a saturating load of unary enqueues
# each group commit gathers fewer appends: unary EnqueueCall at saturation ran about 10% slower
# at 8 than at 32 (1,036 vs 1,145/s, three runs each, back to back). Below the threshold,
# though, a commit waits for the GIL at every row while the event loop is busy: in the full
# service bench, at 32, commits of 9-29 statements took 50-85 ms (400-540 commits over 15 ms a
# run, 20-50 at 8) and the offer latency p99 was 12-16 ms (9-11 ms at 8). An offer reaching its
# agent on time matters more than enqueues beyond a thousand a second.
MIN_STATEMENTS = 8

# Distinct statement texts with a trigger at most (the service has about fifteen).
MAX_KINDS = 64

# What JSON carries unchanged (ints: the router's 64-bit values). A float could come back one
# ulp off through SQLite's own decimal parser, bytes not at all: such commits run unbatched.
_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


class StatementBatch:
    """The triggers of one connection (made as new statement texts come, outside any
    transaction) and the encoding of a commit's statements into one inbox insert."""

    def __init__(self, conn: sqlite3.Connection, min_statements: int = MIN_STATEMENTS):
        self._conn = conn
        self._min_statements = min_statements
        # Statement text -> its trigger's kind; 0: SQLite would not take it in a trigger.
        self._kinds: dict[str, int] = {}
        try:
            conn.execute(
                f"CREATE TEMP VIEW IF NOT EXISTS {VIEW} AS SELECT 0 AS kind, '' AS params WHERE 0"
            )
            conn.execute("SELECT json_extract('[1]', '$[0]') FROM json_each('[]')").fetchall()
            self._enabled = True
        except sqlite3.Error:  # an SQLite without its JSON functions: every commit unbatched
            self._enabled = False

    def prepare(self, statements: Sequence[Statement]) -> str | None:
        """The JSON parameter of :meth:`run` for ``statements``, making the triggers of texts
        not seen before; None when they are too few to gain from it or a parameter would not
        survive JSON unchanged. Call it outside a transaction (a rolled-back CREATE TRIGGER
        would leave the table wrong)."""
        if not self._enabled or len(statements) < self._min_statements:
            return None
        rows: list[list[Any]] = []
        kinds = self._kinds
        for sql, params in statements:
            if not _PLAIN_TYPES.issuperset(map(type, params)):
                return None
            kind = kinds.get(sql)
            if kind is None:
                kind = self._add(sql)
            if not kind:
                return None
            rows.append([kind, *params])
        text = _ENCODER.encode(rows)
        # SQLite's JSON functions stop a string at an escaped NUL: such a commit runs unbatched.
        return None if "\\u0000" in text and _ESCAPED_NUL.search(text) else text

    def run(self, prepared: str) -> None:
        self._conn.execute(_INSERT, (prepared,))

    def _add(self, sql: str) -> int:
        kind = len(self._kinds) + 1
        if kind > MAX_KINDS:
            # Statement texts are fixed in the code; if some text ever carried its values,
            # each would add a trigger that every row of every commit then checks.
            return 0  # not remembered either: the table stays bounded
        try:
            self._conn.execute(
                f"CREATE TEMP TRIGGER {VIEW}_{kind} INSTEAD OF INSERT ON {VIEW} "
                f"WHEN NEW.kind = {kind} BEGIN {trigger_body(sql)}; END"
            )
        except (sqlite3.Error, ValueError):
            # Not every statement may stand in a trigger (a WITH clause, RETURNING): such a
            # text always runs unbatched. It fails there too if it is simply wrong.
            kind = 0
        self._kinds[sql] = kind
        return kind
