"""Alerts: thresholds on a queue's live figures and on agents, raised and cleared on
``SupervisionService.StreamAlerts``.

Each queue with an ``alerts`` table (config_alerts) is checked every ``period_s`` against its
live figures (``queue_view.queue_stats``): calls waiting, the longest wait, Ready agents and
occupancy right now, and the service level (``sl_offered``), abandon rate and ASA of the current
15-minute interval once ``min_calls`` calls were offered in it. Ready agents are only watched
while the queue is within its business hours. Calls waiting while no agent of the queue is
logged in raise NO_AGENTS. An agent paused by the no-answer policy (not ready "missed") raises
AGENT_PAUSED until their state changes, from the router's events as they are published.

No storms: a raised alert clears only once its figure is back past the threshold by the
queue's ``hysteresis`` (durations and shares; counts clear at the threshold itself), and an
alert that cleared is not raised again within ``min_interval_s``. A raise and its clear carry
the same ``alert_id``. The book of alerts lives in memory: after a restart the conditions that
still hold are raised again at the first check.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from acd.server.config_alerts import QueueAlerts
from acd.server.out_of_hours import within_hours
from acd.server.queue_view import queue_stats
from acd.v1 import common_pb2, supervision_pb2

if TYPE_CHECKING:
    from acd.server.alert_notify import Notifier
    from acd.server.commands import RouterEvent
    from acd.server.tenant import Tenant

K = supervision_pb2
Kind: TypeAlias = "supervision_pb2.AlertKind.ValueType"
Severity: TypeAlias = "supervision_pb2.AlertSeverity.ValueType"
SEVERITY: dict[str, Severity] = {
    "info": K.ALERT_SEVERITY_INFO,
    "warning": K.ALERT_SEVERITY_WARNING,
    "critical": K.ALERT_SEVERITY_CRITICAL,
}
_WORKING = (
    common_pb2.AGENT_STATE_RESERVED,
    common_pb2.AGENT_STATE_BUSY,
    common_pb2.AGENT_STATE_WRAP_UP,
)
MAX_FEED = 1024  # alerts waiting for one slow subscriber before the oldest are dropped


@dataclass(frozen=True, slots=True)
class Check:
    """One figure against one threshold."""

    kind: Kind
    value: float
    threshold: float
    above: bool  # breached when the value is above the threshold (else below)
    count: bool  # a count: clears at the threshold itself, no hysteresis
    text: str  # "{value}" and "{threshold}" are filled in


def checks(a: QueueAlerts, s: common_pb2.QueueStats, open_now: bool) -> list[Check]:
    """The checks that apply to the figures ``s`` now (a ratio needs ``min_calls`` calls)."""
    out: list[Check] = []

    def add(kind: Kind, value: float, limit: float, above: bool, count: bool, text: str) -> None:
        out.append(Check(kind, value, limit, above, count, text))

    counts = {c.state: c.count for c in s.agents}
    ready = counts.get(common_pb2.AGENT_STATE_READY, 0)
    working = sum(counts.get(state, 0) for state in _WORKING)
    interval = s.interval
    enough = interval.offered >= a.min_calls
    if a.waiting_above is not None:
        text = "{value:.0f} calls waiting (limit {threshold:.0f})"
        add(K.ALERT_KIND_WAITING_CALLS, s.waiting, a.waiting_above, True, True, text)
    if a.longest_wait_above_ms is not None:
        text = "a call has waited {value:.0f} s (limit {threshold:.0f} s)"
        limit_s = a.longest_wait_above_ms / 1000
        add(K.ALERT_KIND_LONGEST_WAIT, s.longest_wait_ms / 1000, limit_s, True, False, text)
    if a.sl_below is not None and enough:
        text = "service level {value:.0%} (target {threshold:.0%})"
        add(K.ALERT_KIND_SERVICE_LEVEL, interval.sl_offered, a.sl_below, False, False, text)
    if a.abandon_rate_above is not None and enough:
        text = "abandon rate {value:.0%} (limit {threshold:.0%})"
        rate = interval.abandon_rate
        add(K.ALERT_KIND_ABANDON_RATE, rate, a.abandon_rate_above, True, False, text)
    if a.asa_above_ms is not None and interval.answered >= a.min_calls:
        text = "average speed of answer {value:.0f} s (limit {threshold:.0f} s)"
        add(K.ALERT_KIND_ASA, interval.asa_ms / 1000, a.asa_above_ms / 1000, True, False, text)
    if a.ready_below is not None and open_now:
        text = "{value:.0f} agents ready (minimum {threshold:.0f})"
        add(K.ALERT_KIND_READY_AGENTS, ready, a.ready_below, False, True, text)
    if a.occupancy_above is not None and working + ready > 0:
        text = "occupancy {value:.0%} (limit {threshold:.0%})"
        share = working / (working + ready)
        add(K.ALERT_KIND_OCCUPANCY, share, a.occupancy_above, True, False, text)
    logged_in = sum(c.count for c in s.agents if c.state != common_pb2.AGENT_STATE_LOGGED_OUT)
    text = "{value:.0f} calls wait and no agent is logged in"
    add(K.ALERT_KIND_NO_AGENTS, s.waiting if logged_in == 0 else 0, 0, True, True, text)
    return out


def breached(c: Check) -> bool:
    return c.value > c.threshold if c.above else c.value < c.threshold


def recovered(c: Check, hysteresis: float) -> bool:
    if c.count:
        return not breached(c)
    if c.above:
        return c.value <= c.threshold * (1 - hysteresis)
    span = 1.0 - c.threshold if c.threshold < 1.0 else c.threshold  # shares recover towards 1
    return c.value >= c.threshold + span * hysteresis


def _kind_name(kind: Kind) -> str:
    return K.AlertKind.Name(kind).removeprefix("ALERT_KIND_").lower()


class AlertBook:
    """The raised alerts and when each kind last cleared; gives the changes of a check."""

    def __init__(self) -> None:
        self.active: dict[tuple[str, str, Kind], supervision_pb2.Alert] = {}
        self._cleared_at: dict[tuple[str, str, Kind], int] = {}

    def judge(
        self, queue_id: str, a: QueueAlerts, found: Iterable[Check], now: int
    ) -> list[supervision_pb2.Alert]:
        changes = []
        for c in found:
            key = (queue_id, "", c.kind)
            alert = self.active.get(key)
            if alert is None and breached(c):
                if now - self._cleared_at.get(key, -a.min_interval_ms) < a.min_interval_ms:
                    continue
                text = c.text.format(value=c.value, threshold=c.threshold)
                changes.append(self._raise(key, SEVERITY[a.severity], f"{queue_id}: {text}", now))
            elif alert is not None and recovered(c, a.hysteresis):
                changes.append(self._clear(key, now))
        return changes

    def agent_state(self, agent_id: str, paused: bool, now: int) -> list[supervision_pb2.Alert]:
        key = ("", agent_id, K.ALERT_KIND_AGENT_PAUSED)
        if paused and key not in self.active:
            text = f"{agent_id} was paused after missing offers (not ready: missed)"
            return [self._raise(key, K.ALERT_SEVERITY_WARNING, text, now)]
        if not paused and key in self.active:
            return [self._clear(key, now)]
        return []

    def _raise(
        self, key: tuple[str, str, Kind], severity: Severity, text: str, now: int
    ) -> supervision_pb2.Alert:
        queue_id, agent_id, kind = key
        alert = supervision_pb2.Alert(
            alert_id=f"{queue_id or agent_id}:{_kind_name(kind)}:{now}",
            kind=kind,
            severity=severity,
            queue_id=queue_id,
            agent_id=agent_id,
            message=text,
            raised_at_ms=now,
        )
        self.active[key] = alert
        return alert

    def _clear(self, key: tuple[str, str, Kind], now: int) -> supervision_pb2.Alert:
        cleared = supervision_pb2.Alert()
        cleared.CopyFrom(self.active.pop(key))
        cleared.cleared_at_ms = now
        self._cleared_at[key] = now
        return cleared


class AlertFeed:
    """One subscriber's alerts, bounded: a reader that never reads loses the oldest."""

    def __init__(self, wanted: Callable[[supervision_pb2.Alert], bool]) -> None:
        self.wanted = wanted
        self._items: list[supervision_pb2.Alert] = []
        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def put(self, alert: supervision_pb2.Alert) -> None:
        if not self.wanted(alert):
            return
        if len(self._items) >= MAX_FEED:
            del self._items[0]
            self.dropped += 1
        self._items.append(alert)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def take(self) -> list[supervision_pb2.Alert]:
        """The alerts so far (waits for one); empty once closed."""
        while not self._items and not self.closed:
            self._ready.clear()
            await self._ready.wait()
        items, self._items = self._items, []
        return items


