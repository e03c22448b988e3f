"""Router events and commands -> contact-history rows, and the commands the history asks for.

The tenant hands every batch it applied to ``ContactLog.record`` right after the router
applied it, with no ``await`` in between (the command path of ``acd.server.recovery``):

- an enqueue the router took in (not a repeat) opens a contact: its campaign comes from the
  dialled number (config_contacts), ``within_hours`` from the queue's schedule at arrival;
- ``offer`` notes the rule that picked the agent (the router's ``rule`` and ``detail``), and
  ``connected`` stamps the first answer, the agent and that rule, and clears the caller's
  missed calls in that queue (acd.server.missed);
- ``overflow`` / ``transferred`` move the contact to its new queue; a ``transfer`` command the
  router took adds its target to the contact's transfers;
- ``terminal`` finishes it; a missed one may ask for an automatic callback;
- an accepted ``wrapup_done`` stores the disposition FinishWrapUp checked
  (``expect_disposition``).

The rows go into the same transaction as the batch's journal entry (acd.server.history). The
automatic callbacks are follow-up commands: ``record`` applies them to the router at once,
through the tenant's own apply step, so they join the same journal entry as the events that
caused them. Replay thus finds them in the journal like any other enqueue and never needs
this module: the router stays deterministic, the history is never written twice.

The open contacts live in memory (``open``); at start they are read back from the history's
live rows, and a call the router holds without a row (journaled before the history existed)
is taken from the router as it is. The offers' rules live only in memory until the answer
stores one; no offer outlives a restart (the tenant withdraws the open ones at start and the
router makes them again, with their rules).

Requests that change a contact without a router command (a recording attached, an evaluation)
hand their rows to ``add_statement`` right before the tenant executes the service command
that journals them (acd.server.recordings, acd.server.quality).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from acd._core import Router
from acd.server import agent_history, history, missed
from acd.server.caller_counts import CallerCounts
from acd.server.commands import Applied, RouterEvent
from acd.server.config import TenantConfig
from acd.server.convert import attempt_of
from acd.server.history import Contact, HistoryStore, Statement
from acd.server.journal_format import Command
from acd.server.out_of_hours import within_hours
from acd.server.recovery import NOW_INDEX
from acd.server.screen_pop import screen_pop
from acd.v1 import common_pb2

__all__ = ["ApplyStep", "ContactLog", "HistoryStore", "Recorded"]

# Finished contacts kept in memory for the wrap-up that follows (its row may still be on its
# way to the disk when FinishWrapUp arrives); older ones are read from the history.
RECENT_FINISHED = 4096
# Follow-ups may cause follow-ups (a callback that finishes at once); bounded all the same.
MAX_FOLLOW_UP_ROUNDS = 4


class Recorded(NamedTuple):
    """What a batch gives to publish (follow-ups' events included, their refusals left out)
    and to journal; its rows wait in ``ContactLog.take_statements`` for the same entry."""

    events: list[RouterEvent]
    journal: list[Command]


# The tenant's apply step: applies commands, gives what applying gave, the indexes of the
# enqueues that were repeats, and the publishing extras (``tenant_inspect.inspect_applied``).
ApplyStep = Callable[[Sequence[Command]], tuple[Applied, frozenset[int], dict[str, Any]]]


def _latest(commands: Sequence[Command], events: Sequence[RouterEvent]) -> int:
    """The router's clock after a batch: its latest command or event time (a follow-up at this
    time is never older than a command the router took)."""
    latest = max((e.at_ms for e in events), default=0)
    for command in commands:
        at = NOW_INDEX.get(command[0])
        if at is not None and at < len(command) and type(command[at]) is int:
            latest = max(latest, command[at])
    return latest


def _merge_extras(into: dict[str, Any], more: Mapping[str, Any]) -> None:
    into["calls"].update(more["calls"])
    into["agents"].update(more["agents"])
    into["queues"] |= more["queues"]


class ContactLog:
    """One tenant's open contacts and the rows its batches produce."""

    def __init__(self, tenant: str, store: HistoryStore) -> None:
        self.tenant = tenant
        self.store = store
        self.caller_counts = CallerCounts(store.counts_by_caller, store.newest_by_caller)
        self.open: dict[str, Contact] = {}
        # The open callbacks among them: a pop lists the caller's without scanning every call.
        self.open_callbacks: dict[str, Contact] = {}
        self._dispositions: dict[tuple[str, str], tuple[str, str]] = {}
        self._statements: list[Statement] = []  # recorded, not yet handed to the journal
        self._finished: OrderedDict[str, Contact] = OrderedDict()
        self._wrapping: dict[str, list[str]] = {}  # agent -> calls ended, wrap-up not over
        # call -> agent -> (rule, detail) of its open offers (ring-all: several at once).
        self._offered: dict[str, dict[str, tuple[str, str]]] = {}

    def load(self, router: Router, config: TenantConfig) -> None:
        """The open contacts at start: the history's live rows for the calls the router
        holds, the router's own data for a call without a row."""
        live = set(router.call_ids())
        self.open = {c.call_id: c for c in self.store.live() if c.call_id in live}
        for call_id in live - set(self.open):
            info = router.call_info(call_id)
            if info is not None:
                self.open[call_id] = self._from_info(info, config)
        self.open_callbacks = {k: c for k, c in self.open.items() if c.channel == "callback"}

    def _from_info(self, info: Mapping[str, Any], config: TenantConfig) -> Contact:
        at = int(info["enqueued_at_ms"])
        attributes = dict(info.get("attributes", {}))
        agents = list(info.get("agents", []))
        connected = info["state"] == "connected" and agents
        return Contact(
            call_id=info["id"],
            enqueued_at=at,
            queue_id=info["queue_id"],
            channel=info["channel"],
            priority=int(info["priority"]),
            caller_number=info.get("caller", ""),
            dialled_number=info.get("dialled", ""),
            campaign=config.contacts.campaign_of(info.get("dialled", "")),
            within_hours=within_hours(config, info["queue_id"], at),
            attributes=attributes,
            callback_for=attributes.get(missed.CALLBACK_FOR, ""),
            # The answer time of a call connected before the history existed is unknown:
            # its entry into the queue is the closest the router keeps.
            answered_at=int(info["entered_queue_at_ms"]) if connected else None,
            agent_id=agents[0] if connected else "",
        )

    def expect_disposition(self, agent_id: str, call_id: str, code: str, notes: str) -> None:
        """FinishWrapUp's code and notes, stored if the ``wrapup_done`` that follows (with no
        ``await`` in between) is accepted."""
        self._dispositions[(agent_id, call_id)] = (code, notes)

    def expect_callback_result(self, call_id: str, result: str) -> None:
        """EndCall's callback result, stored when the call's ``terminal`` follows (the end
        command runs right after, with no ``await`` in between; a refused end leaves it
        unused, and the next end of the call replaces it)."""
        contact = self.open.get(call_id)
        if contact is not None:
            contact.callback_result = result

    def forget_disposition(self, agent_id: str, call_id: str) -> None:
        self._dispositions.pop((agent_id, call_id), None)

    def add_statement(self, statement: Statement) -> None:
        """A row for the next journal entry; the caller executes the command it goes with
        right after (no ``await`` in between)."""
        self._statements.append(statement)

    def landed(self, statements: Sequence[Statement]) -> None:
        """``statements`` were committed: the counts kept in memory learn the contacts they
        wrote."""
        self.caller_counts.committed(history.contact_keys(statements))

    def take_statements(self) -> list[Statement]:
        """The rows recorded since the last call, for the journal entry being written."""
        out, self._statements = self._statements, []
        return out

    def screen_pop(self, config: TenantConfig, call_id: str, now: int) -> common_pb2.ScreenPop:
        """The pop of a call offered now (its contact is open: the router holds it)."""
        contact = self.open.get(call_id)
        if contact is None:
            return common_pb2.ScreenPop(call_id=call_id)
        live = self.open_callbacks.values()
        return screen_pop(config, self.store, live, now, contact, counts=self.caller_counts.counts)

    def lookup(
        self, config: TenantConfig, call: Contact | None, caller_number: str, now: int
    ) -> common_pb2.ScreenPop:
        """The pop of a contact (live or finished), or of a caller number alone."""
        return screen_pop(
            config, self.store, self.open_callbacks.values(), now, call, caller_number
        )

    def contact(self, call_id: str) -> Contact | None:
        """The open contact of ``call_id``, else its latest finished one."""
        found = self.open.get(call_id) or self._finished.get(call_id)
        return found if found is not None else self.store.latest(call_id)

    # ---- a batch ----------------------------------------------------------------------------

    def record(
        self,
        config: TenantConfig,
        commands: Sequence[Command],
        applied: Applied,
        duplicates: frozenset[int],
        extras: dict[str, Any],
        step: ApplyStep,
    ) -> Recorded:
        """Records a batch just applied; applies its follow-up commands through ``step``
        (their publishing extras merged into ``extras``)."""
        events, journal = list(applied.events), list(applied.journal)
        statements = self._statements
        now = _latest(commands, applied.events)
        follow = self._batch(config, commands, applied, duplicates, statements, now)
        for _ in range(MAX_FOLLOW_UP_ROUNDS):
            if not follow:
                break
            more, more_duplicates, more_extras = step(follow)
            _merge_extras(extras, more_extras)
            events += [e for e in more.events if e.kind != "error"]
            journal += more.journal
            follow = self._batch(config, follow, more, more_duplicates, statements, now)
        return Recorded(events, journal)

    def _batch(
        self,
        config: TenantConfig,
        commands: Sequence[Command],
        applied: Applied,
        duplicates: frozenset[int],
        out: list[Statement],
        now: int,
    ) -> list[Command]:
        refused = applied.refused
        for i, command in enumerate(commands):
            name = command[0]
            if name == "enqueue":
                if i not in refused and i not in duplicates:
                    opened = self._opened(config, command)
                    self.open[opened.call_id] = opened
                    if opened.channel == "callback":
                        self.open_callbacks[opened.call_id] = opened
                    out.append(history.insert_live(self.tenant, opened))
            elif name == "request_callback":
                original = self.open.get(command[1])
                if original is not None and i not in refused:
                    taken = _callback_in_place(original, command)
                    self.open[taken.call_id] = self.open_callbacks[taken.call_id] = taken
                    out.append(history.insert_live(self.tenant, taken))
            elif name == "wrapup_done":
                pending = self._dispositions.pop((command[1], command[2]), None)
                if pending is not None and i not in refused:
                    done_at = command[NOW_INDEX["wrapup_done"]]
                    out.append(history.disposition(self.tenant, command[2], *pending, done_at))
            elif name == "transfer" and i not in refused:
                moved = self.open.get(command[1])
                if moved is not None:
                    kind, target, at = command[2], command[3], command[NOW_INDEX["transfer"]]
                    moved.transfers = (*moved.transfers, (kind, target, at))
                    out.append(history.transferred(self.tenant, moved))
        follow: list[Command] = []
        for e in applied.events:
            kind = e.kind
            agent_row = agent_history.statement(self.tenant, e)
            if agent_row is not None:
                out.append(agent_row)
            if kind == "ended":
                self._wrapping.setdefault(e.agent_id, []).append(e.call_id)
            elif kind == "agent-state" and e.detail != "wrap-up" and e.agent_id in self._wrapping:
                for call_id in self._wrapping.pop(e.agent_id):
                    out.append(history.wrapup_over(self.tenant, call_id, e.at_ms))
            if kind == "error":
                continue
            contact = self.open.get(e.call_id)
            if contact is None:
                continue
            if kind == "offer":
                self._offered.setdefault(e.call_id, {})[e.agent_id] = (e.rule, e.detail)
            elif kind == "connected":
                if contact.answered_at is None:
                    contact.answered_at = e.at_ms
                contact.agent_id = e.agent_id
                offers = self._offered.pop(e.call_id, {})
                contact.route_rule, contact.route_detail = offers.get(e.agent_id, ("", ""))
                out.append(history.answered(self.tenant, contact))
                if contact.caller_number:
                    out.append(history.clear_missed(self.tenant, contact, e.at_ms))
            elif kind in ("overflow", "transferred"):
                contact.queue_id = e.queue_id
            elif kind == "terminal":
                del self.open[e.call_id]
                self.open_callbacks.pop(e.call_id, None)
                self._offered.pop(e.call_id, None)
                self._finished[e.call_id] = contact
                if len(self._finished) > RECENT_FINISHED:
                    self._finished.popitem(last=False)
                contact.ended_at, contact.outcome = e.at_ms, e.detail
                contact.queue_id = e.queue_id or contact.queue_id
                callback = missed.on_finished(config, contact, now)
                if callback is not None:
                    follow.append(callback)
                out.append(history.finished(self.tenant, contact))
        return follow

    def _opened(self, config: TenantConfig, command: Command) -> Contact:
        """The contact of an enqueue batch tuple the router took in."""
        call_id, queue_id, at, priority = command[1], command[2], command[3], command[4]
        options: Mapping[str, Any] = command[5] if len(command) > 5 else {}
        attributes = dict(options.get("attributes") or {})
        dialled = options.get("dialled", "")
        return Contact(
            call_id=call_id,
            enqueued_at=at,
            queue_id=queue_id,
            first_queue_id=queue_id,
            channel=options.get("channel", "voice"),
            priority=priority,
            caller_number=options.get("caller", ""),
            dialled_number=dialled,
            campaign=config.contacts.campaign_of(dialled),
            within_hours=within_hours(config, queue_id, at),
            attributes=attributes,
            callback_for=attributes.get(missed.CALLBACK_FOR, ""),
            callback_attempt=attempt_of(attributes) if options.get("channel") == "callback" else 0,
        )


def _callback_in_place(original: Contact, command: Command) -> Contact:
    """The contact of the callback taking ``original``'s place (the router's
    ``request_callback``: call, callback id, number, now): the same queue, campaign and
    attributes, channel callback, the number to call."""
    callback_id, number, at = command[2], command[3], command[NOW_INDEX["request_callback"]]
    return Contact(
        call_id=callback_id,
        enqueued_at=at,
        queue_id=original.queue_id,
        first_queue_id=original.queue_id,
        channel="callback",
        priority=original.priority,
        caller_number=number or original.caller_number,
        dialled_number=original.dialled_number,
        campaign=original.campaign,
        within_hours=original.within_hours,
        attributes=dict(original.attributes),
        callback_for=original.call_id,
        callback_attempt=1,
    )
