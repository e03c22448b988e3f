"""Graceful shutdown, watched from outside while it happens: health goes NOT_SERVING, every
stream ends, a unary RPC in flight still gets its answer, and the final snapshot covers the
journal's last entry.

The RPC is held in flight by ``JournalGate`` (its commit waits for the test), so the order of
events is forced rather than timed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

from acd.server.recovery import recover
from acd.v1 import common_pb2, routing_pb2, supervision_pb2
from journal_gate import JournalGate
from server_helpers import StreamReader, md, running
from test_server_lifecycle import adapter_stream, enqueue, login_ready, offer_of

T = 5.0
HealthStatus = health_pb2.HealthCheckResponse


def _ends(stream: StreamReader) -> list[Any]:
    """Reads ``stream`` to its end (bounded); gives what came before it."""
    seen = []
    for _ in range(1000):
        try:
            seen.append(stream.next())
        except EOFError:
            return seen
    raise AssertionError("the stream did not end")


def test_stop_drains_streams_finishes_rpcs_and_snapshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(tmp_path) as (server, s):
        assert server.server is not None
        app = server.server
        health = health_pb2_grpc.HealthStub(grpc.insecure_channel(server.address))
        watch = StreamReader(health.Watch(health_pb2.HealthCheckRequest(service="")))
        assert watch.next().status == HealthStatus.SERVING
        anna = login_ready(s, "anna")
        enqueue(s, "offered-1")
        assert anna.until(offer_of).offer.offer.call_id == "offered-1"
        adapter, commands = adapter_stream(s)
        stats = StreamReader(
            s.supervision.StreamQueueStats(
                supervision_pb2.StreamQueueStatsRequest(), metadata=md("t-supervisor")
            )
        )
        stats.next()

        gate = JournalGate(server, monkeypatch)
        call = common_pb2.Call(call_id="in-flight", queue_id="sales")
        held = s.routing.EnqueueCall.future(
            routing_pb2.EnqueueCallRequest(call=call), metadata=md("t-adapter"), timeout=30
        )
        gate.wait_applied("store", ["in-flight"])
        stopping = asyncio.run_coroutine_threadsafe(app.stop(grace_s=30), gate.loop)

        # Health watchers hear it first (their stream stays open until the grace period ends).
        watch.until(lambda m: m.status == HealthStatus.NOT_SERVING)
        for stream in (anna, adapter, stats):
            _ends(stream)
            assert stream.error is None, stream.error  # ended by the server, cleanly
        assert not held.done()  # still waiting for its commit: the shutdown waits for it too
        assert not stopping.done()

        gate.release()
        assert not held.result(T).duplicate  # answered, not cut off
        # A health watcher would hold the server for the whole grace period: it goes too.
        watch.close()
        commands.put(None)
        stopping.result(T)

    journal = app.journal
    last = journal.last_seq("store")
    assert last > 0 and journal.snapshot_seqs("store")[-1] == last  # the final snapshot
    router = recover(journal, "store").router
    info = router.call_info("in-flight")
    assert info is not None and info["state"] == "waiting"
    assert router.call_info("offered-1") is not None


def test_a_health_watcher_does_not_hold_the_shutdown(tmp_path: Path) -> None:
    with running(tmp_path) as (server, _):
        assert server.server is not None
        health = health_pb2_grpc.HealthStub(grpc.insecure_channel(server.address))
        watch = StreamReader(health.Watch(health_pb2.HealthCheckRequest(service="")))
        assert watch.next().status == HealthStatus.SERVING
        loop: asyncio.AbstractEventLoop = server.call(_running_loop)
        stopping = asyncio.run_coroutine_threadsafe(server.server.stop(grace_s=30), loop)
        watch.until(lambda m: m.status == HealthStatus.NOT_SERVING)
        try:
            stopping.result(T)  # nothing in flight but the watcher: done long before the grace
            _ends(watch)  # and the watcher was told so by the end of its stream
        finally:
            watch.close()
            stopping.result(T)


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
