"""Per-agent report for a period, from the agents' history and the contacts they answered.

- offers, answered, missed (rejected / timed out), revoked, and the mean answer time (from an
  offer to the agent's accept) come from the agent's rows in the period;
- time in each state (and in not-ready per reason code) starts from the agent's state when the
  period opens (their last change before it; logged out if none) and is clipped to the period
  (and to now, for a period that has not ended);
- occupancy = (reserved + busy + wrap-up) / (that + ready), the DESIGN.md definition;
- talk time, handle time (talk + wrap-up) and unique callers come from the contacts the agent
  answered that entered a queue in the period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from acd.server.agent_history import AgentEvent
from acd.server.history import Contact

WORKING = ("reserved", "busy", "wrap-up")


@dataclass(slots=True)
class AgentRow:
    agent_id: str
    offers: int = 0
    answered: int = 0
    rejected: int = 0
    timed_out: int = 0
    revoked: int = 0
    answer_time_s: float | None = None  # mean, offer to accept
    unique_callers: int = 0
    talk_s: float = 0.0
    aht_s: float | None = None
    state_s: dict[str, float] = field(default_factory=dict)
    not_ready_s: dict[str, float] = field(default_factory=dict)  # by reason code
    occupancy: float | None = None


def _state_times(
    row: AgentRow, first: AgentEvent | None, events: Sequence[AgentEvent], start: int, until: int
) -> None:
    state, reason = (first.state, first.reason) if first is not None else ("logged-out", "")
    t = start
    for e in [*events, AgentEvent(row.agent_id, until, "state", "", "")]:
        if e.kind != "state":
            continue
        at = min(max(e.at_ms, start), until)
        if at > t:
            seconds = (at - t) / 1000
            row.state_s[state] = row.state_s.get(state, 0.0) + seconds
            if state == "not-ready":
                row.not_ready_s[reason] = row.not_ready_s.get(reason, 0.0) + seconds
        t = max(t, at)
        state, reason = e.state, e.reason
    working = sum(row.state_s.get(s, 0.0) for s in WORKING)
    ready = row.state_s.get("ready", 0.0)
    row.occupancy = working / (working + ready) if working + ready > 0 else None


def agent_report(
    agent_ids: Sequence[str],
    events: Iterable[AgentEvent],
    initial: Mapping[str, AgentEvent | None],
    contacts: Iterable[Contact],
    start_ms: int,
    until_ms: int,
) -> list[AgentRow]:
    """One row per agent of ``agent_ids``; ``events`` are their rows in [start_ms, until_ms) in
    order, ``initial`` each one's last state change before ``start_ms``."""
    rows = {a: AgentRow(a) for a in agent_ids}
    by_agent: dict[str, list[AgentEvent]] = {a: [] for a in agent_ids}
    offered_at: dict[tuple[str, str], int] = {}
    answer_ms: dict[str, list[int]] = {a: [] for a in agent_ids}
    for e in events:
        row = rows.get(e.agent_id)
        if row is None:
            continue
        by_agent[e.agent_id].append(e)
        if e.kind == "offer":
            row.offers += 1
            offered_at[(e.agent_id, e.call_id)] = e.at_ms
        elif e.kind == "connected":
            row.answered += 1
            offered = offered_at.pop((e.agent_id, e.call_id), None)
            if offered is not None:
                answer_ms[e.agent_id].append(e.at_ms - offered)
        elif e.kind == "missed":
            row.rejected += e.reason == "rejected"
            row.timed_out += e.reason == "timed-out"
        elif e.kind == "revoke":
            row.revoked += 1
    callers: dict[str, set[str]] = {a: set() for a in agent_ids}
    handled: dict[str, list[int]] = {a: [] for a in agent_ids}
    for c in contacts:
        if c.agent_id not in rows or c.answered_at is None:
            continue
        rows[c.agent_id].talk_s += c.talk_ms / 1000
        if c.caller_number:
            callers[c.agent_id].add(c.caller_number)
        if c.ended_at is not None:
            handled[c.agent_id].append(c.talk_ms + (c.wrapup_ms or 0))
    for agent_id, row in rows.items():
        waits, handles = answer_ms[agent_id], handled[agent_id]
        row.answer_time_s = sum(waits) / len(waits) / 1000 if waits else None
        row.aht_s = sum(handles) / len(handles) / 1000 if handles else None
        row.unique_callers = len(callers[agent_id])
        _state_times(row, initial.get(agent_id), by_agent[agent_id], start_ms, until_ms)
    return [rows[a] for a in agent_ids]
