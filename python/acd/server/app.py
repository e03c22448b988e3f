"""The gRPC server: one ``AcdServer`` holds the journal, every tenant's runtime and grpc.aio.

Lifecycle: ``start`` opens the journal in ``storage.data_dir``, recovers every tenant (those of
acd.toml and those created through the API: ``tenant_registry``), binds the listen addresses
(TLS / mutual TLS when configured) and reports SERVING on grpc.health.v1. ``stop`` (``serve``
calls it on SIGTERM / SIGINT) turns health NOT_SERVING, ends the streams, stops accepting and
lets unary RPCs in flight finish within the grace period, then stops the tenants (a final
snapshot each) and closes the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from grpc_reflection.v1alpha import reflection  # type: ignore[import-untyped]

from acd.server.admin_service import AdminService, CrmService
from acd.server.agent_service import AgentService
from acd.server.audit import AuditLog
from acd.server.clock import Clock
from acd.server.config import Config
from acd.server.health import Health
from acd.server.interceptors import AuthInterceptor
from acd.server.journal import Journal
from acd.server.metrics import ServiceMetrics
from acd.server.outbound_service import OutboundService
from acd.server.platform_service import PlatformService
from acd.server.quality_service import QualityService
from acd.server.report_service import ReportService
from acd.server.routing_service import RoutingService
from acd.server.service_base import Shared
from acd.server.supervision_service import SupervisionService
from acd.server.tenant import Tenant
from acd.server.tenant_registry import TenantRegistry
from acd.server.wallboard import Wallboard
from acd.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    agent_pb2,
    agent_pb2_grpc,
    crm_pb2,
    crm_pb2_grpc,
    outbound_pb2,
    outbound_pb2_grpc,
    platform_pb2,
    platform_pb2_grpc,
    quality_pb2,
    quality_pb2_grpc,
    reports_pb2,
    reports_pb2_grpc,
    routing_pb2,
    routing_pb2_grpc,
    supervision_pb2,
    supervision_pb2_grpc,
)

log = logging.getLogger("acd.server")

JOURNAL_FILE = "journal.sqlite3"
GRACE_S = 10.0
# Middle-generation collections per full one, and the GIL's switch interval (see serve).
FULL_COLLECTION_EVERY = 100
SWITCH_INTERVAL_S = 0.001
SERVICE_NAMES = (
    routing_pb2.DESCRIPTOR.services_by_name["RoutingService"].full_name,
    agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
    supervision_pb2.DESCRIPTOR.services_by_name["SupervisionService"].full_name,
    crm_pb2.DESCRIPTOR.services_by_name["CrmService"].full_name,
    admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,
    platform_pb2.DESCRIPTOR.services_by_name["PlatformService"].full_name,
    reports_pb2.DESCRIPTOR.services_by_name["ReportService"].full_name,
    outbound_pb2.DESCRIPTOR.services_by_name["OutboundService"].full_name,
    quality_pb2.DESCRIPTOR.services_by_name["QualityService"].full_name,
)


def _options(config: Config) -> list[tuple[str, Any]]:
    s = config.server
    return [
        ("grpc.max_receive_message_length", s.max_message_bytes),
        ("grpc.max_send_message_length", s.max_message_bytes),
        ("grpc.keepalive_time_ms", s.keepalive.time_ms),
        ("grpc.keepalive_timeout_ms", s.keepalive.timeout_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", min(s.keepalive.time_ms, 10_000)),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.so_reuseport", 0),
    ]


class GenericOnly:
    """The server as the generated ``add_*Servicer_to_server`` functions see it: their generic
    handlers go to the server, their per-method registrations do not. grpc.aio keeps one
    pending task per registered method and waits on all of them (``asyncio.wait``) for every
    incoming RPC, twice: with the 60-odd methods of the API, about 5% of EnqueueCall's
    throughput. Generic handlers are found by one dictionary lookup per service instead."""

    def __init__(self, server: aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Any]) -> None:
        pass  # generic handlers only: see the class


def _credentials(config: Config) -> grpc.ServerCredentials | None:
    tls = config.server.tls
    if tls is None:
        return None
    pair = (tls.key_file.read_bytes(), tls.cert_file.read_bytes())
    ca = tls.client_ca_file.read_bytes() if tls.client_ca_file else None
    return grpc.ssl_server_credentials(
        [pair], root_certificates=ca, require_client_auth=tls.require_client_cert
    )


class AcdServer:
    """``listen`` / ``data_dir`` override the config's (tests: port 0, a temporary dir);
    ``config_path`` is the file ``config`` was read from, which ReloadConfig reads again."""

    def __init__(
        self,
        config: Config,
        *,
        listen: Sequence[str] | None = None,
        data_dir: Path | None = None,
        clock: Clock | None = None,
        stats_period_s: float = 0.5,
        config_path: Path | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self._listen = tuple(listen) if listen is not None else config.server.listen
        self._data_dir = data_dir if data_dir is not None else config.storage.data_dir
        self.clock = clock or Clock()
        self._stats_period_s = stats_period_s
        self.addresses: list[str] = []
        self.tenants: dict[str, Tenant] = {}
        self.health = Health()
        self._server: aio.Server | None = None
        self._journal: Journal | None = None
        self._registry: TenantRegistry | None = None
        self._shared: Shared | None = None
        self._stopped = asyncio.Event()
        self.metrics: ServiceMetrics | None = None
        self.metrics_address: str | None = None
        self.wallboard: Wallboard | None = None
        self.wallboard_address: str | None = None

    @property
    def journal(self) -> Journal:
        assert self._journal is not None
        return self._journal

    @property
    def registry(self) -> TenantRegistry:
        assert self._registry is not None
        return self._registry

    async def start(self) -> None:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        storage = self.config.storage
        self._journal = Journal(
            self._data_dir / JOURNAL_FILE, max_batch=storage.group_commit_max_batch
        )
        registry = self._registry = TenantRegistry(
            self.config,
            self._journal,
            storage,
            self.clock,
            self._stats_period_s,
            self.config_path,
        )
        await registry.start()
        self.tenants = registry.tenants  # the same dict: tenants created later show up here
        shared = self._shared = Shared(self.config, self.tenants, self.clock)
        s = self.config.server
        audit = AuditLog(self._journal, self.clock.now)
        server = self._server = aio.server(
            interceptors=[
                AuthInterceptor(registry.tokens, s.rate_limit, s.max_concurrent_rpcs, audit=audit)
            ],
            options=_options(self.config),
        )
        # Typed as the server: the generated functions call only the two methods it has.
        into = cast(aio.Server, GenericOnly(server))
        routing_pb2_grpc.add_RoutingServiceServicer_to_server(RoutingService(shared), into)
        agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentService(shared), into)
        supervision_pb2_grpc.add_SupervisionServiceServicer_to_server(
            SupervisionService(shared), into
        )
        crm_pb2_grpc.add_CrmServiceServicer_to_server(CrmService(shared), into)
        admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminService(shared, registry), into)
        platform_pb2_grpc.add_PlatformServiceServicer_to_server(PlatformService(registry), into)
        reports_pb2_grpc.add_ReportServiceServicer_to_server(ReportService(shared, audit), into)
        outbound_pb2_grpc.add_OutboundServiceServicer_to_server(OutboundService(shared), into)
        quality_pb2_grpc.add_QualityServiceServicer_to_server(QualityService(shared, audit), into)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, into)
        if s.reflection:
            names = (*SERVICE_NAMES, reflection.SERVICE_NAME, "grpc.health.v1.Health")
            reflection.enable_server_reflection(names, server)
        credentials = _credentials(self.config)
        for address in self._listen:
            if credentials is None:
                port = server.add_insecure_port(address)
            else:
                port = server.add_secure_port(address, credentials)
            bound = (
                address if address.startswith("unix:") else f"{address.rsplit(':', 1)[0]}:{port}"
            )
            self.addresses.append(bound)
        await server.start()
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("listening on %s", ", ".join(self.addresses))
        if s.metrics_listen is not None:
            self._start_metrics(s.metrics_listen)
        if s.wallboard.listen is not None:
            await self._start_wallboard(s.wallboard.listen)

    def _start_metrics(self, listen: str) -> None:
        """Serves /metrics; a port that is taken costs the metrics, never the routing."""
        metrics = ServiceMetrics()
        try:
            port = metrics.start(listen, self.tenants, self._stats_period_s)
        except OSError as e:
            log.warning("metrics not served on %s: %s", listen, e)
            return
        self.metrics = metrics
        self.metrics_address = f"{listen.rsplit(':', 1)[0]}:{port}"
        log.info("metrics on http://%s/metrics", self.metrics_address)

    async def _start_wallboard(self, listen: str) -> None:
        """Serves the wallboard; as with the metrics, a port that is taken costs only it."""
        wallboard = Wallboard(self.config.server.wallboard, self.tenants, self.registry.tokens)
        try:
            port = await wallboard.start(listen)
        except OSError as e:
            log.warning("wallboard not served on %s: %s", listen, e)
            return
        self.wallboard = wallboard
        self.wallboard_address = f"{listen.rsplit(':', 1)[0]}:{port}"
        log.info("wallboard on http://%s/", self.wallboard_address)

    async def stop(self, grace_s: float = GRACE_S) -> None:
        """Graceful shutdown (see the module docstring); safe to call twice."""
        if self._server is None or self._stopped.is_set():
            return
        self._stopped.set()
        log.info("shutting down (grace %.1f s)", grace_s)
        await self.health.enter_graceful_shutdown()
        if self._shared is not None:
            self._shared.closing.set()
        for tenant in list(self.tenants.values()):
            tenant.close_streams()
        if self.wallboard is not None:
            await self.wallboard.stop()
        await self._server.stop(grace_s)
        for tenant in list(self.tenants.values()):
            await tenant.stop()
        if self.metrics is not None:
            await self.metrics.stop()
        if self._journal is not None:
            await self._journal.close()
        log.info("stopped")

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(config: Config) -> None:
    """One line per log event on stderr: plain text or JSON (``server.log_format``)."""
    handler = logging.StreamHandler(sys.stderr)
    if config.server.log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("acd")
    root.handlers[:] = [handler]
    root.setLevel(config.server.log_level.upper())
    root.propagate = False


async def serve(config: Config, *, announce: bool = True, config_path: Path | None = None) -> None:
    """Runs the server until SIGTERM or SIGINT, then shuts it down gracefully."""
    server = AcdServer(config, config_path=config_path)
    await server.start()
    # What start-up built (configs, tokens, recovered routers' views, protobuf descriptors)
    # lives as long as the process: take it out of the cyclic collector's generations, so its
    # full collections stop scanning it (they showed as 5-10 ms stalls in offer latency).
    gc.collect()
    gc.freeze()
    # Full collections scan every object made since, and a connected desktop's stream holds
    # about 72 (grpc.aio's and ours): with 5,000 of them each full collection stopped the event
    # loop for 50-140 ms here, every few seconds, and found nearly nothing to free (the cycles
    # die young, in the young generations). One full collection per 100 middle ones instead of
    # per 10 (Python's default): in a full run of bench/service_vs_echo.py 7 (4 of them while
    # starting) instead of 19.
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, FULL_COLLECTION_EVERY)
    # The journal's writer thread needs the GIL a few times per commit, and the event loop's
    # thread lets go of it only when asked, after the switch interval: at Python's 5 ms a small
    # commit waited 30-65 ms for 1-4 ms of work while the loop was busy (17-20 ms at worst
    # with 1 ms, in the same bench; throughput unchanged within the machine's noise).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    if announce:
        print(f"acd: serving on {', '.join(server.addresses)}", flush=True)
        if config.demo_tokens:
            print("acd: dev mode, demo tokens (authorization: Bearer <token>):", flush=True)
            for demo in config.demo_tokens:
                who = demo.identity
                agent = f" (agent {who.agent_id})" if who.agent_id else ""
                print(f"  {who.role:<15} {demo.token}{agent}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def run(config: Config, config_path: Path | None = None) -> None:
    """``acd serve``: the event loop is uvloop's. ``config_path``: the file ``config`` came
    from (ReloadConfig reads it again; None for the bundled dev config)."""
    import uvloop

    setup_logging(config)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(config, config_path=config_path))
