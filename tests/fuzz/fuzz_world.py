"""The fuzzed server: an in-process ACD on a frozen clock, every RPC of acd.v1, the state to
compare.

- ``rpc_methods`` enumerates the services of every ``acd.v1.*_pb2`` module from their
  descriptors, so a new RPC (or a new proto file) is fuzzed without a change here; each method
  gets the tokens of the roles ``auth.POLICY`` allows it (validation is fuzzed, not auth).
- The clock is frozen and the agents' disconnect grace is out of reach, so nothing changes the
  routers between two requests but the requests themselves: ``fingerprint`` before and after a
  refused request must be equal, and the journal may have gained clock movements only.
- ``invoke`` calls one method with the generic channel API: unary calls in full, server streams
  for their first messages, bidirectional streams with the fuzzed commands, both cut short with
  a deadline (DEADLINE_EXCEEDED) or a cancel (CANCELLED, which ``invoke`` counts as OK).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import pkgutil
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: server_helpers

from fuzz_values import NOW_MS

import acd.v1
from acd.server.auth import POLICY, Role
from acd.server.clock import Clock
from acd.server.journal_format import Command
from acd.server.recovery import commands_of
from acd.v1 import routing_pb2, routing_pb2_grpc
from server_helpers import ServerThread, make_config, md

TENANTS = ("store", "other")  # the test config's; their state is compared
TOKENS = {
    Role.ADAPTER: "t-adapter",
    Role.AGENT: "t-anna",
    Role.SUPERVISOR: "t-supervisor",
    Role.CRM: "t-crm",
    Role.ADMIN: "t-admin",
    Role.PLATFORM_ADMIN: "t-platform",
}
UNARY_S = 10.0
STREAM_S = 0.25  # how long a stream is read before it is cut short
STREAM_MESSAGES = 4  # ... or after this many messages
MAX_TENANTS = 8  # more (created by the fuzzer) and the world starts afresh
OK = grpc.StatusCode.OK


@dataclass(frozen=True, slots=True)
class Fingerprint:
    state: tuple[Any, ...]
    seqs: dict[str, int]  # tenant -> its journal's last seq


@dataclass(frozen=True, slots=True)
class RpcMethod:
    path: str  # /acd.v1.Service/Method
    request: type[Message]
    response: type[Message]
    client_streaming: bool
    server_streaming: bool
    tokens: tuple[str, ...]  # one per role allowed to call it


def rpc_methods() -> list[RpcMethod]:
    methods = []
    for info in sorted(pkgutil.iter_modules(acd.v1.__path__), key=lambda m: m.name):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"acd.v1.{info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                path = f"/{service.full_name}/{m.name}"
                roles = sorted(POLICY.get(path, frozenset({Role.ADMIN})))
                methods.append(
                    RpcMethod(
                        path,
                        GetMessageClass(m.input_type),
                        GetMessageClass(m.output_type),
                        m.client_streaming,
                        m.server_streaming,
                        tuple(TOKENS[r] for r in roles),
                    )
                )
    return methods


class World:
    """The server the fuzzer talks to; ``restart`` gives a fresh one (same config)."""

    def __init__(self, base: Path | None = None) -> None:
        self._own_base = base is None  # a directory of its own: removed by close
        self._base = Path(tempfile.mkdtemp(prefix="acd-fuzz-")) if base is None else base
        self._runs = 0
        self.methods = rpc_methods()
        self.server, self.channel = self._start()

    def _start(self) -> tuple[ServerThread, grpc.Channel]:
        self._runs += 1
        clock = Clock(lambda: NOW_MS / 1000)
        server = ServerThread(make_config(), self._base / f"run{self._runs}", clock=clock)
        server.start()

        async def no_disconnect_withdrawal() -> None:
            assert server.server is not None
            for tenant in server.server.tenants.values():
                tenant.disconnect_grace_s = 10.0**6

        server.call(no_disconnect_withdrawal)
        channel = grpc.insecure_channel(server.address)
        # A refused command moves a router's clock (to the frozen now, once): do it here, so a
        # refusal during the run leaves the snapshot as it was.
        cancel = routing_pb2_grpc.RoutingServiceStub(channel).CancelCall
        for token in ("t-adapter", "t-other-adapter"):
            with contextlib.suppress(grpc.RpcError):
                cancel(routing_pb2.CancelCallRequest(call_id="-"), metadata=md(token))
        return server, channel

    def _stop(self) -> None:
        self.channel.close()
        self.server.stop()

    def close(self) -> None:
        self._stop()
        if self._own_base:
            shutil.rmtree(self._base, ignore_errors=True)

    def restart(self) -> None:
        self._stop()
        self.server, self.channel = self._start()

    def intact(self) -> bool:
        """Whether the test config's tenants and tokens are all still there (a fuzzed
        DeleteTenant or RevokeTokens may take them away: a legal request, not a finding)."""
        srv = self.server.server
        assert srv is not None
        if any(t not in srv.tenants for t in TENANTS) or len(srv.tenants) > MAX_TENANTS:
            return False
        return all(srv.registry.tokens.authenticate(t) is not None for t in TOKENS.values())

    def fingerprint(self) -> Fingerprint:
        return fingerprint(self.server)

    def journaled_since(self, seqs: dict[str, int]) -> list[Command]:
        return journaled_since(self.server, seqs)

    def settle(self) -> None:
        """Lets what a cut-short stream started finish and commit."""

        async def wait() -> None:
            srv = self.server.server
            assert srv is not None
            await asyncio.sleep(0)
            for tenant in list(srv.tenants.values()):
                await tenant.committed_view()

        self.server.call(wait)

    def serving(self) -> bool:
        health = health_pb2_grpc.HealthStub(self.channel)
        status = health.Check(health_pb2.HealthCheckRequest(), timeout=UNARY_S).status
        return bool(status == health_pb2.HealthCheckResponse.SERVING)

    def invoke(
        self, method: RpcMethod, token: str, requests: list[Message]
    ) -> tuple[grpc.StatusCode, str]:
        """Calls ``method``; gives its status code and details."""
        metadata = md(token)
        ser, de = method.request.SerializeToString, method.response.FromString
        try:
            if not method.client_streaming and not method.server_streaming:
                call = self.channel.unary_unary(
                    method.path, request_serializer=ser, response_deserializer=de
                )
                call(requests[0], metadata=metadata, timeout=UNARY_S)
                return OK, ""
            if method.client_streaming:
                stream = self.channel.stream_stream(
                    method.path, request_serializer=ser, response_deserializer=de
                )(_sent(requests), metadata=metadata, timeout=STREAM_S)
            else:
                stream = self.channel.unary_stream(
                    method.path, request_serializer=ser, response_deserializer=de
                )(requests[0], metadata=metadata, timeout=STREAM_S)
            for i, _ in enumerate(stream):
                if i + 1 >= STREAM_MESSAGES:
                    stream.cancel()
                    break
            return OK, ""
        except grpc.RpcError as e:
            code: grpc.StatusCode = e.code()
            if code == grpc.StatusCode.CANCELLED and method.server_streaming:
                return OK, ""  # cut short by us
            return code, e.details() or ""


def _sent(requests: list[Message]) -> Iterator[Message]:
    """A client stream's messages, then its half-close (the server answers what it got)."""
    yield from requests


