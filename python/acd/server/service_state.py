"""The service's own durable state beside the router's: breaks the break guard deferred, and
callbacks scheduled for a later time (out-of-hours callbacks, RequestCallback with a future
``not_before_ms``).

The router knows neither, so both are journaled as service commands, in the same journal and
the same order as the router's commands (``Tenant.execute(..., service=...)``), and replay
rebuilds them (``recovery.recover(..., service=...)`` hands them back, the router never sees
them). Every service command's name starts with ``svc:``:

- ``("svc:break", agent_id, reason, now_ms)``: a break is pending for the agent;
- ``("svc:break-off", agent_id, now_ms)``: it is not any more (started, cancelled, moot);
- ``("svc:callback", call_id, due_ms, enqueue_command, now_ms)``: at ``due_ms`` the service
  applies ``enqueue_command`` (a router enqueue tuple, as a list);
- ``("svc:callback-off", call_id, now_ms)``: it was enqueued (in the same batch) or dropped;
- ``("svc:ob-...", ...)``: outbound work lists (acd.server.outbound_store);
- ``("svc:recording", call_id, reference, now_ms)``, ``("svc:evaluation", evaluation_id,
  call_id, now_ms)``: a recording attached, an evaluation made. Their rows are the history's,
  written with the entry (acd.server.recordings, acd.server.quality); there is nothing to
  rebuild, so applying them changes nothing;
- ``("svc:state", {"breaks": {...}, "callbacks": {...}, "outbound": {...}})``: the whole
  state, written after each snapshot, which covers only the router; replay from that snapshot
  starts with it.

Applying a command is a pure function of the state and the command, so replay is exact.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any, NamedTuple

from acd._core import Router
from acd.server.journal_format import Command
from acd.server.outbound_store import PREFIX as OUTBOUND_PREFIX
from acd.server.outbound_store import OutboundState

PREFIX = "svc:"


class ScheduledCallback(NamedTuple):
    call_id: str
    due_ms: int
    command: Command  # the router's enqueue tuple, applied at due_ms


def is_service(command: Command) -> bool:
    return str(command[0]).startswith(PREFIX)


class ServiceState:
    def __init__(self) -> None:
        self.breaks: dict[str, str] = {}  # agent -> reason of the pending break
        self.callbacks: dict[str, ScheduledCallback] = {}
        self._due: list[tuple[int, str]] = []  # (due_ms, call_id), may hold stale ones
        self.released: list[str] = []  # callbacks due_batch handed out, for the wait estimates
        self.outbound = OutboundState()  # work lists and their entries

    def __bool__(self) -> bool:
        return bool(self.breaks or self.callbacks or self.outbound)

    # ---- applying commands ----------------------------------------------------------------

    def apply(self, commands: Iterable[Command]) -> None:
        for command in commands:
            name = command[0]
            if name == "svc:break":
                self.breaks[command[1]] = command[2]
            elif name == "svc:break-off":
                self.breaks.pop(command[1], None)
            elif name == "svc:callback":
                self._schedule(ScheduledCallback(command[1], command[2], tuple(command[3])))
            elif name == "svc:callback-off":
                self.callbacks.pop(command[1], None)
            elif name.startswith(OUTBOUND_PREFIX):
                self.outbound.apply(command)
            elif name in ("svc:recording", "svc:evaluation"):
                pass
            elif name == "svc:state":
                self._load(command[1])
            else:
                raise ValueError(f"not a service command: {name!r}")

    def _schedule(self, callback: ScheduledCallback) -> None:
        self.callbacks[callback.call_id] = callback
        heapq.heappush(self._due, (callback.due_ms, callback.call_id))

    def _load(self, state: dict[str, Any]) -> None:
        self.breaks = dict(state.get("breaks", {}))
        self.callbacks = {}
        self._due = []
        for call_id, (due_ms, command) in state.get("callbacks", {}).items():
            self._schedule(ScheduledCallback(call_id, due_ms, tuple(command)))
        self.outbound.load(state.get("outbound", {}))

    def dump(self) -> Command:
        callbacks = {c.call_id: [c.due_ms, list(c.command)] for c in self.callbacks.values()}
        state = {"breaks": dict(self.breaks), "callbacks": callbacks}
        if self.outbound:
            state["outbound"] = self.outbound.dump()
        return ("svc:state", state)

    # ---- scheduled callbacks --------------------------------------------------------------

    def next_due(self) -> int | None:
        """When the earliest scheduled callback is due (ms), if any."""
        while self._due:
            due_ms, call_id = self._due[0]
            callback = self.callbacks.get(call_id)
            if callback is not None and callback.due_ms == due_ms:
                return due_ms
            heapq.heappop(self._due)  # dropped or rescheduled since
        return None

    def next_deadline(self, router: Router) -> int | None:
        """The router's next deadline or the next scheduled callback's, the earlier."""
        wake, callback = router.poll_timeout(), self.next_due()
        return callback if wake is None or (callback is not None and callback < wake) else wake

    def due_batch(self, now_ms: int) -> tuple[list[Command], list[Command]]:
        """What the tenant's timer executes at ``now_ms``: the router's timeout and the
        enqueues of the callbacks due by then (earliest first), and the service commands
        that take those callbacks off the schedule."""
        router: list[Command] = [("timeout", now_ms)]
        service: list[Command] = []
        while (due_ms := self.next_due()) is not None and due_ms <= now_ms:
            _, call_id = heapq.heappop(self._due)
            command = self.callbacks[call_id].command
            # The enqueue takes the time it is applied at (the router's clock never goes back).
            router.append((*command[:3], now_ms, *command[4:]))
            service.append(("svc:callback-off", call_id, now_ms))
            self.released.append(call_id)
        return router, service
