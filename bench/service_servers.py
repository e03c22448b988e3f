"""The two servers bench/service_vs_echo.py drives, each as a subprocess on loopback: the real
service (``acd serve`` with a bench tenant of many agents, one token each) and a bare grpc.aio
echo server (``python bench/service_servers.py PORT``), plus the bench tenant's config.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import uvloop

from acd.server.auth import hash_token

TENANT = "bench"
ROUTED_QUEUE = "q"  # served by every agent
PARKED_QUEUE = "parked"  # served by nobody: unary and batch enqueues just wait there
ADAPTER_TOKEN = "bench-adapter"
ECHO_SERVICE = "bench.Echo"


def agent_id(i: int) -> str:
    return f"a{i}"


def agent_token(i: int) -> str:
    return f"bench-agent-{i}"


# --- the servers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_config(directory: Path, port: int, agents: int) -> Path:
    """A production-mode acd.toml: one tenant, ``agents`` agents, hashed tokens."""
    lines = [
        'mode = "production"',
        "[server]",
        f'listen = ["127.0.0.1:{port}"]',
        'log_level = "warning"',
        "max_concurrent_rpcs = 100000",
        "[server.rate_limit]",
        "requests_per_second = 0  # off: the bench is the only client",
        "[storage]",
        f"data_dir = {json.dumps(str(directory / 'data'))}",
        "snapshot_every_entries = 100000",
        "snapshot_every_s = 300",
        "group_commit_max_batch = 1024",
        f"[tenants.{TENANT}]",
        'name = "Service bench"',
        'skills = ["s", "nobody"]',
        f"[[tenants.{TENANT}.queues]]",
        f'id = "{ROUTED_QUEUE}"',
        "skills = { s = 1 }",
        'wrapup = "until-done"',
        "offer_timeout_s = 120",
        f"[[tenants.{TENANT}.queues]]",
        f'id = "{PARKED_QUEUE}"',
        "skills = { nobody = 1 }",
    ]
    for i in range(agents):
        lines += [
            f"[[tenants.{TENANT}.agents]]",
            f'id = "{agent_id(i)}"',
            "skills = { s = 5 }",
        ]
    tokens: list[tuple[str, str, str | None]] = [(ADAPTER_TOKEN, "adapter", None)]
    tokens += [(agent_token(i), "agent", agent_id(i)) for i in range(agents)]
    for token, role, agent in tokens:
        lines += [
            "[[tokens]]",
            f'hash = "{hash_token(token)}"',
            f'tenant = "{TENANT}"',
            f'name = "{agent or token}"',
            f'role = "{role}"',
        ]
        if agent is not None:
            lines.append(f'agent = "{agent}"')
    path = directory / "acd.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Process:
    """A server subprocess this script started; stopped by its pid only."""

    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name = name
        self._log = log.open("wb")
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)

    def cpu_s(self) -> float:
        """User + system CPU seconds of the process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"{self.name}: no VmRSS")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()


async def wait_serving(process: Process, target: str, timeout_s: float) -> None:
    """Until grpc.health.v1 Check says SERVING (or UNIMPLEMENTED: the echo server is up).

    Raw bytes, so no health stubs are needed: an empty HealthCheckRequest asks about the
    whole server, and ``08 01`` is a HealthCheckResponse with status SERVING (1).
    """
    deadline = time.monotonic() + timeout_s
    async with grpc.aio.insecure_channel(target) as channel:
        check: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            "/grpc.health.v1.Health/Check"
        )
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited with {process.popen.returncode}")
            try:
                if await check(b"", timeout=1) == b"\x08\x01":
                    return
            except grpc.aio.AioRpcError as err:
                if err.code() is grpc.StatusCode.UNIMPLEMENTED:
                    return  # up, without a health service (the echo server)
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.name} not serving after {timeout_s} s")


def start_echo(log_dir: Path) -> tuple[Process, str]:
    port = free_port()
    argv = [sys.executable, __file__, str(port)]
    return Process("echo server", argv, log_dir / "echo.log"), f"127.0.0.1:{port}"


def start_service(log_dir: Path, agents: int, variant: str = "") -> tuple[Process, str]:
    """``acd serve`` on a free port; with a ``variant``, through bench/service_variant.py
    (one part of the service replaced, for bench/service_budget.py)."""
    port = free_port()
    config = write_config(log_dir, port, agents)
    serve = ["serve", "--config", str(config)]
    if variant:
        argv = [sys.executable, str(Path(__file__).with_name("service_variant.py")), variant]
        name = f"acd serve ({variant})"
    else:
        argv, name = [sys.executable, "-m", "acd.cli"], "acd serve"
    return Process(name, argv + serve, log_dir / "service.log"), f"127.0.0.1:{port}"


# --- the echo server (runs in its own process) ---------------------------------------------


async def _echo_unary(request: bytes, context: object) -> bytes:
    return request


async def _echo_stream(requests: AsyncIterator[bytes], context: object) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request


async def serve_echo(port: int) -> None:
    handler = grpc.method_handlers_generic_handler(
        ECHO_SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(_echo_unary),
            "Stream": grpc.stream_stream_rpc_method_handler(_echo_stream),
        },
    )
    server = grpc.aio.server(handlers=[handler], maximum_concurrent_rpcs=100_000)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    uvloop.run(serve_echo(int(sys.argv[1])))
