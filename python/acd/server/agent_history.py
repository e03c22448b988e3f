"""The agents' history: every state change (with its reason code) and every offer's fate, one
row each, in the journal's SQLite file beside the contact history (``acd.server.history``).

Rows come from the router's events (``agent-state``, ``offer``, ``connected``, ``missed``,
``revoke``) and are written in the same transaction as the journal entry of the commands that
caused them, exactly like the contacts, so a crash neither loses nor doubles one and a replay
at start never writes them again. The agent report (``acd.server.agent_report``) reads them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # commands imports the journal format, which imports this schema
    from acd.server.commands import RouterEvent

# A rowid table: rows of one millisecond keep the order the router produced them in.
SCHEMA = """
CREATE TABLE IF NOT EXISTS agent_events (
    tenant TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    call_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS agent_events_by_agent ON agent_events (tenant, agent_id, at_ms);
CREATE INDEX IF NOT EXISTS agent_events_by_time ON agent_events (tenant, at_ms);
"""
TABLE = "agent_events"
KINDS = frozenset({"agent-state", "offer", "connected", "missed", "revoke"})

Statement = tuple[str, tuple[Any, ...]]
_INSERT = (
    "INSERT INTO agent_events (tenant, agent_id, at_ms, kind, state, reason, call_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """One row: ``kind`` is ``state`` (``state``, ``reason``), ``offer``, ``connected``,
    ``missed`` (``reason`` = rejected / timed-out) or ``revoke`` (``reason`` = why)."""

    agent_id: str
    at_ms: int
    kind: str
    state: str = ""
    reason: str = ""
    call_id: str = ""


def statement(tenant: str, e: RouterEvent) -> Statement | None:
    """The row an event of the router makes, if it is about an agent."""
    kind = e.kind
    if kind not in KINDS or not e.agent_id:
        return None
    if kind == "agent-state":
        return _INSERT, (tenant, e.agent_id, e.at_ms, "state", e.detail, e.rule, "")
    reason = e.rule if kind == "missed" else e.detail if kind == "revoke" else ""
    return _INSERT, (tenant, e.agent_id, e.at_ms, kind, "", reason, e.call_id)


class AgentHistoryStore:
    """Reads of one tenant's agent rows (the caller gives a connection to the journal file)."""

    def __init__(self, conn: sqlite3.Connection, tenant: str) -> None:
        self._conn = conn
        self.tenant = tenant

    def between(self, start_ms: int, end_ms: int, agent_ids: Sequence[str]) -> list[AgentEvent]:
        """The rows of ``agent_ids`` in [start_ms, end_ms), in the order they happened."""
        marks = ", ".join("?" * len(agent_ids))
        rows = self._conn.execute(
            "SELECT agent_id, at_ms, kind, state, reason, call_id FROM agent_events"
            f" WHERE tenant = ? AND at_ms >= ? AND at_ms < ? AND agent_id IN ({marks})"
            " ORDER BY at_ms, rowid",
            (self.tenant, start_ms, end_ms, *agent_ids),
        )
        return [AgentEvent(*row) for row in rows]

    def state_before(self, agent_id: str, t_ms: int) -> AgentEvent | None:
        """The agent's last state change before ``t_ms`` (their state when a period opens)."""
        row = self._conn.execute(
            "SELECT agent_id, at_ms, kind, state, reason, call_id FROM agent_events"
            " WHERE tenant = ? AND agent_id = ? AND kind = 'state' AND at_ms < ?"
            " ORDER BY at_ms DESC, rowid DESC LIMIT 1",
            (self.tenant, agent_id, t_ms),
        ).fetchone()
        return None if row is None else AgentEvent(*row)
