"""statement_batch: a commit's statements run as inbox inserts do exactly what running them one
after another does: the same rows, the same values of the same SQLite types, the same errors."""

from __future__ import annotations

import random
import sqlite3
from typing import Any

import pytest

from acd.server.statement_batch import (
    MAX_KINDS,
    MAX_PARAMS,
    Statement,
    StatementBatch,
    trigger_body,
)

SCHEMA = """
CREATE TABLE t (k TEXT PRIMARY KEY, a TEXT NOT NULL DEFAULT '', n INTEGER, flag INTEGER);
CREATE TABLE log (seq INTEGER PRIMARY KEY, k TEXT, note TEXT, x);
"""

# Order matters between these: an UPDATE appends to what an earlier statement wrote, an
# upsert after an insert changes it, a '?' inside a literal is text, not a parameter.
STATEMENTS = {
    "insert": "INSERT OR IGNORE INTO t (k, a, n) VALUES (?, ?, ?)",
    "upsert": "INSERT INTO t (k, a, n) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET"
    " a = t.a || '+' || excluded.a, n = excluded.n",
    "append": "UPDATE t SET a = a || ? || '?', n = COALESCE(n, 0) + ? WHERE k = ?",
    "flag": "UPDATE t SET flag = ? WHERE k = ?",
    "log": "INSERT INTO log (k, note, x) VALUES (?, ?, ?)",
    "drop": "DELETE FROM t WHERE k = ? AND n > ?",
}


