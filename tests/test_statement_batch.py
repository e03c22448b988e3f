"""statement_batch: a commit's statements run as one inbox insert do exactly what running them
one after another does, and what JSON cannot carry is left to the one-by-one path."""

from __future__ import annotations

import random
import sqlite3
from typing import Any

import pytest

from acd.server.statement_batch import MAX_KINDS, Statement, StatementBatch, trigger_body

SCHEMA = """
CREATE TABLE t (k TEXT PRIMARY KEY, a TEXT NOT NULL DEFAULT '', n INTEGER, flag INTEGER);
CREATE TABLE log (seq INTEGER PRIMARY KEY, k TEXT, note TEXT);
"""

# Order matters between these: an UPDATE appends to what an earlier statement wrote, an
# upsert after an insert changes it, a '?' inside a literal is text, not a parameter.
STATEMENTS = {
    "insert": "INSERT OR IGNORE INTO t (k, a, n) VALUES (?, ?, ?)",
    "upsert": "INSERT INTO t (k, a, n) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET"
    " a = t.a || '+' || excluded.a, n = excluded.n",
    "append": "UPDATE t SET a = a || ? || '?', n = COALESCE(n, 0) + ? WHERE k = ?",
    "flag": "UPDATE t SET flag = ? WHERE k = ?",
    "log": "INSERT INTO log (k, note) VALUES (?, ?)",
    "drop": "DELETE FROM t WHERE k = ? AND n > ?",
}


def connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(SCHEMA)
    return conn


def random_statements(rng: random.Random, count: int) -> list[Statement]:
    keys = [f"k{i}" for i in range(6)]
    text = ["", "x", "é✓", "it's", 'say "hi"', "[1,2]", "\\u0000 as text", "?"]
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
            params = (k, rng.choice(text))
        else:
            params = (k, rng.randrange(50))
        out.append((STATEMENTS[kind], params))
    return out


def contents(conn: sqlite3.Connection) -> list[list[tuple[Any, ...]]]:
    return [
        conn.execute("SELECT k, a, n, typeof(n), flag FROM t ORDER BY k").fetchall(),
        conn.execute("SELECT seq, k, note FROM log ORDER BY seq").fetchall(),
    ]


@pytest.mark.parametrize("seed", range(40))
def test_one_inbox_insert_does_what_the_statements_one_by_one_do(seed: int) -> None:
    rng = random.Random(seed)
    one_by_one, batched = connect(), connect()
    batch = StatementBatch(batched, min_statements=1)
    for _ in range(5):  # several commits: triggers made earlier are used again
        statements = random_statements(rng, rng.randrange(1, 60))
        for sql, params in statements:
            one_by_one.execute(sql, params)
        prepared = batch.prepare(statements)
        assert prepared is not None, f"seed {seed}"
        batched.execute("BEGIN")
        batch.run(prepared)
        batched.execute("COMMIT")
        assert contents(batched) == contents(one_by_one), f"seed {seed}"


@pytest.mark.parametrize("value", [b"bytes", 1.5, float("nan"), "a\x00b", object()], ids=repr)
def test_what_json_would_not_carry_unchanged_is_left_unbatched(value: Any) -> None:
    batch = StatementBatch(connect(), min_statements=1)
    assert batch.prepare([(STATEMENTS["log"], ("k", "fine"))]) is not None
    log = STATEMENTS["log"]
    assert batch.prepare([(log, ("k", "fine")), (log, ("k", value))]) is None


def test_a_statement_that_cannot_stand_in_a_trigger_is_left_unbatched() -> None:
    conn = connect()
    batch = StatementBatch(conn, min_statements=1)
    with_clause = "WITH v(x) AS (SELECT ?) INSERT INTO log (k, note) SELECT 'w', x FROM v"
    assert batch.prepare([(with_clause, ("note",))]) is None
    assert batch.prepare([(STATEMENTS["log"], ("k", "fine"))]) is not None  # others still batch


def test_a_failing_statement_fails_the_whole_insert_and_the_transaction_rolls_back() -> None:
    conn = connect()
    conn.execute("CREATE TABLE strict_t (k TEXT PRIMARY KEY)")
    batch = StatementBatch(conn, min_statements=1)
    add = "INSERT INTO strict_t (k) VALUES (?)"
    prepared = batch.prepare([(STATEMENTS["log"], ("k", "before")), (add, ("a",)), (add, ("a",))])
    assert prepared is not None
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError):
        batch.run(prepared)
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM log").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM strict_t").fetchone() == (0,)


def test_parameters_are_numbered_outside_quotes_only() -> None:
    body = trigger_body("UPDATE t SET a = '?' || ?, \"q?\" = ? WHERE k = ?;")
    assert body.count("json_extract") == 3
    assert "'$[1]'" in body and "'$[3]'" in body and "'?'" in body and '"q?"' in body
    assert not body.endswith(";")
    with pytest.raises(ValueError, match="unbalanced quote"):
        trigger_body("UPDATE t SET a = 'oops WHERE k = ?")


def test_a_short_commit_is_left_unbatched() -> None:
    batch = StatementBatch(connect(), min_statements=3)
    log = STATEMENTS["log"]
    assert batch.prepare([(log, ("k", "a")), (log, ("k", "b"))]) is None
    assert batch.prepare([(log, ("k", "a")), (log, ("k", "b")), (log, ("k", "c"))]) is not None


def test_statement_texts_beyond_the_cap_run_unbatched_and_add_no_trigger() -> None:
    conn = connect()
    batch = StatementBatch(conn, min_statements=1)
    texts = [f"INSERT INTO log (k, note) VALUES (?, ? || '{i}')" for i in range(MAX_KINDS + 5)]
    prepared = [batch.prepare([(sql, ("k", "n"))]) for sql in texts]
    assert all(p is not None for p in prepared[:MAX_KINDS])
    assert all(p is None for p in prepared[MAX_KINDS:])
    triggers = conn.execute("SELECT count(*) FROM sqlite_temp_schema WHERE type = 'trigger'")
    assert triggers.fetchone() == (MAX_KINDS,)
