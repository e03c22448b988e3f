"""One tenant at run time: its router, the service clock, timers, snapshots and the command path.

The command path is the rule of ``acd.server.recovery``: ``execute`` applies commands to the
router and adds what ``journal_commands`` says to the tenant's journal buffer with no ``await``
in between, awaits the commit, and only then publishes the events (in the order the router
produced them, whatever order the commits are awaited in) and returns them to the caller, which
acknowledges. The buffer goes to the journal once per turn of the event loop, so concurrent
requests share one append, one commit and one wake-up; its order is the router's order.
Timers are commands like any other: a task sleeps until ``poll_timeout()`` and executes
``("timeout", now_ms)``; a command wakes it only when it must run sooner than planned.

A failed commit leaves a router that is ahead of its journal; the tenant then refuses every
request with UNAVAILABLE (recovering it needs the journal reopened: a restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import grpc

from acd._core import Router
from acd.server import convert
from acd.server.alerts import AlertWatch
from acd.server.break_guard import BreakSettler
from acd.server.callback_suggestions import CallbackSuggestions
from acd.server.clock import Clock
from acd.server.commands import Applied, Refusal, RouterEvent, apply, refusal
from acd.server.config import AgentConfig, QueueConfig, StorageConfig, TenantConfig
from acd.server.config import core_config_json as to_core_json
from acd.server.fanout import AdapterFeed, AgentOutbox, StatsHub
from acd.server.history_events import ContactLog, HistoryStore
from acd.server.journal import CommitError, Journal
from acd.server.journal_format import Command, JournalError
from acd.server.outbound import Outbound
from acd.server.queue_view import queue_stats
from acd.server.recovery import batch_entry, recover
from acd.server.service_state import ServiceState
from acd.server.sql_transaction import Statement
from acd.server.tenant_inspect import inspect_applied
from acd.server.wait_estimate import WaitEstimates
from acd.v1 import agent_pb2, common_pb2, routing_pb2

if TYPE_CHECKING:
    from acd.server.metrics import ServiceMetrics

log = logging.getLogger("acd.server")

# How long an agent's desktop may be gone (no offer stream) before its open offers are
# withdrawn: long enough for a reconnect after a network blip.
DISCONNECT_GRACE_S = 5.0


class Outcome(NamedTuple):
    events: list[RouterEvent]
    duplicates: frozenset[int]  # indexes of enqueue commands that were repeats
    refused: dict[int, RouterEvent]  # the error events, by the index of the command refused


class Tenant:
    def __init__(
        self,
        config: TenantConfig,
        journal: Journal,
        storage: StorageConfig,
        clock: Clock,
        stats_period_s: float = 0.5,
    ) -> None:
        self.id = config.id
        self.config = config
        self.journal = journal
        self.clock = clock
        self._storage = storage
        self.router: Router = Router(to_core_json(config))
        self.agents: Mapping[str, AgentConfig] = {a.id: a for a in config.agents}
        self.queues: Mapping[str, QueueConfig] = {q.id: q for q in config.queues}
        self.endpoints: dict[str, str] = {a.id: a.endpoint or "" for a in config.agents}
        self.outboxes = {a.id: AgentOutbox() for a in config.agents}
        self.adapters: set[AdapterFeed] = set()
        self.stats = StatsHub(functools.partial(queue_stats, self), stats_period_s)
        self.live_calls: set[str] = set()
        # agent -> call -> the open offer as sent, for stream snapshots.
        self.open_offers: dict[str, dict[str, agent_pb2.AgentOffer]] = {}
        self.disconnect_grace_s = DISCONNECT_GRACE_S
        self.failed: str | None = None
        self.closing = False
        self._appended = 0  # seq of the last entry handed to the journal (one per flush)
        self._snapshot_seq = 0
        self._snapshot_at = 0
        self._last_append: asyncio.Future[Any] | None = None
        self._buffer: list[Command] = []  # applied, not yet handed to the journal
        self._waiters: list[asyncio.Future[None]] = []  # one per request in the buffer
        # A waiter -> what its request publishes, until its commit lands (``_landed``
        # publishes it then if the request gave up meanwhile).
        self._unpublished: dict[asyncio.Future[None], tuple[int, Any]] = {}
        self._flush_scheduled = False
        self._tickets = 0
        self._published = 0
        self._ready: dict[int, tuple[list[RouterEvent], dict[str, Any], float]] = {}
        self.metrics: ServiceMetrics | None = None  # set by the server when /metrics is on
        self.destinations: dict[str, str] = {}  # call -> where its transfer sends it
        self._call_agent: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._armed: int | None = None  # when the timer task plans to run next (ms)
        self._timer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.contacts = ContactLog(self.id, HistoryStore(journal.path, self.id))  # history
        self.service = ServiceState()  # deferred breaks, scheduled callbacks (journaled)
        self.waits = WaitEstimates()  # queue positions and estimated waits
        self.outbound = Outbound(self)  # work lists' release gate and attempts
        self.alerts = AlertWatch(self, stats_period_s)
        self.suggestions = CallbackSuggestions(self)  # callbacks suggested to waiting callers
        self.after_batch = [BreakSettler().after_batch, self.waits.after_batch]
        self.after_batch += [self.alerts.after_batch, self.suggestions.after_batch]

    # ---- start / stop ---------------------------------------------------------------------

    async def start(self) -> None:
        """Recovers the router from the journal (or starts it from the config), withdraws the
        offers that were open when the service stopped, starts the timers."""
        core_json = to_core_json(self.config)
        last = self.journal.last_seq(self.id)
        if last == 0 and self.journal.latest_snapshot(self.id) is None:
            if self.journal.config(self.id) != core_json:
                await self.journal.set_config(self.id, core_json)
            self.router = Router(core_json)
        else:
            service: list[Command] = []
            recovered = recover(self.journal, self.id, service=service)
            self.service.apply(service)
            self.router = recovered.router
            self._appended = self._snapshot_seq = recovered.seq
            # The journal's starting config may differ from ``self.config``: configure entries
            # moved it on (tenant_registry warns when acd.toml differs from what runs).
        self.live_calls = set(self.router.call_ids())
        self.waits.rebuild(self)
        live = ((c, self.router.call_info(c) or {}) for c in self.live_calls)
        self.suggestions.watch([(c, i.get("queue_id", "")) for c, i in live], self.clock.now())
        self.contacts.load(self.router, self.config)
        self.outbound.rebuild()
        self._snapshot_at = self.clock.now()
        self.stats.start()
        self.alerts.start()
        self._timer = asyncio.get_running_loop().create_task(self._timers())
        await self._withdraw_open_offers("restart")

    async def _withdraw_open_offers(self, reason: str) -> None:
        commands: list[Command] = []
        now = self.clock.now()
        for agent_id in self.router.agent_ids():
            info = self.router.agent_info(agent_id)
            if info["state"] != "reserved" and not info["calls"]:
                continue
            for call_id in info["calls"]:
                call = self.router.call_info(call_id)
                if call is not None and call["state"] == "offered" and agent_id in call["agents"]:
                    commands.append(("withdraw", agent_id, call_id, reason, now))
                    break  # withdraw takes back every open offer of the agent at once
        if commands:
            outcome = await self.execute(commands)
            for e in outcome.events:
                if e.kind == "error":
                    log.warning("tenant %s: could not withdraw an offer: %s", self.id, e.detail)

    def stream_closed(self, agent_id: str) -> None:
        """The agent's last offer stream is gone: unless one comes back within the grace
        period, its open offers are withdrawn (back to their place in line) and the agent is
        paused, so calls do not ring at a desktop that is not there."""
        if self.closing or self.failed is not None:
            return

        async def later() -> None:
            await asyncio.sleep(self.disconnect_grace_s)
            outbox = self.outboxes.get(agent_id)
            offers = self.open_offers.get(agent_id)
            if self.closing or outbox is None or outbox.streams > 0 or not offers:
                return
            call_id = next(iter(offers))
            try:
                await self.execute(
                    [("withdraw", agent_id, call_id, "disconnected", self.clock.now())]
                )
            except Refusal as e:
                log.warning("tenant %s: withdraw for %s failed: %s", self.id, agent_id, e)

        task = asyncio.get_running_loop().create_task(later())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def close_streams(self) -> None:
        """Ends every stream of the tenant (shutdown); commands still run until ``stop``."""
        self.closing = True
        for outbox in self.outboxes.values():
            outbox.close()
        for feed in self.adapters:
            feed.close()
        self.stats.close_feeds()
        self.alerts.close_feeds()
        for task in list(self._background):
            task.cancel()

    async def stop(self) -> None:
        """Stops the timers, waits for the last commit and writes a final snapshot."""
        self.close_streams()
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
        self.suggestions.close()
        await self.stats.stop()
        await self.alerts.stop()
        self._flush_journal()
        if self._last_append is not None:
            await asyncio.gather(self._last_append, return_exceptions=True)
        if self.failed is None and self._appended > self._snapshot_seq:
            await self._save_snapshot()
            await self.committed_view()  # the service state written after it
        self.contacts.store.close()

    # ---- the command path -----------------------------------------------------------------

    async def execute(
        self, commands: Sequence[Command], service: Sequence[Command] = ()
    ) -> Outcome:
        """Applies, journals, commits, publishes; gives the events (errors included) and which
        enqueues were repeats. ``service`` commands (service_state) are journaled after them."""
        if self.failed is not None:
            raise Refusal(grpc.StatusCode.UNAVAILABLE, f"tenant {self.id!r}: {self.failed}")
        started = time.perf_counter()
        applied, duplicates, extras = self._apply(commands)
        # The history's rows, and the follow-ups the batch causes (missed-call callbacks).
        rec = self.contacts.record(self.config, commands, applied, duplicates, extras, self._apply)
        ticket = self._tickets
        self._tickets += 1
        waiter: asyncio.Future[None] | None = None
        service = [*service, *self.outbound.observe(rec.events)]
        if service:
            self.service.apply(service)
        if rec.journal or service:
            waiter = self._journal_later([*rec.journal, *service])
        self._rearm()
        ready = (rec.events, extras, started)
        if waiter is not None:
            self._unpublished[waiter] = (ticket, ready)
            try:
                await waiter  # not shielded: a shield costs the offer a turn of the loop
            except (CommitError, JournalError) as e:
                self._fail(e)
                raise Refusal(grpc.StatusCode.UNAVAILABLE, "journal commit failed") from e
            except asyncio.CancelledError:
                # A caller that gives up leaves its commit be, and its events go out, in
                # turn, once it lands. Cancelled before that, the waiter was cancelled too
                # and _landed publishes them; cancelled after, they go out from here.
                if not waiter.cancelled():
                    waiter.add_done_callback(
                        functools.partial(self._publish_in_turn, ticket, ready)
                    )
                raise
        self._publish_in_turn(ticket, ready)
        self._maybe_snapshot()
        return Outcome(applied.events, duplicates, applied.refused)

    def _publish_in_turn(self, ticket: int, ready: Any, landed: Any = None) -> None:
        if landed is not None and (error := landed.exception()) is not None:
            return self._fail(error)
        self._ready[ticket] = ready
        while self._published in self._ready:
            events, extra, began = self._ready.pop(self._published)
            self._published += 1
            self._publish(events, extra)
            for hook in self.after_batch:
                hook(self, events)
            if self.metrics is not None:
                self.metrics.published(self.id, events, began)

    def _apply(self, commands: Sequence[Command]) -> tuple[Applied, frozenset[int], dict[str, Any]]:
        waiting_before = self.router.waiting_count()
        live_before = {c[1] for c in commands if c[0] == "enqueue" and c[1] in self.live_calls}
        applied = apply(self.router, commands)
        delta = self.router.waiting_count() - waiting_before
        seen = inspect_applied(self, commands, applied, live_before, delta)
        return applied, *seen

    def _journal_later(self, entries: list[Command]) -> asyncio.Future[None]:
        """Adds ``entries`` to the journal buffer (in the order the router applied them) and
        gives a future of their commit. The buffer goes to the journal once per turn of the
        event loop as one entry (``recovery.batch_entry``), so the requests that arrive
        together share one row, one encoding and one wake-up (and the journal's group commit
        shares the fsync among the tenants' entries)."""
        self._buffer.extend(entries)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_journal)
        return waiter

    def _flush_journal(self) -> None:
        """Hands the buffer to the journal; its commit settles every waiter of the buffer."""
        self._flush_scheduled = False
        if not self._buffer:
            return
        commands, self._buffer = self._buffer, []
        waiters, self._waiters = self._waiters, []
        try:
            rows = self.contacts.take_statements()  # the history, in the same transaction
            then = functools.partial(self._landed, rows, waiters)
            future = self.journal.append(self.id, batch_entry(commands), rows, then)
        except (JournalError, TypeError, ValueError) as e:
            self._fail(e)
            self._landed([], waiters, None, e)
            return
        self._appended += 1
        self._last_append = future
        if self.metrics is not None:
            future.add_done_callback(
                functools.partial(_committed, self.metrics, self.id, time.perf_counter())
            )

    def _landed(
        self, rows: list[Statement], waiters: list[asyncio.Future[None]], _: Any, error: Any
    ) -> None:
        """The commit of ``rows`` and ``waiters``' entries landed (or failed): called as it is
        settled, so each waiting request resumes in the loop's next turn."""
        if error is None:
            self.contacts.landed(rows)  # before the requests resume (their pops count it)
        for waiter in waiters:
            unpublished = self._unpublished.pop(waiter, None)
            if not waiter.cancelled():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)
            elif unpublished is not None and error is None:  # its request gave up
                self._publish_in_turn(*unpublished)
            elif unpublished is not None:
                self._fail(error)

    async def run(self, command: Command, fields: Mapping[str, str] | None = None) -> Outcome:
        """Executes one command; its refusal is raised as :class:`Refusal`."""
        outcome = await self.execute([command])
        for e in outcome.events:
            if e.kind == "error":
                raise refusal(e, fields)
        return outcome

    async def committed_view(self) -> None:
        """Waits until everything applied so far is committed (before showing router state)."""
        self._flush_journal()
        if self._last_append is not None:
            await asyncio.gather(self._last_append, return_exceptions=True)

    def _fail(self, error: BaseException) -> None:
        if self.failed is None:
            self.failed = f"journal failed ({error}); restart the service to recover"
            log.error("tenant %s: %s", self.id, self.failed)

    # ---- publishing -----------------------------------------------------------------------

    def _publish(self, events: Iterable[RouterEvent], extra: Mapping[str, Any]) -> None:
        touched: set[str] = set(extra["queues"])
        any_agent = False
        for e in events:
            if e.queue_id:
                touched.add(e.queue_id)
            handler = _HANDLERS.get(e.kind)
            if handler is not None:
                handler(self, e, extra)
            if e.kind == "agent-state":
                any_agent = True
        self.stats.touch(set(self.queues) if any_agent else touched)

    def _adapters(self, **message: Any) -> None:
        for feed in list(self.adapters):
            feed.put(routing_pb2.AdapterStreamResponse(**message))

    def _on_offer(self, e: RouterEvent, extra: Mapping[str, Any]) -> None:
        call = extra["calls"].get(e.call_id)
        offer = convert.offer(e, call, self.endpoints.get(e.agent_id, ""))
        pop = self.contacts.screen_pop(self.config, e.call_id, e.at_ms)
        agent_offer = agent_pb2.AgentOffer(offer=offer, screen_pop=pop)
        self.open_offers.setdefault(e.agent_id, {})[e.call_id] = agent_offer
        outbox = self.outboxes.get(e.agent_id)
        if outbox is not None:
            outbox.push(agent_pb2.StreamOffersResponse(offer=agent_offer))
        self._adapters(offer=offer)

    def _offer_closed(self, e: RouterEvent) -> None:
        offers = self.open_offers.get(e.agent_id)
        if offers is not None:
            offers.pop(e.call_id, None)

    def _on_revoked(self, e: RouterEvent, extra: Mapping[str, Any]) -> None:
        self._offer_closed(e)
        revoked = convert.revoked(e)
        outbox = self.outboxes.get(e.agent_id)
        if outbox is not None:
            outbox.push(agent_pb2.StreamOffersResponse(revoked=revoked))
        self._adapters(revoked=revoked)

    def _on_connected(self, e: RouterEvent, extra: Mapping[str, Any]) -> None:
        self._offer_closed(e)
        self._call_agent[e.call_id] = e.agent_id
        callback = self.contacts.open_callbacks.get(e.call_id)
        self._adapters(connected=convert.connected(e, self.endpoints.get(e.agent_id, ""), callback))

    def _on_terminal(self, e: RouterEvent, extra: Mapping[str, Any]) -> None:
        destination = self.destinations.pop(e.call_id, "")
        queue = self.queues.get(e.queue_id)
        if e.detail == "overflowed-out" and queue is not None and queue.overflow is not None:
            destination = queue.overflow.destination or ""
        finished = common_pb2.CallFinished(
            call_id=e.call_id,
            queue_id=e.queue_id,
            outcome=convert.OUTCOMES.get(e.detail, common_pb2.CALL_OUTCOME_UNSPECIFIED),
            destination=destination,
            agent_id=self._call_agent.pop(e.call_id, ""),
            at_ms=e.at_ms,
        )
        self._adapters(finished=finished)

    def _on_agent_state(self, e: RouterEvent, extra: Mapping[str, Any]) -> None:
        outbox = self.outboxes.get(e.agent_id)
        info = extra["agents"].get(e.agent_id)
        if outbox is None or info is None:
            return
        # The event's own state and time, the rest as the router had it after the command.
        info = {**info, "state": e.detail, "reason": e.rule, "state_since_ms": e.at_ms}
        status = self.agent_status(e.agent_id, info, e.at_ms)
        outbox.push(
            agent_pb2.StreamOffersResponse(state_changed=agent_pb2.AgentStateChanged(agent=status))
        )

    # ---- views ----------------------------------------------------------------------------

    def agent_status(
        self, agent_id: str, info: Mapping[str, Any] | None = None, now: int | None = None
    ) -> common_pb2.AgentStatus:
        info = info if info is not None else self.router.agent_info(agent_id)
        now = now if now is not None else self.clock.now()
        status = convert.agent_status(
            info, self.agents.get(agent_id), self.endpoints.get(agent_id, ""), now
        )
        status.pending_break_reason = self.service.breaks.get(agent_id, "")
        return status

    # ---- timers and snapshots -------------------------------------------------------------

    async def _timers(self) -> None:
        while not self.closing and self.failed is None:
            self._wake.clear()
            now = self.clock.now()
            deadline = self.service.next_deadline(self.router)
            if deadline is not None and deadline <= now:
                self._armed = now
                try:
                    await self.execute(*self.service.due_batch(now))
                except Refusal:
                    return
                continue
            if (batch := self.outbound.due(now)) is not None:
                with contextlib.suppress(Refusal):
                    await self.outbound.execute(*batch)
                continue
            self._maybe_snapshot()
            self._armed = wake = self._next_wake()
            wait = None if wake is None else max(0.0, (wake - now) / 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _next_wake(self) -> int | None:
        """When the timer task must run next (ms): the router's or a scheduled callback's next
        deadline, or the time snapshot due if entries wait for one."""
        wake = self.outbound.next_wake(self.service.next_deadline(self.router))
        every = self._storage.snapshot_every_ms
        if every and self._appended > self._snapshot_seq:
            due = self._snapshot_at + every
            wake = due if wake is None else min(wake, due)
        return wake

    def _rearm(self) -> None:
        """After a command: wakes the timer task only if it now has to run sooner than it
        planned (waking it costs a new wait, and most commands change nothing it waits on)."""
        wake = self._next_wake()
        if wake is not None and (self._armed is None or wake < self._armed):
            self._wake.set()

    def _maybe_snapshot(self) -> None:
        if self.failed is not None or self._appended == self._snapshot_seq:
            return
        every = self._storage.snapshot_every_entries
        due_entries = every and self._appended - self._snapshot_seq >= every
        every_ms = self._storage.snapshot_every_ms
        due_time = every_ms and self.clock.now() - self._snapshot_at >= every_ms
        if due_entries or due_time:
            future = self._snapshot_now()
            future.add_done_callback(_log_snapshot_error)

    def _snapshot_now(self) -> asyncio.Future[None]:
        self._flush_journal()  # the snapshot op must follow every entry it covers
        self._snapshot_seq = self._appended
        self._snapshot_at = self.clock.now()
        # The snapshot holds the router only: the service's state follows it, as the next
        # entry of the same transaction.
        state = self.service.dump() if self.service else None
        future = self.journal.save_snapshot(self.id, self._appended, self.router.snapshot(), state)
        if state is not None:  # the router is at that entry as at the snapshot's
            self._appended = self._snapshot_seq = self._appended + 1
        return future

    async def _save_snapshot(self) -> None:
        try:
            await self._snapshot_now()
        except (JournalError, ValueError) as e:
            log.error("tenant %s: final snapshot failed: %s", self.id, e)


def _committed(metrics: ServiceMetrics, tenant: str, started: float, _: object) -> None:
    metrics.committed(tenant, started)


def _log_snapshot_error(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("snapshot failed: %s", future.exception())


_HANDLERS: dict[str, Callable[[Tenant, RouterEvent, Mapping[str, Any]], None]] = {
    "offer": Tenant._on_offer,
    "revoke": Tenant._on_revoked,
    "missed": Tenant._on_revoked,
    "connected": Tenant._on_connected,
    "terminal": Tenant._on_terminal,
    "agent-state": Tenant._on_agent_state,
}