def fingerprint(server: ServerThread, tenants: tuple[str, ...] = TENANTS) -> Fingerprint:
    """What a refused request must leave as it was: per tenant of ``tenants``, its router
    (snapshot bytes), config and live calls; the set of tenants, the number of tokens; and
    where each tenant's journal ends (see ``journaled_since``)."""
    srv = server.server
    assert srv is not None

    async def take() -> Fingerprint:
        parts: list[Any] = []
        seqs: dict[str, int] = {}
        for tenant_id in tenants:
            tenant = srv.tenants.get(tenant_id)
            if tenant is None:
                parts.append(None)
                continue
            await tenant.committed_view()
            seqs[tenant_id] = srv.journal.last_seq(tenant_id)
            snapshot = hashlib.sha256(tenant.router.snapshot()).hexdigest()
            parts.append((snapshot, tenant.config, frozenset(tenant.live_calls)))
        parts.append(tuple(sorted(srv.tenants)))
        parts.append(len(srv.registry.tokens))
        return Fingerprint(tuple(parts), seqs)

    result: Fingerprint = server.call(take)
    return result


def journaled_since(server: ServerThread, seqs: dict[str, int]) -> list[Command]:
    """The commands journaled after ``seqs`` other than clock movements: a refused command is
    journaled as ``("timeout", now_ms)``, the clock it moved (recovery.py), and as nothing
    else."""
    srv = server.server
    assert srv is not None
    out: list[Command] = []
    for tenant_id, seq in seqs.items():
        for _, entry in srv.journal.entries(tenant_id, after=seq):
            out += [c for c in commands_of(entry) if c[0] != "timeout"]
    return out