class AlertWatch:
    """A tenant's alerts: the periodic check of its queues, its agents' pauses, subscribers."""

    def __init__(self, tenant: Tenant, period_s: float = 1.0) -> None:
        self._tenant = tenant
        self._period_s = period_s
        self.book = AlertBook()
        self._feeds: set[AlertFeed] = set()
        self._task: asyncio.Task[None] | None = None
        self.notifier: Notifier | None = None  # webhook and e-mail, when configured

    def subscribe(self, wanted: Callable[[supervision_pb2.Alert], bool]) -> AlertFeed:
        feed = AlertFeed(wanted)
        for alert in self.book.active.values():  # a stream starts with every alert raised
            feed.put(alert)
        self._feeds.add(feed)
        return feed

    def unsubscribe(self, feed: AlertFeed) -> None:
        self._feeds.discard(feed)

    def subscribers(self) -> int:
        return len(self._feeds)

    def _publish(self, alerts: Iterable[supervision_pb2.Alert]) -> None:
        for alert in alerts:
            for feed in list(self._feeds):
                feed.put(alert)

    def after_batch(self, tenant: Tenant, events: Iterable[RouterEvent]) -> None:
        for e in events:
            if e.kind == "agent-state":
                paused = e.detail == "not-ready" and e.rule == "missed"
                self._publish(self.book.agent_state(e.agent_id, paused, e.at_ms))

    def check(self, queue_ids: Collection[str] | None = None) -> None:
        """Checks the queues (every queue with alerts by default) once, now."""
        tenant = self._tenant
        now = tenant.clock.now()
        for queue in tenant.config.queues:
            if not queue.alerts.any or (queue_ids is not None and queue.id not in queue_ids):
                continue
            stats = queue_stats(tenant, queue.id)
            open_now = within_hours(tenant.config, queue.id, now)
            found = checks(queue.alerts, stats, open_now)
            self._publish(self.book.judge(queue.id, queue.alerts, found, now))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def close_feeds(self) -> None:
        for feed in self._feeds:
            feed.close()

    async def _sync_notifier(self) -> None:
        """Follows the tenant's ``alert_notify`` (a configuration change swaps the notifier)."""
        from acd.server.alert_notify import Notifier

        wanted = self._tenant.config.alert_notify
        if self.notifier is not None and self.notifier.notify == wanted:
            return
        if self.notifier is not None:
            await self.notifier.stop()
            self.notifier = None
        if wanted.any:
            self.notifier = Notifier(self._tenant.id, wanted, self)
            self.notifier.start()

    async def stop(self) -> None:
        self.close_feeds()
        if self.notifier is not None:
            await self.notifier.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._sync_notifier()
            self.check()
            await asyncio.sleep(self._period_s)
