"""The ACD service against a bare grpc.aio echo server: same client process, same run.

    python bench/service_vs_echo.py [--quick] [--echo-only]
    python bench/service_vs_echo.py --write-config DIR [--agents N] [--port P]

Starts two servers as subprocesses on loopback, each on its own free port:
- the real service, ``acd serve --config <temp config>`` (journal on: SQLite WAL with
  synchronous=FULL, acknowledged means committed), with a tenant of 5,000 agents and a token
  for each, written by this script into a temporary directory;
- a bare grpc.aio echo server on uvloop (bench/service_servers.py): a generic unary
  handler and a bidirectional one returning the request bytes, no protobuf work at all.

Then drives both from this process (uvloop, grpc.aio, ``acd.client``):
1. lifecycles: agents each on their own Session (a desktop's one stream: its commands in,
   its offers and state out), the adapter on AdapterStream; enqueue -> offer -> accept ->
   end (adapter) -> wrap-up done, closed loop, calls/s;
2. offer latency at half that rate (open loop), p50/p99 from sending the enqueue to the offer
   on the agent's stream, and from the enqueue's acknowledgement to the offer. The service
   publishes the offer and acknowledges the enqueue after the same journal commit, and the
   offer usually reaches the agent first, so ack -> offer is mostly 0 (clamped; the table
   counts those); ``offer_latency_p99_ms`` is therefore send -> offer, an upper bound of
   ack -> offer that includes the commit (``offer_latency_from_ack_p99_ms`` is beside it);
3. every one of the 5,000 agents holding an offer stream: the server's RSS, then the offer
   latency again at the same rate. The agents beyond those of phase 1 only hold their streams
   (logged out, so the same agents answer as in phase 2): the two latencies differ only by
   the 5,000 open streams;
4. unary EnqueueCall against unary echo: same concurrency, payload size and metadata, and the
   same raw client (requests serialized before the phase, responses not parsed), so that the
   ratio compares the servers alone;
5. EnqueueCalls batches;
6. round trips on the echo server's streams: the bare transport's message rate on this
   machine. Divided by the gRPC messages a lifecycle took in phase 1 (both ways, counted by
   the client's streams), it is the most lifecycles per second that any service could carry
   here, however little it did: ``lifecycle_echo_ceiling_per_s``.

Prints a table per phase with the load generator's own CPU time beside the server's (and
says when the generator, not the server, was the limit), then as its last line one JSON
object: unary_enqueue_ratio, lifecycle_calls_per_s, offer_latency_p99_ms, batch_enqueue_per_s,
rss_mb_5k_agent_streams, offer_latency_p99_ms_5k_streams (plus the raw rates beside them, and
lifecycle_grpc_messages, echo_stream_messages_per_s, lifecycle_echo_ceiling_per_s).
``--quick`` runs each phase briefly (well under 90 s in all); ``--echo-only`` measures only the
echo server (the server keys are then null), for working on the harness itself.
``--write-config`` only writes the bench tenant's config (its agents and tokens), e.g. for a
server that bench/locustfile.py loads.

Beside this file: ``service_servers`` (the two servers), ``service_measure`` (plan, meter,
table) and ``service_lifecycles`` (the agents and adapter of phases 1-3).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import uvloop

from acd.client import AcdClient, connect, make_call
from acd.v1 import routing_pb2
from service_lifecycles import answering, latency_phase, lifecycle_phase, settle_collector
from service_measure import Meter, Plan, Row, print_table, run_for
from service_servers import (
    ADAPTER_TOKEN,
    ECHO_SERVICE,
    PARKED_QUEUE,
    ROUTED_QUEUE,
    Process,
    start_echo,
    start_service,
    wait_serving,
    write_config,
)

# Unary EnqueueCall requests serialized ahead of the phase, per second of it: above what the
# echo server answers here (1,500-2,500/s); past them, the rest are serialized as they go.
UNARY_PREPARED_PER_S = 4_000


# --- unary, batch and echo phases ----------------------------------------------------------


def enqueue_request(call_id: str) -> bytes:
    """A unary EnqueueCall request of this bench, serialized."""
    call = make_call(call_id, PARKED_QUEUE, caller="+4930000")
    return routing_pb2.EnqueueCallRequest(call=call).SerializeToString()


def echo_payload() -> bytes:
    """As many bytes as each unary EnqueueCall request of this bench (same id length)."""
    return enqueue_request(unary_call_id("u0-", 0, 0))


def unary_call_id(tag: str, worker: int, k: int) -> str:
    return f"{tag}{worker:02}-{k:07}"


async def echo_unary_phase(channel: grpc.aio.Channel, plan: Plan, echo: Process) -> Row:
    unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        f"/{ECHO_SERVICE}/Unary"
    )
    payload, metadata = echo_payload(), (("authorization", f"Bearer {ADAPTER_TOKEN}"),)

    async def one(worker: int) -> int:
        await unary(payload, metadata=metadata, timeout=10)
        return 1

    with Meter(echo) as meter:
        done = await run_for(plan.seconds, plan.concurrency, one)
    return Row("echo unary", done, meter, f"{plan.concurrency} concurrent")


async def echo_stream_phase(channel: grpc.aio.Channel, plan: Plan, echo: Process) -> Row:
    """Round trips on bidirectional streams, one message in flight per stream."""
    bidi: grpc.aio.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(
        f"/{ECHO_SERVICE}/Stream"
    )
    payload = echo_payload()
    calls = [bidi() for _ in range(plan.concurrency)]

    async def one(worker: int) -> int:
        await calls[worker].write(payload)
        await calls[worker].read()
        return 1

    with Meter(echo) as meter:
        done = await run_for(plan.seconds, plan.concurrency, one)
    for call in calls:
        call.cancel()
    return Row("echo stream round trips", done, meter, f"{plan.concurrency} streams")


async def enqueue_unary_phase(
    channel: grpc.aio.Channel, plan: Plan, server: Process, tag: str
) -> Row:
    """EnqueueCall sent as the echo phase sends its payload: serialized before the phase (each
    with its own call id), the same metadata, the response not parsed. The two phases then
    cost this process the same per call, and differ only in the server (on a machine whose
    cores the load generator shares, its own work would otherwise count against the server).
    """
    unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        "/acd.v1.RoutingService/EnqueueCall"
    )
    metadata = (("authorization", f"Bearer {ADAPTER_TOKEN}"),)
    ahead = int(plan.seconds * UNARY_PREPARED_PER_S) // plan.concurrency + 1
    ready = [
        [enqueue_request(unary_call_id(tag, w, k)) for k in range(ahead)]
        for w in range(plan.concurrency)
    ]
    counters = [0] * plan.concurrency

    async def one(worker: int) -> int:
        k = counters[worker]
        counters[worker] += 1
        prepared = ready[worker]
        payload = prepared[k] if k < ahead else enqueue_request(unary_call_id(tag, worker, k))
        await unary(payload, metadata=metadata, timeout=10)
        return 1

    with Meter(server) as meter:
        done = await run_for(plan.seconds, plan.concurrency, one)
    return Row("EnqueueCall unary", done, meter, f"{plan.concurrency} concurrent")


async def enqueue_batch_phase(adapter: AcdClient, plan: Plan, server: Process) -> Row:
    workers = max(1, plan.concurrency // 8)
    batches = [0] * workers
    refused = 0

    async def one(worker: int) -> int:
        nonlocal refused
        batches[worker] += 1
        prefix = f"b{worker:02}-{batches[worker]:06}-"
        calls = [make_call(f"{prefix}{k}", PARKED_QUEUE) for k in range(plan.batch_size)]
        response = await adapter.enqueue_calls(calls)
        refused += sum(r.HasField("error") for r in response.results)
        return len(response.results)

    with Meter(server) as meter:
        done = await run_for(plan.seconds, workers, one)
    note = f"{workers} concurrent batches of {plan.batch_size}"
    return Row(
        "EnqueueCalls batch (calls)",
        done,
        meter,
        note + (f"; {refused} refused" if refused else ""),
    )


async def unary_rounds(
    rows: list[Row],
    plan: Plan,
    service: Process,
    target: str,
    echo: Process,
    echo_channel: grpc.aio.Channel,
    tag: str = "u",
) -> tuple[float, float]:
    """The echo and EnqueueCall unary phases taking turns (two rounds each in a full run, so
    that drift hits both alike); adds their rows and returns the two rates, EnqueueCall's
    first, each over all its rounds."""
    echo_rows, enqueue_rows = [], []
    async with grpc.aio.insecure_channel(target) as channel:
        for r in range(1 if plan.seconds < 5 else 2):
            echo_rows.append(await echo_unary_phase(echo_channel, plan, echo))
            enqueue_rows.append(await enqueue_unary_phase(channel, plan, service, f"{tag}{r}-"))
    rows += echo_rows + enqueue_rows
    return rate_of(enqueue_rows), rate_of(echo_rows)


def rate_of(rows: list[Row]) -> float:
    return sum(r.count for r in rows) / sum(r.meter.wall for r in rows)


# --- the run -------------------------------------------------------------------------------


@asynccontextmanager
async def servers(
    log_dir: Path, plan: Plan, echo_only: bool
) -> AsyncIterator[tuple[Process, str, Process | None, str]]:
    echo, echo_target = start_echo(log_dir)
    service: Process | None = None
    target = ""
    try:
        if not echo_only:
            service, target = start_service(log_dir, plan.stream_agents)
            await wait_serving(service, target, 60)
        await wait_serving(echo, echo_target, 30)
        yield echo, echo_target, service, target
    except Exception:
        for name in ("service.log", "echo.log"):
            log = log_dir / name
            if log.exists():
                print(f"--- {name} (last lines)", file=sys.stderr)
                print("\n".join(log.read_text().splitlines()[-20:]), file=sys.stderr)
        raise
    finally:
        for process in (service, echo):
            if process is not None:
                process.stop()


async def run(plan: Plan, echo_only: bool) -> dict[str, Any]:
    rows: list[Row] = []
    result: dict[str, Any] = dict.fromkeys(
        (
            "unary_enqueue_ratio",
            "lifecycle_calls_per_s",
            "offer_latency_p99_ms",
            "batch_enqueue_per_s",
            "rss_mb_5k_agent_streams",
            "offer_latency_p99_ms_5k_streams",
        )
    )
    with tempfile.TemporaryDirectory(prefix="acd-bench-") as tmp:
        async with servers(Path(tmp), plan, echo_only) as (echo, echo_target, service, target):
            echo_channel = grpc.aio.insecure_channel(echo_target)
            try:
                if service is None:
                    echo_row = await echo_unary_phase(echo_channel, plan, echo)
                    rows += [echo_row, await echo_stream_phase(echo_channel, plan, echo)]
                    result["echo_unary_per_s"] = round(echo_row.rate)
                else:
                    result |= await run_service(rows, plan, service, target, echo, echo_channel)
            finally:
                await echo_channel.close()
    print_table(rows)
    result["quick"] = plan.seconds < 5
    result["client_cpu_bound_phases"] = [r.phase for r in rows if "GENERATOR" in r.meter.limit()]
    return result


async def run_service(
    rows: list[Row],
    plan: Plan,
    service: Process,
    target: str,
    echo: Process,
    echo_channel: grpc.aio.Channel,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with connect(target, ADAPTER_TOKEN, timeout_s=30) as adapter:
        async with adapter.adapter_stream(keep_decisions=False) as stream:
            engine = await answering(adapter, stream, plan.lifecycle_agents)
            rows.append(await lifecycle_phase(engine, plan, service))
            rate = rows[-1].rate
            out["lifecycle_calls_per_s"] = round(rate, 1)
            row, stats = await latency_phase(engine, rate / 2, plan.seconds, "half-rate", service)
            rows.append(row)
            out["offer_latency_p99_ms"] = round(stats["from_send_p99"], 3)
            out["offer_latency_from_ack_p99_ms"] = round(stats["from_ack_p99"], 3)
            out["offers_before_ack"] = round(stats["before_ack"], 3)

            rss_before = service.rss_mb()
            with Meter(service) as meter:
                more = plan.stream_agents - plan.lifecycle_agents
                await engine.start_agents(plan.lifecycle_agents, more, answer=False)
            await asyncio.sleep(1.0)  # let the streams settle before reading RSS
            settle_collector()
            rss = service.rss_mb()
            note = f"server RSS {rss_before:.0f} -> {rss:.0f} MB"
            rows.append(Row(f"open {more} more agent streams", more, meter, note))
            out["rss_mb_5k_agent_streams"] = round(rss, 1)
            row, stats = await latency_phase(engine, rate / 2, plan.seconds, "5k-streams", service)
            rows.append(row)
            out["offer_latency_p99_ms_5k_streams"] = round(stats["from_send_p99"], 3)
            await engine.stop_agents()
            if engine.errors:
                print(f"note: {engine.errors} lifecycle steps were refused", file=sys.stderr)

        enqueue_rate, echo_rate = await unary_rounds(
            rows, plan, service, target, echo, echo_channel
        )
        out["unary_enqueue_ratio"] = round(enqueue_rate / echo_rate, 3)
        out["enqueue_unary_per_s"] = round(enqueue_rate)
        out["echo_unary_per_s"] = round(echo_rate)
        rows.append(await enqueue_batch_phase(adapter, plan, service))
        out["batch_enqueue_per_s"] = round(rows[-1].rate)
    out |= transport_ceiling(rows, await echo_stream_phase(echo_channel, plan, echo))
    return out


def transport_ceiling(rows: list[Row], echo_stream: Row) -> dict[str, Any]:
    """What the bare transport allows on this machine: the echo server's stream messages per
    second (both ways, client and server on the same cores, as in the lifecycle phase) over
    the gRPC messages a lifecycle takes. No service doing any work can pass it here."""
    rows.append(echo_stream)
    lifecycles = next(r for r in rows if r.phase.startswith("lifecycles"))
    per_lifecycle = lifecycles.messages / max(lifecycles.count, 1)
    echo_messages = 2 * echo_stream.rate
    ceiling = round(echo_messages / per_lifecycle) if per_lifecycle else None
    return {
        "lifecycle_grpc_messages": round(per_lifecycle, 2),
        "echo_stream_messages_per_s": round(echo_messages),
        "lifecycle_echo_ceiling_per_s": ceiling,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases (< 90 s in all)")
    parser.add_argument("--echo-only", action="store_true", help="measure the echo server only")
    parser.add_argument(
        "--write-config",
        metavar="DIR",
        type=Path,
        help="only write the bench tenant's acd.toml into DIR (for bench/locustfile.py)",
    )
    parser.add_argument("--agents", type=int, default=5_000, help="with --write-config")
    parser.add_argument("--port", type=int, default=50051, help="with --write-config")
    args = parser.parse_args()
    if args.write_config is not None:
        args.write_config.mkdir(parents=True, exist_ok=True)
        path = write_config(args.write_config.resolve(), args.port, args.agents)
        print(f"wrote {path}: {args.agents} agents a0..a{args.agents - 1}, queue {ROUTED_QUEUE!r}")
        print(
            f"tokens: {ADAPTER_TOKEN!r}, agent i: 'bench-agent-i'; serve: acd serve --config {path}"
        )
        return
    started = time.perf_counter()
    result = uvloop.run(run(Plan.of(args.quick), args.echo_only))
    result["bench_wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
