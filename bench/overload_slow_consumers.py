"""Slow consumers: 50 StreamQueueStats subscribers that never read while 100,000 stat updates
flow, and what it costs the service (issue 6).

The service runs in a subprocess (this script with ``--serve``: ``acd serve``'s server with a
short queue-stats period, 20 ms instead of 0.5 s, so the updates come fast). This process

1. measures the server's RSS (``/proc/<pid>/status``) after a warm-up of the load below;
2. opens 50 queue-stats streams, each on its own connection, and never reads them;
3. drives enqueue/cancel bursts on ``--queues`` parked queues through one adapter stream (about
   100 calls waiting at any time, so the router's own memory stays flat), until the service has
   handed ``--updates`` queue-stats updates (one queue's figures to one subscriber) to the
   subscribers' buffers;
4. meanwhile an agent desktop (StreamOffers) takes calls of its own queue, one every 20 ms:
   enqueue -> offer on the stream is the offer latency;
5. samples the server's RSS every 100 ms.

Prints a table and one JSON line: rss_growth_mb (peak during the storm minus the warm-up
figure), dropped_or_coalesced (``StatsHub.dropped`` summed over the tenants: updates a newer one
replaced before the subscriber read it), offer_latency_p99_ms, plus the counts behind them.
Targets (issue 6): growth <= 50 MB, dropped_or_coalesced > 0, p99 < 100 ms; the exit status is
1 when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import uvloop

from acd.server.auth import hash_token
from acd.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    common_pb2,
    routing_pb2,
    routing_pb2_grpc,
    supervision_pb2,
    supervision_pb2_grpc,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_servers import free_port

TENANT = "overload"
ADAPTER, SUPERVISOR, AGENT = "ov-adapter", "ov-supervisor", "ov-agent"
LIVE_QUEUE = "live"  # the agent's; everything else is parked (nobody serves it)
WAITING = 100  # parked calls waiting at any time during the churn
WINDOW = 128  # adapter commands in flight
SAMPLE_S = 0.02  # between two offer-latency samples
RSS_EVERY_S = 0.1
STORM_LIMIT_S = 300.0
T = 10.0
# A subscriber that never reads: its connection's flow-control window stays at 16 KiB (no
# bandwidth probing enlarges it), as a stuck wallboard's TCP receive buffer would fill, so the
# service's writes to it block and its feed must coalesce.
STUCK_READER = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 16384)]


def write_config(directory: Path, port: int, queues: int) -> Path:
    lines = [
        'mode = "production"',
        "[server]",
        f'listen = ["127.0.0.1:{port}"]',
        'log_level = "warning"',
        "max_concurrent_rpcs = 100000",
        "[server.rate_limit]",
        "requests_per_second = 0",
        "[storage]",
        f"data_dir = {json.dumps(str(directory / 'data'))}",
        "snapshot_every_entries = 100000",
        "snapshot_every_s = 300",
        f"[tenants.{TENANT}]",
        'skills = ["s", "nobody"]',
        f"[[tenants.{TENANT}.queues]]",
        f'id = "{LIVE_QUEUE}"',
        "skills = { s = 1 }",
        "wrapup = 0",
        "offer_timeout_s = 120",
    ]
    for q in range(queues):
        lines += [f"[[tenants.{TENANT}.queues]]", f'id = "p{q}"', "skills = { nobody = 1 }"]
    lines += [f"[[tenants.{TENANT}.agents]]", 'id = "a0"', "skills = { s = 5 }"]
    for token, role in ((ADAPTER, "adapter"), (SUPERVISOR, "supervisor"), (AGENT, "agent")):
        lines += [
            "[[tokens]]",
            f'hash = "{hash_token(token)}"',
            f'tenant = "{TENANT}"',
            f'name = "{token}"',
            f'role = "{role}"',
        ]
        if role == "agent":
            lines.append('agent = "a0"')
    path = directory / "acd.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# --- the server subprocess -------------------------------------------------------------------


async def serve(config_path: Path, stats_period_s: float) -> None:
    """The service with a short stats period; SIGUSR1 prints the stats counters as a JSON line,
    SIGTERM stops it gracefully."""
    from acd.server.app import AcdServer
    from acd.server.config import load_config

    server = AcdServer(load_config(config_path), stats_period_s=stats_period_s)
    await server.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def counters() -> None:
        hubs = [t.stats for t in server.tenants.values()]
        published = sum(h.published for h in hubs)
        print(json.dumps({"published": published, "dropped": sum(h.dropped for h in hubs)}))
        sys.stdout.flush()

    loop.add_signal_handler(signal.SIGUSR1, counters)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    counters()
    await server.stop(grace_s=1.0)


# --- the load ----------------------------------------------------------------------------------


class Server:
    def __init__(self, workdir: Path, queues: int, stats_period_s: float) -> None:
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        config = write_config(workdir, self.port, queues)
        argv = [sys.executable, __file__, "--serve", str(config)]
        argv += ["--stats-period-s", str(stats_period_s)]
        self.log = (workdir / "serve.log").open("wb")
        self.popen = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1
        )
        assert self.popen.stdout is not None
        if self.popen.stdout.readline().strip() != "ready":
            raise RuntimeError(f"server did not start; see {workdir / 'serve.log'}")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    async def counters(self) -> dict[str, int]:
        assert self.popen.stdout is not None
        self.popen.send_signal(signal.SIGUSR1)
        line = await asyncio.to_thread(self.popen.stdout.readline)
        result: dict[str, int] = json.loads(line)
        return result

    def stop(self) -> dict[str, int]:
        """SIGTERM to the pid this script started; gives the last counters."""
        self.popen.send_signal(signal.SIGTERM)
        out, _ = self.popen.communicate(timeout=30)
        self.log.close()
        lines = [line for line in out.splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else {}


def md(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


class Churn:
    """Enqueue/cancel bursts on the parked queues over one adapter stream."""

    def __init__(self, channel: grpc.aio.Channel, queues: int) -> None:
        self._stub = routing_pb2_grpc.RoutingServiceStub(channel)
        self._queues = queues
        self._in_flight = asyncio.Semaphore(WINDOW)
        self.commands = 0
        self.running = True

    def _requests(self) -> Any:
        async def generate() -> Any:
            i = 0
            while self.running:
                await self._in_flight.acquire()
                i += 1
                call = common_pb2.Call(call_id=f"x{i}", queue_id=f"p{i % self._queues}")
                request = routing_pb2.AdapterStreamRequest(correlation_id=str(i))
                if i > WAITING and i % 2 == 0:  # every other command ends an older call
                    request.cancel_call.call_id = f"x{i - WAITING - 1}"
                else:
                    request.enqueue_call.call.CopyFrom(call)
                yield request

        return generate()

    async def run(self) -> None:
        stream = self._stub.AdapterStream(self._requests(), metadata=md(ADAPTER))
        with contextlib.suppress(grpc.aio.AioRpcError):
            async for message in stream:
                if message.HasField("ack") or message.HasField("rejected"):
                    self.commands += 1
                    self._in_flight.release()
                if not self.running:
                    stream.cancel()
                    break


class Desktop:
    """Agent a0 on StreamOffers: each sample enqueues a call to the live queue and times the
    offer's arrival on the stream; the agent accepts, the adapter ends the call, next."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._agent = agent_pb2_grpc.AgentServiceStub(channel)
        self._routing = routing_pb2_grpc.RoutingServiceStub(channel)
        self._offers: asyncio.Queue[str] = asyncio.Queue()
        self.latencies_ms: list[float] = []
        self.ack_ms: list[float] = []  # enqueue -> its acknowledgement (journal commit)
        self._stream: Any = None
        self.ended = ""

    async def start(self) -> None:
        agent = md(AGENT)
        await self._agent.Login(agent_pb2.LoginRequest(agent_id="a0"), metadata=agent, timeout=T)
        ready = agent_pb2.SetStateRequest(agent_id="a0", availability=agent_pb2.AVAILABILITY_READY)
        await self._agent.SetState(ready, metadata=agent, timeout=T)
        request = agent_pb2.StreamOffersRequest(agent_id="a0")
        self._stream = self._agent.StreamOffers(request, metadata=agent)
        asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        self.ended = "stream open"
        try:
            async for message in self._stream:
                if message.HasField("offer"):
                    await self._offers.put(message.offer.offer.call_id)
                elif message.HasField("snapshot"):  # a stream that fell out of the ring
                    for open_offer in message.snapshot.open_offers:
                        await self._offers.put(open_offer.offer.call_id)
            self.ended = "stream ended"
        except (grpc.aio.AioRpcError, asyncio.CancelledError) as e:
            self.ended = f"stream failed: {e!r:.300}"

    async def sample(self, i: int) -> None:
        call_id = f"live-{i}"
        call = common_pb2.Call(call_id=call_id, queue_id=LIVE_QUEUE)
        started = time.perf_counter()
        await self._routing.EnqueueCall(
            routing_pb2.EnqueueCallRequest(call=call), metadata=md(ADAPTER), timeout=T
        )
        self.ack_ms.append((time.perf_counter() - started) * 1000)
        try:
            while await asyncio.wait_for(self._offers.get(), T) != call_id:
                pass
        except TimeoutError:
            status = await self._routing.GetCallStatus(
                routing_pb2.GetCallStatusRequest(call_id=call_id), metadata=md(ADAPTER)
            )
            why = f"{status} ({self.ended})".replace("\n", " ")
            raise RuntimeError(f"no offer of {call_id} within {T} s: {why}") from None
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        accept = agent_pb2.AcceptOfferRequest(agent_id="a0", call_id=call_id)
        await self._agent.AcceptOffer(accept, metadata=md(AGENT), timeout=T)
        end = routing_pb2.EndCallRequest(call_id=call_id)
        await self._routing.EndCall(end, metadata=md(ADAPTER), timeout=T)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.cancel()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


