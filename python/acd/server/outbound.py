"""Outbound work lists at run time: when an entry is released into its queue as a preview task,
and how an agent's attempt turns into the entry's next state.

Release gate. The tenant's timer asks ``Outbound.due(now)``; a list releases its next due
entries (earliest ``not_before`` first, then loading order) only when all of these hold, checked
in this order (the first that fails is the list's ``hold``):

1. its queue is in the tenant's configuration;
2. it is not paused;
3. an entry is pending and due (a retry waits ``min_gap`` after its last attempt);
4. it is inside its calling hours (the calendar ``hours_id``, else the queue's business hours);
5. pacing: fewer than ``max_in_line`` of its tasks are in line (waiting, ringing, connected
   or in after-call work) and fewer than ``max_per_minute`` were released in the last 60 s;
6. the inbound line of the queue is within its service level: no inbound call (any call of
   the queue that is not an outbound task) has been waiting for the queue's service-level
   threshold T or longer, and the current 15-minute interval's ``sl_offered`` of the queue's
   inbound contacts (answered within T / (answered + abandoned - short abandoned), from the
   contact history, outbound tasks left out) is at least ``min_service_level`` (an interval
   with nothing to measure yet passes).

A released entry is a router enqueue of channel ``callback`` (the agent dials the customer)
with the list's priority (below every inbound call, ROUTING.md "Order of waiting calls"), the
customer's number as the caller and attributes naming the list and entry (the screen pop
shows them). It is journaled with its ``svc:ob-release`` in one entry (outbound_store), so a
restart neither loses nor repeats it. Each release has its own call id
(``ob:<list>:<entry>:<n>``): a repeat of an id could be a duplicate the router ignores.

Tasks still waiting when their list is paused or its calling hours end are taken back
(``abandon``): their entries are pending again, no attempt counted. (The router counts them
as abandoned in the queue's live figures; the contact history marks them as tasks.)

Attempts. The outcome of an attempt is given with ``RecordOutcome`` (``record_outcome``):
it ends the task if it is still connected and the agent's after-call work, with the outcome
code as the contact's disposition (the existing history path). The attempt closes when the
agent leaves after-call work for the task (``observe`` sees the router's events, within the
batch, so the ``svc:ob-attempt`` joins the same journal entry); without a recorded outcome
(a timed wrap-up, FinishWrapUp) the outcome is ``unrecorded``. A task that leaves the line
before an agent took it (expired, overflowed out, taken back) returns its entry to pending.

The gate is the service's decision, taken with the tenant's clock; replay never re-decides
it: it applies the journaled releases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc

from acd.server.commands import Refusal, RouterEvent, refusal
from acd.server.journal_format import Command
from acd.server.out_of_hours import next_opening, open_at, within_hours
from acd.server.outbound_store import IN_LINE, Entry, OutboundState, WorkList
from acd.server.queue_view import INTERVAL_MS

if TYPE_CHECKING:
    from acd.server.config import QueueConfig
    from acd.server.tenant import Tenant

# How often a list held by the service level (or with tasks to take back) looks again (ms).
TICK_MS = 1_000
# A list whose queue is missing looks again after this long (a configuration change).
NO_QUEUE_RETRY_MS = 60_000
# Releases per list and timer round, so one round stays short.
MAX_RELEASES_PER_ROUND = 100
LIST_ATTRIBUTE = "outbound_list"
ENTRY_ATTRIBUTE = "outbound_entry"
ATTEMPT_ATTRIBUTE = "outbound_attempt"
NAME_ATTRIBUTE = "outbound_customer_name"
RESERVED_PREFIX = "outbound_"

NO_QUEUE, PAUSED, NOTHING_DUE = "no-queue", "paused", "nothing-due"
CALLING_HOURS, PACING, SERVICE_LEVEL = "calling-hours", "pacing", "service-level"


def _earliest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


class Outbound:
    """One tenant's release gate, and the attempts its agents are on."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant
        self._agent_of: dict[str, str] = {}  # connected task -> agent
        self._wrapping: dict[str, str] = {}  # agent -> task in its after-call work
        self._expected: dict[tuple[str, str], str] = {}  # (agent, task) -> RecordOutcome's
        self._wake_at: int | None = 0  # when ``due`` looks next; 0: at once

    @property
    def state(self) -> OutboundState:
        return self._tenant.service.outbound

    def poke(self) -> None:
        """Something changed that may let a list release: look at the next timer round."""
        self._wake_at = 0

    def next_wake(self, other: int | None = None) -> int | None:
        """When ``due`` wants to look next, or ``other`` if that is earlier."""
        return _earliest(other, self._wake_at if self.state else None)

    def rebuild(self) -> None:
        """The attempts in progress, from the router as it is (start, after recovery)."""
        router, tasks = self._tenant.router, self.state.tasks
        self._agent_of, self._wrapping = {}, {}
        for agent_id in router.agent_ids() if tasks else ():
            for call_id in router.agent_info(agent_id)["calls"]:
                if call_id not in tasks:
                    continue
                info = router.call_info(call_id)
                if info is None:
                    self._wrapping[agent_id] = call_id
                elif info["state"] == "connected":
                    self._agent_of[call_id] = agent_id
        self.poke()

    # ---- within a batch -------------------------------------------------------------------

    def observe(self, events: Sequence[RouterEvent]) -> list[Command]:
        """The ``svc:ob-*`` commands a batch's events cause (journaled with the batch)."""
        tasks = self.state.tasks
        if not tasks and not self._wrapping:
            return []
        out: list[Command] = []
        for e in events:
            kind = e.kind
            if kind == "connected" and e.call_id in tasks:
                self._agent_of[e.call_id] = e.agent_id
            elif kind == "ended" and e.call_id in tasks:
                self._agent_of.pop(e.call_id, None)
                self._wrapping[e.agent_id] = e.call_id
            elif kind == "agent-state" and e.detail != "wrap-up" and e.agent_id in self._wrapping:
                call_id = self._wrapping.pop(e.agent_id)
                out.append(self._attempt(call_id, e.agent_id, e.at_ms))
            elif kind == "terminal" and e.call_id in tasks and e.detail != "completed":
                agent_id = self._agent_of.pop(e.call_id, None)
                if agent_id is None:
                    out.append(("svc:ob-return", e.call_id, e.at_ms))
                else:  # connected, then sent out of the router: the attempt is over
                    out.append(self._attempt(e.call_id, agent_id, e.at_ms))
        if out:
            self.poke()
        return out

    def _attempt(self, call_id: str, agent_id: str, at_ms: int) -> Command:
        outcome = self._expected.get((agent_id, call_id), "unrecorded")
        return ("svc:ob-attempt", call_id, agent_id, outcome, at_ms)

    # ---- the release gate -----------------------------------------------------------------

    def hold(self, work_list: WorkList, now: int) -> tuple[str, int | None]:
        """Why ``work_list`` releases nothing at ``now`` ("" if it may), and when to look
        again (None: when something changes)."""
        tenant, rules = self._tenant, work_list.definition
        queue = tenant.queues.get(rules.queue_id)
        if queue is None or rules.queue_id not in tenant.router.queue_ids():
            return NO_QUEUE, now + NO_QUEUE_RETRY_MS
        if work_list.paused:
            return PAUSED, None
        entry = work_list.next_pending()
        if entry is None:
            return NOTHING_DUE, None
        if entry.not_before_ms > now:
            return NOTHING_DUE, entry.not_before_ms
        if rules.hours_id:
            hours = next((h for h in tenant.config.hours if h.id == rules.hours_id), None)
            if hours is None:
                return CALLING_HOURS, now + NO_QUEUE_RETRY_MS
            if not open_at(hours, now):
                return CALLING_HOURS, next_opening(hours, now)
        elif not within_hours(tenant.config, queue.id, now):
            return CALLING_HOURS, now + TICK_MS * 60  # the queue's hours: look each minute
        if len(work_list.in_line) >= rules.max_in_line:
            return PACING, None
        per_minute = rules.max_per_minute
        if per_minute and work_list.released_within_minute(now) >= per_minute:
            return PACING, work_list.releases[0] + 60_000
        if not self.inbound_within_sl(queue, rules.min_service_level, now):
            return SERVICE_LEVEL, now + TICK_MS
        return "", now

    def inbound_within_sl(self, queue: QueueConfig, minimum: float, now: int) -> bool:
        """Rule 6 of the module docstring."""
        tasks, threshold = self.state.tasks, queue.sl_threshold_ms
        for contact in self._tenant.contacts.open.values():
            if (
                contact.queue_id == queue.id
                and contact.answered_at is None
                and contact.call_id not in tasks
                and now - contact.enqueued_at >= threshold
            ):
                return False
        if minimum <= 0:
            return True
        start = now - now % INTERVAL_MS
        within = answered = abandoned = short = 0
        for c in self._tenant.contacts.store.entered(start, now + 1, [queue.id]):
            if LIST_ATTRIBUTE in c.attributes:
                continue
            if c.answered_at is not None:
                answered += 1
                within += c.wait_ms <= threshold
            elif c.outcome == "abandoned":
                abandoned += 1
                short += c.wait_ms <= queue.short_abandon_ms
        measured = answered + abandoned - short
        return measured <= 0 or within / measured >= minimum

    def due(self, now: int, force: bool = False) -> tuple[list[Command], list[Command]] | None:
        """The timer's outbound batch at ``now``: router commands (releases, take-backs) and
        the ``svc:ob-release`` of each release; None when there is nothing to do. Looks only
        when its wake time has come (or ``force``)."""
        if not force and (self._wake_at is None or self._wake_at > now):
            return None
        router: list[Command] = []
        service: list[Command] = []
        wake: int | None = None
        for list_id in sorted(self.state.lists):
            work_list = self.state.lists[list_id]
            reason, again = self.hold(work_list, now)
            if reason in (PAUSED, CALLING_HOURS, NO_QUEUE) and work_list.in_line:
                taken = self._take_back(work_list, now)
                router += taken
                if len(taken) < len(work_list.in_line):  # ringing or connected: look again
                    again = _earliest(again, now + TICK_MS)
            elif not reason:
                released = self._release(work_list, now, router, service)
                again = now + TICK_MS if released else again
            wake = _earliest(wake, again)
        self._wake_at = wake
        if not router:
            return None
        self._tenant.service.released.extend(c[1] for c in router if c[0] == "enqueue")
        return router, service

    def _take_back(self, work_list: WorkList, now: int) -> list[Command]:
        out: list[Command] = []
        for entry_id in sorted(work_list.in_line):
            call_id = work_list.entries[entry_id].call_id
            info = self._tenant.router.call_info(call_id)
            if info is not None and info["state"] == "waiting":
                out.append(("abandon", call_id, now))
        return out

    def _release(
        self, work_list: WorkList, now: int, router: list[Command], service: list[Command]
    ) -> int:
        rules = work_list.definition
        room = min(rules.max_in_line - len(work_list.in_line), MAX_RELEASES_PER_ROUND)
        if rules.max_per_minute:
            room = min(room, rules.max_per_minute - work_list.released_within_minute(now))
        entries = work_list.due_entries(now, room)
        for entry in entries:
            call_id = f"ob:{rules.id}:{entry.entry_id}:{entry.releases + 1}"
            router.append(("enqueue", call_id, rules.queue_id, now, rules.priority,
                           _options(rules.id, entry)))  # fmt: skip
            service.append(("svc:ob-release", rules.id, entry.entry_id, call_id, now))
        return len(entries)

    async def release_due(self) -> None:
        """Looks at every list now and executes what it releases or takes back (after a
        change through the API, which ``poke``d the timer: it looks too, on its own)."""
        batch = self.due(self._tenant.clock.now(), force=True)
        if batch is not None:
            await self.execute(*batch)

    async def execute(self, router: list[Command], service: list[Command]) -> None:
        """Executes a release batch; a release the router refused goes back to pending."""
        tenant = self._tenant
        outcome = await tenant.execute(router, service)
        back: list[Command] = []
        for index in outcome.refused:
            command = router[index]
            if command[0] == "enqueue" and command[1] in self.state.tasks:
                back.append(("svc:ob-return", command[1], tenant.clock.now()))
        if back:
            await tenant.execute([], back)

    # ---- outcomes -------------------------------------------------------------------------

    async def record_outcome(
        self, agent_id: str, call_id: str, outcome: str, notes: str
    ) -> tuple[WorkList, Entry]:
        """RecordOutcome (module docstring): ends the task and its after-call work."""
        tenant = self._tenant
        found = self.state.entry_of(call_id)
        if found is None:
            raise Refusal(
                grpc.StatusCode.NOT_FOUND,
                f"call_id {call_id!r}: not an outbound task in line",
                "call_id",
            )
        work_list, entry = found
        if call_id not in tenant.router.agent_info(agent_id)["calls"]:
            raise Refusal(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"call_id {call_id!r}: not connected to agent {agent_id!r} nor in its"
                " after-call work",
                "call_id",
            )
        info = tenant.router.call_info(call_id)
        now = tenant.clock.now()
        commands: list[Command] = []
        if info is not None:
            if info["state"] != "connected":
                raise Refusal(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"call_id {call_id!r}: the offer must be accepted first",
                    "call_id",
                )
            commands.append(("end", call_id, now))
        queue = tenant.queues.get(work_list.definition.queue_id)
        has_wrapup = info is None or queue is None or queue.wrapup_until_done or queue.wrapup_ms
        if has_wrapup:
            commands.append(("wrapup_done", agent_id, call_id, now))
            tenant.contacts.expect_disposition(agent_id, call_id, outcome, notes)
        self._expected[(agent_id, call_id)] = outcome
        try:
            result = await tenant.execute(commands)
        finally:
            self._expected.pop((agent_id, call_id), None)
            tenant.contacts.forget_disposition(agent_id, call_id)
        for e in result.events:
            if e.kind == "error":
                raise refusal(e)
        return work_list, entry


def _options(list_id: str, entry: Entry) -> dict[str, object]:
    attributes = {
        **entry.attributes,
        LIST_ATTRIBUTE: list_id,
        ENTRY_ATTRIBUTE: entry.entry_id,
        ATTEMPT_ATTRIBUTE: str(len(entry.attempts) + 1),
    }
    if entry.name:
        attributes[NAME_ATTRIBUTE] = entry.name
    return {"channel": "callback", "caller": entry.number, "attributes": attributes}


__all__ = ["IN_LINE", "Outbound"]
