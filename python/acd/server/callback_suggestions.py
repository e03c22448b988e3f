"""Suggesting a callback to a waiting caller: a queue's ``callback_offer_after_s`` and
``callback_offer_ewt_above_s`` (config_contacts).

The service sends ``CallbackSuggested`` on the tenant's adapter streams, once per call; the
adapter plays its prompt ("press 1 to be called back, keeping your place") and, when the caller
accepts, sends RequestCallback with ``original_call_id`` (acd.server.callbacks).

- After N seconds of waiting: each call the service enqueues is watched (``watch``) in a heap
  of (due, call), and one event-loop timer fires at the earliest due. A call that is no longer
  waiting by then (answered, gone, a callback already) is skipped.
- Estimated wait above X: checked whenever the service computes a call's estimate (the
  enqueue's answer, each position announcement: ``estimated``).

Suggestions are advice, not state: they are not journaled. After a restart the waiting calls
are watched again from their enqueue time, so a caller suggested a callback before the restart
may hear it once more.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from acd.server.commands import RouterEvent
from acd.v1 import common_pb2, routing_pb2

if TYPE_CHECKING:
    from acd.server.tenant import Tenant

_WAITING = frozenset({"waiting", "held"})


class CallbackSuggestions:
    """One tenant's pending and sent callback suggestions."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant
        self._due: list[tuple[int, str]] = []  # (when to suggest, call); may hold stale ones
        self.sent: set[str] = set()  # live calls suggested a callback already
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at: int | None = None

    def watch(self, calls: Iterable[tuple[str, str]], now_ms: int) -> None:
        """Calls (id, queue) that entered the router: each is suggested a callback once it has
        waited its queue's ``callback_offer_after_s``. The queue is looked at first: most
        queues suggest nothing, and their calls cost no look at the router."""
        tenant = self._tenant
        for call_id, queue_id in calls:
            queue = tenant.queues.get(queue_id)
            after = queue.contacts.callback_offer_after_ms if queue is not None else 0
            if not after:
                continue
            info = tenant.router.call_info(call_id)
            if info is not None and info["channel"] != "callback":
                heapq.heappush(self._due, (info["enqueued_at_ms"] + after, call_id))
        self._arm(now_ms)

    def estimated(self, call_id: str, queue_id: str, estimate_ms: int, now_ms: int) -> None:
        """A call's estimated wait was just computed: above the queue's threshold, the call is
        suggested a callback."""
        if call_id in self.sent:
            return
        queue = self._tenant.queues.get(queue_id)
        above = queue.contacts.callback_offer_ewt_above_ms if queue is not None else 0
        if above and estimate_ms > above:
            info = self._tenant.router.call_info(call_id)
            if info is not None and _suggestible(info):
                reason = common_pb2.CALLBACK_SUGGESTION_REASON_LONG_WAIT
                self._suggest(info, reason, now_ms, estimate_ms)

    def after_batch(self, tenant: Tenant, events: Sequence[RouterEvent]) -> None:
        """Forgets the suggestions of calls that finished (the set stays as large as the line)."""
        if self.sent:
            for e in events:
                if e.kind == "terminal":
                    self.sent.discard(e.call_id)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._armed_at = None

    # ---- the timer ------------------------------------------------------------------------

    def _arm(self, now_ms: int) -> None:
        if not self._due:
            return
        due = self._due[0][0]
        if self._armed_at is not None and self._armed_at <= due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._armed_at = due
        delay = max(0.0, (due - now_ms) / 1000)
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = self._armed_at = None
        tenant = self._tenant
        if tenant.closing or tenant.failed is not None:
            return
        now = tenant.clock.now()
        while self._due and self._due[0][0] <= now:
            _, call_id = heapq.heappop(self._due)
            info = tenant.router.call_info(call_id)
            if info is not None and call_id not in self.sent and _suggestible(info):
                estimate = tenant.waits.estimate(tenant, call_id, now).wait_ms
                reason = common_pb2.CALLBACK_SUGGESTION_REASON_WAITED
                self._suggest(info, reason, now, estimate)
        self._arm(now)

    def _suggest(
        self,
        info: dict[str, Any],
        reason: common_pb2.CallbackSuggestionReason.ValueType,
        now_ms: int,
        estimate_ms: int,
    ) -> None:
        call_id = info["id"]
        self.sent.add(call_id)
        suggested = common_pb2.CallbackSuggested(
            call_id=call_id,
            queue_id=info["queue_id"],
            reason=reason,
            waited_ms=max(0, now_ms - info["enqueued_at_ms"]),
            estimated_wait_ms=estimate_ms,
            at_ms=now_ms,
        )
        for feed in list(self._tenant.adapters):
            feed.put(routing_pb2.AdapterStreamResponse(callback_suggested=suggested))


def _suggestible(info: dict[str, Any]) -> bool:
    return info["state"] in _WAITING and info["channel"] != "callback"
