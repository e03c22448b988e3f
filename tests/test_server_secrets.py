"""Secrets never reach the log: a full run of ``acd serve`` at log level debug, with every kind of
token in play, and the log grepped for each of them afterwards.

The tokens: the configured ones (stored as hashes in acd.toml), a wrong token, a token issued
through ``AdminService.IssueToken`` and the one-time admin token of a tenant made by
``PlatformService.CreateTenant``. Each is used for real (so a request log, an error path or an
exception message that printed metadata would show it), then the server stops gracefully and
its whole output is searched, as text, for every token.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc

from acd.server.auth import hash_token
from acd.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    agent_pb2,
    agent_pb2_grpc,
    common_pb2,
    crm_pb2,
    crm_pb2_grpc,
    platform_pb2,
    platform_pb2_grpc,
    routing_pb2,
    routing_pb2_grpc,
)
from crash_driver import free_port

T = 10.0
START_S = 60.0


def _config(port: int, data_dir: Path, tokens: dict[str, tuple[str, str, str]]) -> str:
    text = f"""
[server]
listen = ["127.0.0.1:{port}"]
log_level = "debug"
log_format = "text"
[server.rate_limit]
requests_per_second = 0
[storage]
data_dir = "{data_dir.as_posix()}"
[tenants.store]
skills = ["sales"]
[[tenants.store.queues]]
id = "sales"
skills = {{ sales = 1 }}
[[tenants.store.agents]]
id = "anna"
skills = {{ sales = 5 }}
"""
    for token, (name, role, agent) in tokens.items():
        tenant = "" if role == "platform-admin" else 'tenant = "store"\n'
        text += f'[[tokens]]\nhash = "{hash_token(token)}"\n{tenant}name = "{name}"\n'
        text += f'role = "{role}"\n' + (f'agent = "{agent}"\n' if agent else "")
    return text


@contextmanager
def _serve(tmp_path: Path, config: str) -> Iterator[tuple[str, Path]]:
    path = tmp_path / "acd.toml"
    path.write_text(config)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        argv = [sys.executable, "-m", "acd.cli", "serve", "--config", str(path)]
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield config.split('listen = ["', 1)[1].split('"', 1)[0], log
        process.terminate()
        assert process.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _wait_serving(channel: grpc.Channel) -> None:
    check: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        "/grpc.health.v1.Health/Check"
    )
    deadline = time.monotonic() + START_S
    while True:
        try:
            if check(b"", timeout=1) == b"\x08\x01":  # SERVING
                return
        except grpc.RpcError:
            pass
        assert time.monotonic() < deadline, "acd serve never became SERVING"
        time.sleep(0.05)


def _md(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def test_no_token_reaches_the_log(tmp_path: Path) -> None:
    mark = secrets.token_hex(8)  # makes every token unique to this run
    adapter, admin, platform, anna = (f"{role}-{mark}-secret" for role in "xyzw")
    tokens = {
        adapter: ("pbx", "adapter", ""),
        admin: ("admin", "admin", ""),
        platform: ("platform", "platform-admin", ""),
        anna: ("anna", "agent", "anna"),
    }
    wrong = f"wrong-{mark}-secret"
    issued: list[str] = []
    config = _config(free_port(), tmp_path / "data", tokens)
    with _serve(tmp_path, config) as (target, log), grpc.insecure_channel(target) as channel:
        _wait_serving(channel)
        routing = routing_pb2_grpc.RoutingServiceStub(channel)
        call = common_pb2.Call(call_id="s1", queue_id="sales", caller_number="+4930123")
        routing.EnqueueCall(routing_pb2.EnqueueCallRequest(call=call), metadata=_md(adapter))
        try:
            routing.EnqueueCall(routing_pb2.EnqueueCallRequest(call=call), metadata=_md(wrong))
            raise AssertionError("a wrong token was accepted")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED
            assert wrong not in (e.details() or "")
        agent = agent_pb2_grpc.AgentServiceStub(channel)
        agent.Login(agent_pb2.LoginRequest(agent_id="anna"), metadata=_md(anna), timeout=T)

        admin_stub = admin_pb2_grpc.AdminServiceStub(channel)
        crm = admin_pb2.IssueTokenRequest(name="crm-plugin", role=admin_pb2.ROLE_CRM)
        issued.append(admin_stub.IssueToken(crm, metadata=_md(admin), timeout=T).token)
        pop = crm_pb2.GetScreenPopRequest(call_id="s1")
        crm_stub = crm_pb2_grpc.CrmServiceStub(channel)
        crm_stub.GetScreenPop(pop, metadata=_md(issued[0]), timeout=T)

        platform_stub = platform_pb2_grpc.PlatformServiceStub(channel)
        created = platform_stub.CreateTenant(
            platform_pb2.CreateTenantRequest(tenant_id="shop2"), metadata=_md(platform), timeout=T
        )
        issued.append(created.admin_token)
        admin_stub.ListQueues(admin_pb2.ListQueuesRequest(), metadata=_md(issued[1]), timeout=T)
        # An agent token used for another agent: refused, and still not logged.
        try:
            agent.Login(agent_pb2.LoginRequest(agent_id="ben"), metadata=_md(anna), timeout=T)
        except grpc.RpcError as e:
            assert e.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)
    text = log.read_text(errors="replace")
    assert "listening on" in text and "stopped" in text  # the log is the full run's
    assert all(issued), issued
    for secret in [*tokens, wrong, *issued]:
        assert secret not in text, f"a token reached the log: {secret[:6]}..."
    assert mark not in text  # not even a part of one
