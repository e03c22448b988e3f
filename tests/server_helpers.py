"""An in-process ACD server on a free loopback port, and blocking helpers to talk to it.

The server runs on its own uvloop event loop in a thread; tests use grpc's synchronous
channels, so they need no asyncio plugin. Streams are read by a thread into a queue, and every
wait has a bounded timeout: nothing here asserts on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import uvloop

from acd.server.app import AcdServer
from acd.server.config import Config, parse_config
from acd.v1 import (
    admin_pb2_grpc,
    agent_pb2_grpc,
    crm_pb2_grpc,
    outbound_pb2_grpc,
    platform_pb2_grpc,
    quality_pb2_grpc,
    reports_pb2_grpc,
    routing_pb2_grpc,
    supervision_pb2_grpc,
)

WAIT_S = 10.0
T = TypeVar("T")

STORE_TOKENS = """
[[dev.demo_tokens]]
token = "t-adapter"
tenant = "store"
name = "pbx"
role = "adapter"

[[dev.demo_tokens]]
token = "t-anna"
tenant = "store"
name = "anna"
role = "agent"
agent = "anna"

[[dev.demo_tokens]]
token = "t-ben"
tenant = "store"
name = "ben"
role = "agent"
agent = "ben"

[[dev.demo_tokens]]
token = "t-supervisor"
tenant = "store"
name = "sup"
role = "supervisor"

[[dev.demo_tokens]]
token = "t-crm"
tenant = "store"
name = "crm"
role = "crm"

[[dev.demo_tokens]]
token = "t-admin"
tenant = "store"
name = "admin"
role = "admin"
"""
TEST_CONFIG = (
    """
mode = "dev"

[server]
listen = ["127.0.0.1:50051"]
reflection = true
max_message_bytes = 65536

[server.rate_limit]
requests_per_second = 0

[storage]
snapshot_every_entries = 50
snapshot_every_s = 0

[tenants.store]
skills = ["sales", "support", "quick"]

[[tenants.store.groups]]
id = "managers"
tier = 1
can_pick = true

[[tenants.store.queues]]
id = "sales"
skills = { sales = 3 }
offer_timeout_s = 60
wrapup = 0.2

[[tenants.store.queues]]
id = "support"
skills = { support = 3 }
offer_timeout_s = 60
wrapup = "until-done"

[[tenants.store.queues]]
id = "quick"
skills = { quick = 1 }
offer_timeout_s = 0.3
no_answer = { max_misses = 1 }

[[tenants.store.agents]]
id = "anna"
group = "managers"
skills = { sales = 8, support = 6, quick = 1 }
endpoint = "sip:anna@pbx.test"

[[tenants.store.agents]]
id = "ben"
group = "managers"
skills = { sales = 6 }
endpoint = "sip:ben@pbx.test"

[tenants.other]
skills = ["sales"]

[[tenants.other.queues]]
id = "other-sales"
skills = { sales = 1 }

[[tenants.other.agents]]
id = "olga"
skills = { sales = 5 }

"""
    + STORE_TOKENS
    + """
[[dev.demo_tokens]]
token = "t-platform"
name = "platform"
role = "platform-admin"

[[dev.demo_tokens]]
token = "t-other-adapter"
tenant = "other"
name = "other-pbx"
role = "adapter"

[[dev.demo_tokens]]
token = "t-other-supervisor"
tenant = "other"
name = "other-sup"
role = "supervisor"
"""
)


def make_config(text: str = TEST_CONFIG) -> Config:
    return parse_config(text, environ={})


def md(token: str | None) -> tuple[tuple[str, str | bytes], ...]:
    return () if token is None else (("authorization", f"Bearer {token}"),)


class ServerThread:
    """Starts ``AcdServer`` in a thread; ``stop`` shuts it down gracefully."""

    def __init__(self, config: Config, data_dir: Path, **kwargs: Any) -> None:
        self.config = config
        self.data_dir = data_dir
        self._kwargs = kwargs
        self.server: AcdServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            self.server = AcdServer(
                self.config, listen=["127.0.0.1:0"], data_dir=self.data_dir, **self._kwargs
            )
            await self.server.start()
        except BaseException as e:
            self._error = e
            self._ready.set()
            raise
        self._ready.set()
        await self._stop.wait()
        await self.server.stop(grace_s=2.0)

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(WAIT_S):
            raise TimeoutError("server did not start")
        if self._error is not None:
            raise self._error
        return self

    @property
    def address(self) -> str:
        assert self.server is not None
        return self.server.addresses[0]

    def call(self, fn: Callable[[], Any]) -> Any:
        """Runs ``fn`` (a coroutine function) on the server's loop; gives its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(WAIT_S)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive(), "server did not stop"


class Stubs:
    def __init__(self, channel: grpc.Channel) -> None:
        self.routing = routing_pb2_grpc.RoutingServiceStub(channel)
        self.agent = agent_pb2_grpc.AgentServiceStub(channel)
        self.supervision = supervision_pb2_grpc.SupervisionServiceStub(channel)
        self.crm = crm_pb2_grpc.CrmServiceStub(channel)
        self.admin = admin_pb2_grpc.AdminServiceStub(channel)
        self.platform = platform_pb2_grpc.PlatformServiceStub(channel)
        self.reports = reports_pb2_grpc.ReportServiceStub(channel)
        self.outbound = outbound_pb2_grpc.OutboundServiceStub(channel)
        self.quality = quality_pb2_grpc.QualityServiceStub(channel)


class StreamReader:
    """Reads a server stream in a thread; ``next`` / ``until`` wait with a bound."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self.items: queue.Queue[Any] = queue.Queue()
        self.error: grpc.RpcError | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for item in self.call:
                self.items.put(item)
        except grpc.RpcError as e:
            self.error = e
        self.items.put(None)

    def next(self, timeout: float = WAIT_S) -> Any:
        item = self.items.get(timeout=timeout)
        if item is None:
            self.items.put(None)
            raise EOFError(f"stream ended: {self.error}")
        return item

    def until(self, predicate: Callable[[Any], bool], timeout: float = WAIT_S) -> Any:
        """Skips messages until one matches (each wait bounded by ``timeout``)."""
        for _ in range(1000):
            item = self.next(timeout)
            if predicate(item):
                return item
        raise AssertionError("no matching message in 1000")

    def close(self) -> None:
        self.call.cancel()
        self._thread.join(WAIT_S)


@contextlib.contextmanager
def running(
    tmp_path: Path, config: Config | None = None, **kwargs: Any
) -> Iterator[tuple[ServerThread, Stubs]]:
    server = ServerThread(config or make_config(), tmp_path / "data", **kwargs).start()
    channel = grpc.insecure_channel(server.address)
    try:
        yield server, Stubs(channel)
    finally:
        channel.close()
        server.stop()


def code_of(fn: Callable[[], Any]) -> grpc.StatusCode | None:
    """The status code ``fn`` fails with, or None when it succeeds."""
    try:
        fn()
    except grpc.RpcError as e:
        code: grpc.StatusCode = e.code()
        return code
    return None


def error_of(fn: Callable[[], Any]) -> grpc.RpcError:
    try:
        fn()
    except grpc.RpcError as e:
        return e
    raise AssertionError("the call succeeded")