def connect(variables: int | None = None) -> sqlite3.Connection:
    """An in-memory database with SCHEMA; ``variables``: SQLite's limit on the values one
    statement binds, lowered to make commits span several inserts."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(SCHEMA)
    if variables is not None:
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variables)
    return conn


def random_statements(rng: random.Random, count: int) -> list[Statement]:
    keys = [f"k{i}" for i in range(6)]
    text = ["", "x", "é✓", "it's", 'say "hi"', "[1,2]", "\\u0000 as text", "?", "a\x00b", "12"]
    # Untyped column x keeps each value's own type: the batch must not change one.
    anything = [None, 0, -1, 2**63 - 1, 1.5, float("nan"), -0.0, 1e300, b"", b"\x00\xff", *text]
    out: list[Statement] = []
    for _ in range(count):
        kind = rng.choice(list(STATEMENTS))
        k = rng.choice(keys)
        params: tuple[Any, ...]
        if kind == "insert":
            params = (k, rng.choice(text), rng.choice([None, rng.randrange(-9, 2**62)]))
        elif kind == "upsert":
            params = (k, rng.choice(text), rng.randrange(100))
        elif kind == "append":
            params = (rng.choice(text), rng.randrange(-5, 5), k)
        elif kind == "flag":
            params = (rng.choice([True, False, None]), k)
        elif kind == "log":
            params = (k, rng.choice(text), rng.choice(anything))
        else:
            params = (k, rng.randrange(50))
        out.append((STATEMENTS[kind], params))
    return out


def contents(conn: sqlite3.Connection) -> list[list[tuple[Any, ...]]]:
    return [
        conn.execute("SELECT k, a, n, typeof(n), flag FROM t ORDER BY k").fetchall(),
        conn.execute("SELECT seq, k, note, quote(x), typeof(x) FROM log ORDER BY seq").fetchall(),
    ]


@pytest.mark.parametrize("variables", [None, 150], ids=["one-insert", "several-inserts"])
@pytest.mark.parametrize("seed", range(40))
def test_inbox_inserts_do_what_statements_one_by_one_do(seed: int, variables: int | None) -> None:
    rng = random.Random(seed)
    one_by_one, batched = connect(), connect(variables)
    batch = StatementBatch(batched, min_statements=1)
    for commit in range(6):  # several commits: triggers made earlier are used again
        statements = random_statements(rng, rng.randrange(1, 60))
        for sql, params in statements:
            one_by_one.execute(sql, params)
        prepared = batch.prepare(statements)
        assert prepared is not None, f"seed {seed}"
        if commit % 2:
            batch.run(prepared)  # on its own: one insert autocommits, several BEGIN/COMMIT
        else:
            batched.execute("BEGIN")  # inside the caller's transaction
            batch.run(prepared)
            batched.execute("COMMIT")
        assert not batched.in_transaction
        assert contents(batched) == contents(one_by_one), f"seed {seed} commit {commit}"


def test_a_commit_longer_than_one_insert_holds_is_several_inserts() -> None:
    batch = StatementBatch(connect(variables=150), min_statements=1)
    log = STATEMENTS["log"]
    prepared = batch.prepare([(log, ("k", str(i), i)) for i in range(40)])
    assert prepared is not None
    # Three values a statement: rows of 9 (kind + 8), 16 rows to an insert (150 variables).
    assert [len(values) for _, values in prepared] == [16 * 9, 16 * 9, 8 * 9]
    assert len({sql for sql, _ in prepared}) == 2  # the last one rounded up to 8 rows


def test_a_commit_is_left_unbatched_where_not_even_the_smallest_insert_fits() -> None:
    log = STATEMENTS["log"]
    # Eight rows of kind + 8 values need 72 variables: an SQLite allowing 64 cannot take them.
    assert (
        StatementBatch(connect(variables=64), min_statements=1).prepare([(log, ("k", "a", 1))])
        is None
    )
    assert StatementBatch(connect(variables=72), min_statements=1).prepare([(log, ("k", "a", 1))])


def test_a_value_sqlite_cannot_bind_fails_the_commit_as_one_by_one_would() -> None:
    conn = connect()
    batch = StatementBatch(conn, min_statements=1)
    log = STATEMENTS["log"]
    prepared = batch.prepare([(log, ("k", "fine", 1)), (log, ("k", "bad", object()))])
    assert prepared is not None
    with pytest.raises(sqlite3.ProgrammingError):
        connect().executemany(log, [("k", "bad", object())])
    with pytest.raises(sqlite3.ProgrammingError):
        batch.run(prepared)
    assert conn.execute("SELECT count(*) FROM log").fetchone() == (0,)


def test_a_statement_that_cannot_stand_in_a_trigger_is_left_unbatched() -> None:
    conn = connect()
    batch = StatementBatch(conn, min_statements=1)
    with_clause = "WITH v(x) AS (SELECT ?) INSERT INTO log (k, note) SELECT 'w', x FROM v"
    assert batch.prepare([(with_clause, ("note",))]) is None
    assert batch.prepare([(STATEMENTS["log"], ("k", "fine", 1))]) is not None  # others batch


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO log (k, note) VALUES (?1, ?2)",
        "INSERT INTO log (k, note) VALUES (:k, :note)",
        "INSERT INTO log (k, note) VALUES (@k, $note)",
        f"INSERT INTO log (k, note) VALUES (?, ? || {' || '.join('?' * MAX_PARAMS)})",
    ],
    ids=["numbered", "named", "at-dollar", "too-many"],
)
def test_parameters_the_inbox_cannot_number_leave_a_statement_unbatched(sql: str) -> None:
    batch = StatementBatch(connect(), min_statements=1)
    params = ("k", "n", *("x" * MAX_PARAMS)) if sql.count("?") > 2 else ("k", "n")
    assert batch.prepare([(sql, params)]) is None


def test_a_statement_with_the_wrong_number_of_values_runs_unbatched_where_sqlite_refuses_it() -> (
    None
):
    batch = StatementBatch(connect(), min_statements=1)
    log = STATEMENTS["log"]
    assert batch.prepare([(log, ("k", "a", 1)), (log, ("k", "too few"))]) is None
    assert batch.prepare([(log, ("k", "a", 1, "too many"))]) is None


def test_a_failing_statement_fails_the_whole_commit_and_nothing_stays() -> None:
    for variables in (None, 150):  # one insert; several, the failure in the last one
        conn = connect(variables)
        conn.execute("CREATE TABLE strict_t (k TEXT PRIMARY KEY)")
        batch = StatementBatch(conn, min_statements=1)
        add = "INSERT INTO strict_t (k) VALUES (?)"
        statements = [(STATEMENTS["log"], ("k", str(i), i)) for i in range(30)]
        prepared = batch.prepare([*statements, (add, ("a",)), (add, ("a",))])
        assert prepared is not None
        with pytest.raises(sqlite3.IntegrityError):
            batch.run(prepared)
        assert not conn.in_transaction
        assert conn.execute("SELECT count(*) FROM log").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM strict_t").fetchone() == (0,)


def test_parameters_are_numbered_outside_quotes_only() -> None:
    body, count = trigger_body("UPDATE t SET a = '?' || ?, \"q?\" = ? WHERE k = ?;")
    assert count == 3
    assert "NEW.p1" in body and "NEW.p3" in body and "NEW.p4" not in body
    assert "'?'" in body and '"q?"' in body and "':x'" not in body
    assert not body.endswith(";")
    assert trigger_body("UPDATE t SET a = ':x' WHERE k = ?")[1] == 1  # ':x' is text
    with pytest.raises(ValueError, match="unbalanced quote"):
        trigger_body("UPDATE t SET a = 'oops WHERE k = ?")


def test_a_short_commit_is_left_unbatched() -> None:
    batch = StatementBatch(connect(), min_statements=3)
    log = STATEMENTS["log"]
    assert batch.prepare([(log, ("k", "a", 1)), (log, ("k", "b", 1))]) is None
    three = [(log, ("k", "a", 1)), (log, ("k", "b", 1)), (log, ("k", "c", 1))]
    assert batch.prepare(three) is not None


def test_statement_texts_beyond_the_cap_run_unbatched_and_add_no_trigger() -> None:
    conn = connect()
    batch = StatementBatch(conn, min_statements=1)
    texts = [f"INSERT INTO log (k, note) VALUES (?, ? || '{i}')" for i in range(MAX_KINDS + 5)]
    prepared = [batch.prepare([(sql, ("k", "n"))]) for sql in texts]
    assert all(p is not None for p in prepared[:MAX_KINDS])
    assert all(p is None for p in prepared[MAX_KINDS:])
    triggers = conn.execute("SELECT count(*) FROM sqlite_temp_schema WHERE type = 'trigger'")
    assert triggers.fetchone() == (MAX_KINDS,)
