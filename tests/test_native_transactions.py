"""acd._core.Transactions, the journal writer's native transactions: the same rows and the
same errors as Python's sqlite3 running the same statements, all or nothing, and the GIL
free while SQLite works."""

from __future__ import annotations

import math
import random
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from acd._core import Transactions
from acd.server.sql_transaction import transaction

SCHEMA = "CREATE TABLE t (k INTEGER PRIMARY KEY, a, b, c)"  # a, b, c: no type affinity
INSERT = "INSERT INTO t (k, a, b, c) VALUES (?, ?, ?, ?)"
UPDATE = "UPDATE t SET b = ?, c = coalesce(c, ?) WHERE k = ?"

VALUES: list[Any] = [
    None,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    True,
    False,
    1.5,
    -0.0,
    1e300,
    float("inf"),
    float("nan"),  # SQLite stores NaN as NULL, whoever binds it
    "",
    "héllo ☎",
    "a\x00b",
    "12",  # numeric-looking text stays text in a column without affinity
    b"",
    b"\x00\xff",
    bytearray(b"ba"),
    memoryview(b"mv"),
]


def _database(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(SCHEMA)
        conn.commit()
    return str(path)


def _rows(path: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(
            "SELECT k, quote(a), typeof(a), quote(b), typeof(b), quote(c), typeof(c) FROM t"
            " ORDER BY k"
        ).fetchall()


def _statements(rng: random.Random) -> Iterator[tuple[str, tuple[Any, ...]]]:
    keys: list[int] = []
    for _ in range(rng.randint(1, 40)):
        if keys and rng.random() < 0.3:
            yield UPDATE, (rng.choice(VALUES), rng.choice(VALUES), rng.choice(keys))
        else:
            keys.append(len(keys) + 1)
            yield INSERT, (keys[-1], *(rng.choice(VALUES) for _ in range(3)))


@pytest.mark.parametrize("seed", range(30))
def test_the_rows_are_those_python_sqlite3_writes(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    statements = list(_statements(rng))
    native_path = _database(tmp_path / "native.sqlite3")
    python_path = _database(tmp_path / "python.sqlite3")
    native = Transactions(native_path)
    try:
        native.run(statements)
    finally:
        native.close()
    with closing(sqlite3.connect(python_path, isolation_level=None)) as conn, transaction(conn):
        for sql, values in statements:
            conn.execute(sql, values)
    assert _rows(native_path) == _rows(python_path), f"seed {seed}"


def test_a_failing_statement_undoes_the_whole_transaction(tmp_path: Path) -> None:
    path = _database(tmp_path / "j.sqlite3")
    native = Transactions(path)
    native.run([(INSERT, (1, "kept", None, None))])
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        native.run([(INSERT, (2, "gone", None, None)), (INSERT, (1, "again", None, None))])
    native.run([(INSERT, (3, "after", None, None))])  # the connection goes on
    native.close()
    assert [r[:2] for r in _rows(path)] == [(1, "'kept'"), (3, "'after'")]


@pytest.mark.parametrize(
    ("statement", "error", "message"),
    [
        ((INSERT, (1, 2, 3)), sqlite3.ProgrammingError, "uses 4, and there are 3 supplied"),
        ((INSERT, (1, 2, 3, 4, 5)), sqlite3.ProgrammingError, "uses 4, and there are 5"),
        ((INSERT, (1, object(), 3, 4)), sqlite3.ProgrammingError, "parameter 2: type 'object'"),
        ((INSERT, (1, {"a": 1}, 3, 4)), sqlite3.ProgrammingError, "type 'dict' is not supported"),
        ((INSERT, (1, 2**63, 3, 4)), OverflowError, "too large"),
        (("INSERT INTO nowhere VALUES (?)", (1,)), sqlite3.OperationalError, "no such table"),
        (("INSERT INTO t (k) VALUES (1); SELECT 1", ()), sqlite3.ProgrammingError, "one statement"),
        (("SELECT k FROM t", ()), sqlite3.ProgrammingError, "returned rows"),
    ],
)
def test_bad_statements_raise_what_python_sqlite3_raises(
    tmp_path: Path, statement: tuple[str, tuple[Any, ...]], error: type[Exception], message: str
) -> None:
    path = _database(tmp_path / "j.sqlite3")
    native = Transactions(path)
    native.run([(INSERT, (7, "before", None, None))])  # a row for the SELECT to return
    with pytest.raises(error, match=message):
        native.run([(INSERT, (8, "undone", None, None)), statement])
    native.close()
    assert [r[0] for r in _rows(path)] == [7]


def test_setup_pragmas_apply_and_a_full_database_fails_the_commit(tmp_path: Path) -> None:
    path = _database(tmp_path / "j.sqlite3")
    with closing(sqlite3.connect(path)) as conn:
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
    native = Transactions(path, [f"PRAGMA max_page_count = {pages + 2}", "PRAGMA synchronous = 2"])
    big = "x" * 3000
    with pytest.raises(sqlite3.OperationalError, match="full"):
        native.run([(INSERT, (k, big, None, None)) for k in range(1, 50)])
    native.run([(INSERT, (1, "small", None, None))])  # what fits still commits
    native.close()
    assert [r[0] for r in _rows(path)] == [1]


def test_a_closed_connection_refuses_to_run(tmp_path: Path) -> None:
    native = Transactions(_database(tmp_path / "j.sqlite3"))
    native.close()
    native.close()  # closing twice is harmless
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        native.run([(INSERT, (1, None, None, None))])


def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        Transactions(str(tmp_path / "absent.sqlite3"))
    assert not (tmp_path / "absent.sqlite3").exists()


def test_the_gil_is_free_while_sqlite_waits(tmp_path: Path) -> None:
    """The run waits on a lock this thread holds. Holding the GIL meanwhile, it would keep
    this thread from ever letting go of the lock: the run would fail once SQLite gave up."""
    path = _database(tmp_path / "j.sqlite3")
    native = Transactions(path, ["PRAGMA busy_timeout = 5000"])
    outcome: list[BaseException | None] = []

    def writer() -> None:
        try:
            native.run([(INSERT, (1, "waited", None, None))])
            outcome.append(None)
        except BaseException as e:
            outcome.append(e)

    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")  # the write lock
        thread = threading.Thread(target=writer)
        thread.start()
        thread.join(0.3)  # the writer is in its busy wait by now (or done, had it not waited)
        spins = sum(math.isfinite(float(k)) for k in range(10_000))  # Python work, GIL needed
        holder.execute("COMMIT")
    thread.join()
    native.close()
    assert spins == 10_000
    assert outcome == [None]
    assert [r[:2] for r in _rows(path)] == [(1, "'waited'")]
