"""Mutable records of agents and calls (slot classes: the router's hot data)."""

from __future__ import annotations

from enum import Enum


class AgentState(Enum):
    LOGGED_OUT = "logged-out"
    NOT_READY = "not-ready"
    READY = "ready"
    RESERVED = "reserved"
    BUSY = "busy"
    WRAP_UP = "wrap-up"


class CallState(Enum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"


class Agent:
    """One agent. ``queues``: indexes of the queues it is eligible for, computed once."""

    __slots__ = (
        "call",
        "id",
        "in_delay",
        "index",
        "misses",
        "offer_seq",
        "pending_logout",
        "pending_reason",
        "prev_ready_since",
        "queues",
        "ready_since",
        "ready_version",
        "reason",
        "state",
        "tier",
        "timer_version",
    )

    def __init__(self, index: int, agent_id: str, tier: int, queues: list[int]) -> None:
        self.index = index
        self.id = agent_id
        self.tier = tier
        self.queues = queues
        self.state = AgentState.LOGGED_OUT
        self.reason = ""
        self.ready_since = 0
        # ready_since before the current offer: a revoked offer gives it back.
        self.prev_ready_since = 0
        # Bumped each time the agent enters the ready heaps; older heap entries are stale.
        self.ready_version = 0
        # Bumped when an agent timer (wrap-up end, miss-delay end) is set or cancelled.
        self.timer_version = 0
        self.in_delay = False
        self.call: Call | None = None
        self.offer_seq = 0
        self.misses = 0
        self.pending_reason: str | None = None
        self.pending_logout = False


class Call:
    """One live call. ``key`` is its static place in line: lower is more urgent."""

    __slots__ = ("agent", "enqueued_at_ms", "id", "key", "priority", "queue", "seq", "state")

    def __init__(
        self, call_id: str, seq: int, queue: int, priority: int, enqueued_at_ms: int, key: int
    ) -> None:
        self.id = call_id
        self.seq = seq
        self.queue = queue
        self.priority = priority
        self.enqueued_at_ms = enqueued_at_ms
        self.key = key
        self.state = CallState.WAITING
        self.agent: Agent | None = None
