"""Prometheus metrics at ``/metrics`` (``[server.metrics] listen = "host:port"``).

Exposed, per tenant and queue where it applies:

- ``acd_queue_waiting_calls``, ``acd_queue_longest_wait_seconds``, ``acd_queue_agents{state}``:
  gauges of the live figures, refreshed every ``period_s`` on the event loop;
- ``acd_offers_total``, ``acd_calls_answered_total``, ``acd_calls_finished_total{outcome}``:
  counters fed by the router's events as they are published;
- ``acd_offer_publish_seconds``: from the start of the command that made an offer to the offer
  handed to the agent's stream, journal commit included (what a desktop waits for);
- ``acd_journal_commit_seconds``: from handing an entry to the journal to its commit;
- ``acd_stream_subscribers{stream}`` and ``acd_stream_dropped_updates``: queue-stats, alert,
  agent and adapter streams, and the stats updates slow readers lost to newer ones;
- ``process_*``: CPU, memory, file descriptors of the service.

The router lives on the event loop's thread, so every figure is computed there and only the
finished values cross to the HTTP server's thread (prometheus_client's own), which never
touches a router. The registry is the server's own, not the process-wide default, so several
servers in one process (tests) keep apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

if TYPE_CHECKING:
    from acd.server.commands import RouterEvent
    from acd.server.tenant import Tenant

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
AGENT_STATES = ("logged-out", "not-ready", "ready", "reserved", "busy", "wrap-up")


class ServiceMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)
        tq = ["tenant", "queue"]
        self.waiting = Gauge("acd_queue_waiting_calls", "Calls waiting now", tq, registry=r)
        self.longest = Gauge(
            "acd_queue_longest_wait_seconds", "Age of the oldest waiting call", tq, registry=r
        )
        self.agents = Gauge(
            "acd_queue_agents", "Agents of the queue by state", [*tq, "state"], registry=r
        )
        self.offers = Counter("acd_offers", "Offers made to agents", tq, registry=r)
        self.answered = Counter("acd_calls_answered", "Calls agents accepted", tq, registry=r)
        self.finished = Counter(
            "acd_calls_finished", "Calls that left the router", [*tq, "outcome"], registry=r
        )
        self.offer_latency = Histogram(
            "acd_offer_publish_seconds",
            "From the command that made an offer to the offer on the agent's stream",
            ["tenant"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.commit_latency = Histogram(
            "acd_journal_commit_seconds",
            "From handing a journal entry to the writer to its commit",
            ["tenant"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.subscribers = Gauge(
            "acd_stream_subscribers", "Open streams by kind", ["tenant", "stream"], registry=r
        )
        self.dropped = Gauge(
            "acd_stream_dropped_updates",
            "Queue-stats updates the open streams' slow readers lost to newer ones",
            ["tenant"],
            registry=r,
        )
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    # ---- fed by the tenants (event loop) --------------------------------------------------

    def published(self, tenant: str, events: Iterable[RouterEvent], started: float) -> None:
        now = time.perf_counter()
        for e in events:
            kind = e.kind
            if kind == "offer":
                self.offers.labels(tenant, e.queue_id).inc()
                self.offer_latency.labels(tenant).observe(now - started)
            elif kind == "connected":
                self.answered.labels(tenant, e.queue_id).inc()
            elif kind == "terminal":
                self.finished.labels(tenant, e.queue_id, e.detail).inc()

    def committed(self, tenant: str, started: float) -> None:
        self.commit_latency.labels(tenant).observe(time.perf_counter() - started)

    def refresh(self, tenants: Mapping[str, Tenant]) -> None:
        """The gauges, from the tenants' live figures; also attaches new tenants."""
        for tenant_id, tenant in list(tenants.items()):
            if tenant.metrics is None:
                tenant.metrics = self
            now = tenant.clock.now()
            for queue_id in tenant.router.queue_ids():
                stats = tenant.router.queue_stats(queue_id, now)
                self.waiting.labels(tenant_id, queue_id).set(stats["waiting"])
                longest = stats["longest_wait_ms"] / 1000
                self.longest.labels(tenant_id, queue_id).set(longest)
                for state in AGENT_STATES:
                    count = stats[f"agents_{state.replace('-', '_')}"]
                    self.agents.labels(tenant_id, queue_id, state).set(count)
            stats_feeds = tenant.stats.feeds()
            streams = {
                "queue-stats": len(stats_feeds),
                "alerts": tenant.alerts.subscribers(),
                "agent": sum(o.streams for o in tenant.outboxes.values()),
                "adapter": len(tenant.adapters),
            }
            for kind, count in streams.items():
                self.subscribers.labels(tenant_id, kind).set(count)
            self.dropped.labels(tenant_id).set(sum(f.dropped for f in stats_feeds))

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self, listen: str, tenants: Mapping[str, Tenant], period_s: float = 1.0) -> int:
        """Serves /metrics on ``listen``; gives the port bound."""
        host, port = listen.rsplit(":", 1)
        self._server, _ = start_http_server(int(port), host, registry=self.registry)
        self.refresh(tenants)

        async def run() -> None:
            while True:
                await asyncio.sleep(period_s)
                self.refresh(tenants)

        self._task = asyncio.get_running_loop().create_task(run())
        return int(self._server.server_address[1])

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._server is not None:
            await asyncio.to_thread(self._server.shutdown)
            self._server.server_close()
