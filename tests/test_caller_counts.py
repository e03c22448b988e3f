"""The counts kept in memory for busy numbers (``caller_counts``) are the index's: random
contacts of a few numbers, committed in random batches (some written twice, as a finished
row over a live one), with every window a screen pop may ask checked after each commit, at a
small cap and threshold so that loading, trimming and the fall back to the index all happen.
A failing seed is printed and replays."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import pytest

from acd.server import caller_counts, history
from acd.server.caller_counts import CallerCounts
from acd.server.history import SCHEMA, Contact, HistoryStore, contact_keys, migrate

DAY = 86_400_000
START = 1_766_390_400_000
NUMBERS = ("+1", "+2", "+3")


def run(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    store = HistoryStore(str(path), "store")
    counts = CallerCounts(store.counts_by_caller, store.newest_by_caller)
    now = START
    written: list[Contact] = []
    with closing(sqlite3.connect(path)) as conn:
        for step in range(150):
            batch = []
            for _ in range(rng.randint(1, 6)):
                now += rng.choice((0, 1, 1_000, 60_000, 3_600_000, DAY))
                contact = Contact(f"c{len(written)}", now, "sales", "voice")
                contact.caller_number = rng.choice(NUMBERS)
                written.append(contact)
                batch.append(history.insert_live("store", contact))
            if written and rng.random() < 0.3:  # a finished row over an earlier contact
                old = rng.choice(written)
                old.ended_at = now
                batch.append(history.finished("store", old))
            for statement in batch:
                conn.execute(*statement)
            conn.commit()
            counts.committed(contact_keys(batch))
            for number in NUMBERS:
                back = (0, 1, 1_000, 60_000, DAY, 30 * DAY, 60 * DAY)
                windows = tuple(now - rng.choice(back) for _ in range(rng.randint(1, 3)))
                want = store.counts_by_caller(number, windows, now)
                got = counts.counts(number, windows, now)
                assert got == want, f"seed {seed} step {step} {number} {windows}: {got} {want}"
    store.close()


@pytest.mark.parametrize("seed", range(12))
def test_counts_from_memory_match_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(history, "COUNT_CAP", 25)
    monkeypatch.setattr(caller_counts, "COUNT_CAP", 25)
    monkeypatch.setattr(caller_counts, "HEAVY", 5)
    path = tmp_path / "j.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(SCHEMA)
        migrate(conn)
    run(path, seed)


def test_a_busy_number_is_counted_from_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once loaded, a number's counts come without the index; a commit reported twice (the
    load already saw it) counts once."""
    monkeypatch.setattr(caller_counts, "HEAVY", 3)
    path = tmp_path / "j.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(SCHEMA)
        migrate(conn)
        rows = [
            history.insert_live(
                "store", Contact(f"c{i}", START + i, "sales", "voice", caller_number="+1")
            )
            for i in range(4)
        ]
        for row in rows:
            conn.execute(*row)
        conn.commit()
    store = HistoryStore(str(path), "store")
    asked: list[str] = []

    def count(caller: str, since: Sequence[int], until: int) -> tuple[int, ...]:
        asked.append(caller)
        return store.counts_by_caller(caller, since, until)

    counts = CallerCounts(count, store.newest_by_caller)
    windows = (START + 2, START - DAY)
    assert counts.counts("+1", windows, START + 10) == (2, 4)  # from the index, then loaded
    counts.committed(contact_keys(rows[-1:]))  # seen by the load already
    assert counts.counts("+1", windows, START + 10) == (2, 4)
    assert asked == ["+1"]
    store.close()
