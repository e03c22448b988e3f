"""Estimated wait time (EWT) and queue positions of waiting calls.

For a call at 1-based ``position`` in its queue::

    EWT = position / staffed * AHT_recent        (0 = unknown when staffed = 0)

- ``position``: the call's place among the calls waiting in its queue, in the router's order
  (ROUTING.md "Order of waiting calls": score = priority * weight - enqueued_at, then arrival);
  calls that wait for the same agents are, in the common case, the calls of the same queue.
- ``staffed``: the queue's agents that are Ready, ringing, on a call or in wrap-up
  (``Router.queue_stats``): the agents who will free up for it. Not-ready agents do not count.
- ``AHT_recent``: the mean handle time (talk + wrap-up) of the last ``WINDOW`` calls finished
  in THIS queue, from the router's events (connected -> ended/transferred -> the agent leaving
  wrap-up); the queue's ``default_handle_s`` until it has one. The window lives in memory and
  starts empty after a restart.

E.g. position 3, 2 staffed agents, recent handle times 100 s and 140 s: 3 / 2 * 120 s = 180 s.

Positions are kept per queue in a sorted list updated from each published batch's events (only
the calls they mention are looked up), and every call whose position changed gets a
``QueuePositionChanged`` on the adapter streams, with its EWT; only the first
``ANNOUNCE_DEPTH`` places are announced after each batch (bounded work per event), calls
further back hear when they move up into them, and any call's position is available on request
(RoutingService.GetCallStatus).
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from acd.server.commands import RouterEvent
from acd.server.config_queue_options import DEFAULT_HANDLE_MS
from acd.v1 import common_pb2

if TYPE_CHECKING:
    from acd.server.tenant import Tenant

WINDOW = 20  # finished calls per queue in the recent handle time
ANNOUNCE_DEPTH = 100
# Events after which a call may have entered, left or moved in a line.
_MOVES = frozenset(
    {"offer", "revoke", "missed", "connected", "terminal", "overflow", "transferred"}
)


class Estimate(NamedTuple):
    position: int  # 0: not waiting
    wait_ms: int  # 0: unknown or not waiting


def estimate_ms(position: int, staffed: int, aht_ms: float) -> int:
    """The formula of the module docstring."""
    if position <= 0 or staffed <= 0:
        return 0
    return round(position / staffed * aht_ms)


class HandleTimes:
    """Per queue, the handle times of its last ``WINDOW`` finished calls."""

    def __init__(self) -> None:
        self.recent: dict[str, deque[int]] = {}
        self._talking: dict[str, tuple[str, int]] = {}  # call -> (queue, connected at)
        self._wrapping: dict[str, tuple[str, int, int]] = {}  # agent -> (queue, talk, ended at)
        self._agent_of: dict[str, str] = {}  # connected call -> agent

    def observe(self, e: RouterEvent) -> None:
        kind = e.kind
        if kind == "connected":
            self._talking[e.call_id] = (e.queue_id, e.at_ms)
            self._agent_of[e.call_id] = e.agent_id
        elif kind in ("ended", "transferred"):
            started = self._talking.pop(e.call_id, None)
            agent = self._agent_of.pop(e.call_id, None)
            if started is not None and agent is not None:
                queue, at = started
                self._wrapping[agent] = (queue, e.at_ms - at, e.at_ms)
        elif kind == "agent-state" and e.detail != "wrap-up":
            done = self._wrapping.pop(e.agent_id, None)
            if done is not None:
                queue, talk, ended = done
                window = self.recent.setdefault(queue, deque(maxlen=WINDOW))
                window.append(talk + e.at_ms - ended)

    def aht_ms(self, queue_id: str, default_ms: int = DEFAULT_HANDLE_MS) -> float:
        window = self.recent.get(queue_id)
        return sum(window) / len(window) if window else float(default_ms)


class WaitEstimates:
    """Positions of the waiting calls and their estimated waits, for one tenant."""

    def __init__(self) -> None:
        self.handle = HandleTimes()
        self._lines: dict[str, list[tuple[int, int, str]]] = {}  # queue -> sorted keys
        self._where: dict[str, tuple[str, tuple[int, int, str]]] = {}  # call -> queue, key
        self._announced: dict[str, int] = {}  # call -> last position sent

    # ---- the lines ------------------------------------------------------------------------

    def rebuild(self, tenant: Tenant) -> None:
        """From the router as it is (start, after recovery)."""
        self._lines, self._where = {}, {}
        self._sync(tenant, tenant.router.call_ids())

    def _sync(self, tenant: Tenant, call_ids: Iterable[str]) -> dict[str, int]:
        """Moves each call where the router has it now; gives each changed queue's first
        changed index. A line is ordered as the router's: by (-score, seq), the router's own
        score (a callback in a caller's place keeps the caller's)."""
        changed: dict[str, int] = {}
        waiting_key = tenant.router.waiting_key
        for call_id in call_ids:
            old = self._where.pop(call_id, None)
            if old is not None:
                line = self._lines[old[0]]
                i = bisect.bisect_left(line, old[1])
                del line[i]
                changed[old[0]] = min(changed.get(old[0], i), i)
            now = waiting_key(call_id)
            if now is None:
                self._announced.pop(call_id, None)
                continue
            queue_id, score, seq = now
            key = (-score, seq, call_id)
            line = self._lines.setdefault(queue_id, [])
            if not line or line[-1] < key:  # the usual enqueue: last in its line
                i = len(line)
                line.append(key)
            else:
                i = bisect.bisect_left(line, key)
                line.insert(i, key)
            self._where[call_id] = (queue_id, key)
            changed[queue_id] = min(changed.get(queue_id, i), i)
        return changed

    def position(self, call_id: str) -> tuple[str, int]:
        """(queue, 1-based position) of a waiting call; ("", 0) otherwise."""
        where = self._where.get(call_id)
        if where is None:
            return "", 0
        return where[0], bisect.bisect_left(self._lines[where[0]], where[1]) + 1

    # ---- estimates ------------------------------------------------------------------------

    def estimate(self, tenant: Tenant, call_id: str, now_ms: int) -> Estimate:
        queue_id, position = self.position(call_id)
        if not position:
            return Estimate(0, 0)
        return Estimate(position, estimate_ms(position, *self._rate(tenant, queue_id, now_ms)))

    def _rate(self, tenant: Tenant, queue_id: str, now_ms: int) -> tuple[int, float]:
        """The queue's staffed agents and recent handle time (ms)."""
        stats = tenant.router.queue_stats(queue_id, now_ms)
        staffed = sum(stats[k] for k in ("agents_ready", "agents_reserved", "agents_busy"))
        staffed += stats["agents_wrap_up"]
        queue = tenant.queues.get(queue_id)
        default = queue.options.default_handle_ms if queue is not None else DEFAULT_HANDLE_MS
        return staffed, self.handle.aht_ms(queue_id, default)

    def enter(self, tenant: Tenant, call_ids: Sequence[str], now_ms: int) -> None:
        """Calls the service enqueued (which make no event while they only wait)."""
        self._announce(tenant, self._sync(tenant, call_ids), now_ms)

    # ---- after each batch -----------------------------------------------------------------

    def after_batch(self, tenant: Tenant, events: Sequence[RouterEvent]) -> None:
        mentioned: dict[str, None] = {}
        for e in events:
            kind = e.kind
            if kind in _MOVES:
                mentioned[e.call_id] = None
            self.handle.observe(e)
        released = tenant.service.released
        if released:  # scheduled callbacks the timer enqueued
            mentioned.update(dict.fromkeys(released))
            released.clear()
        if mentioned:
            now = events[-1].at_ms if events else tenant.clock.now()
            self._announce(tenant, self._sync(tenant, mentioned), now)

    def _announce(self, tenant: Tenant, changed: dict[str, int], now_ms: int) -> None:
        if not tenant.adapters:
            return
        for queue_id, first in changed.items():
            line = self._lines.get(queue_id, [])
            rate: tuple[int, float] | None = None  # one queue_stats per queue and batch
            for i in range(first, min(len(line), ANNOUNCE_DEPTH)):
                call_id = line[i][2]
                if self._announced.get(call_id) == i + 1:
                    continue
                self._announced[call_id] = i + 1
                rate = rate or self._rate(tenant, queue_id, now_ms)
                change = common_pb2.QueuePositionChanged(
                    call_id=call_id,
                    queue_id=queue_id,
                    position=i + 1,
                    estimated_wait_ms=estimate_ms(i + 1, *rate),
                    at_ms=now_ms,
                )
                for feed in list(tenant.adapters):
                    feed.put_position(change)
                tenant.suggestions.estimated(call_id, queue_id, change.estimated_wait_ms, now_ms)