async def storm(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    server = Server(workdir, args.queues, args.stats_period_s)
    channels: list[grpc.aio.Channel] = []
    try:
        main = grpc.aio.insecure_channel(server.target)
        channels.append(main)
        desktop = Desktop(main)
        await desktop.start()
        # Warm-up: the same load without subscribers, so the baseline has it in.
        churn = Churn(main, args.queues)
        warm = asyncio.get_running_loop().create_task(churn.run())
        for i in range(50):
            await desktop.sample(-i - 1)
        churn.running = False
        await warm
        desktop.latencies_ms.clear()
        desktop.ack_ms.clear()
        baseline = server.rss_mb()

        subscribers = []
        request = supervision_pb2.StreamQueueStatsRequest()
        for _ in range(args.subscribers):
            channel = grpc.aio.insecure_channel(server.target, options=STUCK_READER)
            channels.append(channel)
            stub = supervision_pb2_grpc.SupervisionServiceStub(channel)
            subscribers.append(stub.StreamQueueStats(request, metadata=md(SUPERVISOR)))
        await asyncio.sleep(0.5)  # the streams are open (never read)
        start_counts = await server.counters()

        churn = Churn(main, args.queues)
        load = asyncio.get_running_loop().create_task(churn.run())
        peak, samples, counts = baseline, 0, start_counts
        started = time.perf_counter()
        next_rss = started
        while time.perf_counter() - started < STORM_LIMIT_S:
            await desktop.sample(samples)
            samples += 1
            await asyncio.sleep(SAMPLE_S)
            if time.perf_counter() >= next_rss:
                peak = max(peak, server.rss_mb())
                next_rss += RSS_EVERY_S
                counts = await server.counters()
                if counts["published"] - start_counts["published"] >= args.updates:
                    break
        storm_s = time.perf_counter() - started
        churn.running = False
        await load
        peak = max(peak, server.rss_mb())
        counts = await server.counters()
        for call in subscribers:
            call.cancel()
        desktop.close()
    finally:
        for channel in channels:
            await channel.close()
        final = server.stop()
    updates = counts["published"] - start_counts["published"]
    return {
        "subscribers": args.subscribers,
        "stat_updates": updates,
        "storm_s": round(storm_s, 1),
        "adapter_commands": churn.commands,
        "rss_baseline_mb": round(baseline, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_growth_mb": round(peak - baseline, 1),
        "dropped_or_coalesced": final.get("dropped", counts["dropped"]),
        "offer_samples": len(desktop.latencies_ms),
        "offer_latency_p50_ms": round(percentile(desktop.latencies_ms, 50), 2),
        "offer_latency_p99_ms": round(percentile(desktop.latencies_ms, 99), 2),
        "offer_latency_max_ms": round(max(desktop.latencies_ms), 2),
        "enqueue_ack_p99_ms": round(percentile(desktop.ack_ms, 99), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--queues", type=int, default=4)
    parser.add_argument("--stats-period-s", type=float, default=0.02)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        uvloop.run(serve(args.serve, args.stats_period_s))
        return 0
    with tempfile.TemporaryDirectory(prefix="acd-overload-") as tmp:
        out = uvloop.run(storm(args, Path(tmp)))
    targets = [
        ("rss_growth_mb", out["rss_growth_mb"] <= 50, "<= 50"),
        ("dropped_or_coalesced", out["dropped_or_coalesced"] > 0, "> 0"),
        ("offer_latency_p99_ms", out["offer_latency_p99_ms"] < 100, "< 100"),
    ]
    width = max(len(k) for k in out)
    for key, value in out.items():
        goal = next(
            (f"target {g}: {'met' if ok else 'MISSED'}" for k, ok, g in targets if k == key), ""
        )
        print(f"{key:<{width}}  {value!s:>12}  {goal}")
    print(json.dumps(out))
    return 0 if all(ok for _, ok, _ in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
