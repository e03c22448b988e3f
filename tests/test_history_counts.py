"""The screen pop's call counts come from the caller index and stop at ``COUNT_CAP``, so a
number that called thousands of times costs no more per offer than one that called a few."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from acd.server import history
from acd.server.history import SCHEMA, Contact, HistoryStore, finished, migrate

NOW = 1_766_390_400_000


def count(store: HistoryStore, number: str, since: int, until: int) -> int:
    """One window's count (the screen pop asks for two windows in one walk)."""
    return store.counts_by_caller(number, (since,), until)[0]


def store_with_calls(path: Path, numbers: list[str]) -> HistoryStore:
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(SCHEMA)
        migrate(conn)
        for i, number in enumerate(numbers):
            at = NOW - (len(numbers) - i) * 60_000
            contact = Contact(f"c{i}", at, "sales", "voice", caller_number=number, ended_at=at)
            conn.execute(*finished("store", contact))
        conn.commit()
    return HistoryStore(str(path), "store")


def test_counts_are_exact_below_the_cap_and_stop_at_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_with_calls(tmp_path / "j.sqlite3", ["+1"] * 7 + ["+2"] * 2)
    try:
        assert count(store, "+1", 0, NOW) == 7
        assert count(store, "+2", 0, NOW) == 2
        assert count(store, "+1", NOW - 3 * 60_000, NOW) == 1  # the window counts
        monkeypatch.setattr(history, "COUNT_CAP", 5)
        assert count(store, "+1", 0, NOW) == 5
        assert count(store, "+2", 0, NOW) == 2
    finally:
        store.close()


def test_several_windows_in_one_walk_match_one_count_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The screen pop asks for today and 30 days at once: each window's count is the one a
    query of its own would give, capped alike."""
    store = store_with_calls(tmp_path / "j.sqlite3", ["+1"] * 9 + ["+2"] * 2)
    try:
        windows = (NOW - 4 * 60_000, 0, NOW - 9 * 60_000)
        single = tuple(count(store, "+1", since, NOW) for since in windows)
        assert store.counts_by_caller("+1", windows, NOW) == single
        assert single[0] == 2  # the last two of +1's calls came in the last 4 minutes
        assert store.counts_by_caller("+3", windows, NOW) == (0, 0, 0)
        monkeypatch.setattr(history, "COUNT_CAP", 3)
        capped = store.counts_by_caller("+1", windows, NOW)
        assert capped == tuple(count(store, "+1", since, NOW) for since in windows)
        assert capped == (2, 3, 3)
    finally:
        store.close()
