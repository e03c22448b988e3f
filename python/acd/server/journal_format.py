"""What the journal keeps on disk: the SQLite schema, how one command is encoded, and the
journal's errors.

A command is the router's batch tuple (acd_core/ROUTING.md, "Batch commands"), time included,
e.g. ``("accept", "a1", "c7", 12_500)``. It is stored as a compact JSON array. Only values that
come back from JSON as exactly what went in are accepted (str, int, bool, None, finite float,
and lists / str-keyed dicts of those), so ``decode_command(encode_command(c)) == c`` always holds
and replay hands the router the very tuple it was given live.
"""

from __future__ import annotations

import json
import math
from typing import Any

from acd.server import agent_history, history, quality_store

Command = tuple[Any, ...]

# Per tenant: entries and snapshots keyed by (tenant, seq), contacts by tenant too, so one
# tenant's rows can be copied out (export) or deleted without touching another's.
# ``tenants.last_seq`` is the last sequence number handed out: it survives pruning, so a
# sequence number is never reused.
_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    tenant TEXT PRIMARY KEY,
    config TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
    tenant TEXT NOT NULL,
    seq INTEGER NOT NULL,
    command TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    tenant TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (tenant, seq)
) WITHOUT ROWID;
"""
# The contact and agent histories and the quality evaluations live in the same file, written
# with the entries (acd.server.history, acd.server.agent_history, acd.server.quality_store).
SCHEMA = _JOURNAL_SCHEMA + history.SCHEMA + agent_history.SCHEMA + quality_store.SCHEMA

TABLES = (
    *("tenants", "entries", "snapshots", history.TABLE, agent_history.TABLE),
    quality_store.TABLE,
)


class JournalError(Exception):
    """Base of every error the journal raises."""


class JournalClosedError(JournalError):
    """The journal is closed (or closing): it takes no more writes."""


class CommitError(JournalError):
    """A transaction could not be committed. Nothing in it was acknowledged; the journal refuses
    every later write until it is reopened (the cause is chained as ``__cause__``)."""


class CorruptEntryError(JournalError):
    """An entry or snapshot of ``tenant`` at ``seq`` cannot be read or replayed."""

    def __init__(self, tenant: str, seq: int, reason: str) -> None:
        super().__init__(f"journal of tenant {tenant!r}, seq {seq}: {reason}")
        self.tenant = tenant
        self.seq = seq
        self.reason = reason


_SCALARS = frozenset({str, int, bool, type(None)})


def _check(value: Any, where: str) -> None:
    kind = type(value)
    # Exact types, not isinstance: a subclass (an IntEnum, a str subclass) would come back
    # from JSON as its base type, and the round trip would no longer be the identity.
    if value is None or kind in (str, int, bool):
        return
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not a finite number")
        return
    if kind is list:
        if _SCALARS.issuperset(map(type, value)):  # a flat list (a batch's command): no loop
            return
        for i, item in enumerate(value):
            if type(item) not in _SCALARS:
                _check(item, f"{where}[{i}]")
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"{where}: dict key {key!r} is not a str")
            if type(item) not in _SCALARS:
                _check(item, f"{where}[{key!r}]")
        return
    raise TypeError(f"{where}: {kind.__name__} does not round-trip through the journal")


# One encoder for every entry: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode_command(command: Command) -> str:
    """The journal's text for ``command``; TypeError / ValueError names a bad element."""
    if type(command) is not tuple or not command or type(command[0]) is not str:
        raise TypeError(f"a command is a tuple starting with its name, got {command!r}")
    items = list(command)
    _check(items, "command")  # names a bad element command[i]...
    return _ENCODER.encode(items)


def decode_command(text: str) -> Command:
    """The command ``text`` encodes; ValueError says why it is not one."""
    value = json.loads(text)
    if type(value) is not list or not value or type(value[0]) is not str:
        raise ValueError(f"not a command (a JSON array starting with its name): {text[:80]!r}")
    return tuple(value)
