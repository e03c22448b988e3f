"""The service's limits under load: the cap on RPCs in flight (``server.max_concurrent_rpcs``)
and the token bucket per identity (``server.rate_limit``).

What is over a limit gets RESOURCE_EXHAUSTED and changes nothing; what is within it is served as
usual, and health stays SERVING throughout. RPCs are held in flight with ``JournalGate`` (their
commit waits for the test), not by timing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

from acd.v1 import common_pb2, routing_pb2, supervision_pb2
from journal_gate import JournalGate
from server_helpers import TEST_CONFIG, WAIT_S, StreamReader, Stubs, code_of, make_config, running

T = 5.0
ADAPTER = (("authorization", "Bearer t-adapter"),)
SUPERVISOR = (("authorization", "Bearer t-supervisor"),)
OTHER_ADAPTER = (("authorization", "Bearer t-other-adapter"),)


def _enqueue_request(call_id: str, queue: str = "sales") -> routing_pb2.EnqueueCallRequest:
    return routing_pb2.EnqueueCallRequest(call=common_pb2.Call(call_id=call_id, queue_id=queue))


def _waiting_ids(s: Stubs) -> list[str]:
    listed = s.supervision.ListWaitingCalls(
        supervision_pb2.ListWaitingCallsRequest(), metadata=SUPERVISOR, timeout=T
    )
    return [c.call_id for c in listed.calls]


def _serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(), timeout=T).status
        return bool(status == health_pb2.HealthCheckResponse.SERVING)


def _stats_stream(s: Stubs) -> StreamReader:
    """A queue-stats stream known to be running: its first figures have arrived."""
    stream = StreamReader(
        s.supervision.StreamQueueStats(
            supervision_pb2.StreamQueueStatsRequest(queue_ids=["sales"]), metadata=SUPERVISOR
        )
    )
    assert stream.next().stats.queue_id == "sales"
    return stream


def _until_served(fn: Any) -> None:
    """Retries ``fn`` while it is refused for the cap (a closed stream leaves the count a
    moment after the client cancels it); bounded."""
    deadline = time.monotonic() + WAIT_S
    while (code := code_of(fn)) == grpc.StatusCode.RESOURCE_EXHAUSTED:
        assert time.monotonic() < deadline, "still refused"
        time.sleep(0.02)
    assert code is None


def test_cap_on_rpcs_in_flight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capped = TEST_CONFIG.replace("max_message_bytes = 65536", "max_concurrent_rpcs = 3")
    config = make_config(capped)
    assert config.server.max_concurrent_rpcs == 3
    with running(tmp_path, config) as (server, s):
        gate = JournalGate(server, monkeypatch)
        held = [
            s.routing.EnqueueCall.future(_enqueue_request(f"h{i}"), metadata=ADAPTER)
            for i in range(3)
        ]
        gate.wait_applied("store", ["h0", "h1", "h2"])  # none acknowledged: the cap is full

        over = code_of(
            lambda: s.routing.EnqueueCall(_enqueue_request("x1"), metadata=ADAPTER, timeout=T)
        )
        assert over == grpc.StatusCode.RESOURCE_EXHAUSTED
        # The cap is global: another identity, another service, a stream are refused too.
        assert code_of(lambda: _waiting_ids(s)) == grpc.StatusCode.RESOURCE_EXHAUSTED
        refused_stream = StreamReader(
            s.supervision.StreamQueueStats(
                supervision_pb2.StreamQueueStatsRequest(), metadata=SUPERVISOR
            )
        )
        with pytest.raises(EOFError):
            refused_stream.next()
        assert refused_stream.error is not None
        assert refused_stream.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert _serving(server.address)  # health is outside every limit

        gate.release()
        assert [f.result(WAIT_S).duplicate for f in held] == [False, False, False]
        assert sorted(_waiting_ids(s)) == ["h0", "h1", "h2"]  # x1 changed nothing

        # Streams count while they are open.
        streams = [_stats_stream(s) for _ in range(3)]
        assert code_of(lambda: _waiting_ids(s)) == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert _serving(server.address)
        streams.pop().close()
        _until_served(lambda: _waiting_ids(s))
        # The streams still open were served all along: they get the next figures.
        s.routing.EnqueueCall(_enqueue_request("after"), metadata=ADAPTER, timeout=T)
        for stream in streams:
            stream.until(lambda m: m.stats.waiting == 4)
            stream.close()
        assert _serving(server.address)


def test_rate_limit_per_identity(tmp_path: Path) -> None:
    limited = TEST_CONFIG.replace(
        "requests_per_second = 0", "requests_per_second = 0.001\nburst = 5"
    )
    with running(tmp_path, make_config(limited)) as (server, s):
        # Eight at once from one identity: the burst is served, the rest refused.
        futures = [
            s.routing.EnqueueCall.future(_enqueue_request(f"r{i}"), metadata=ADAPTER, timeout=T)
            for i in range(8)
        ]
        codes = [code_of(f.result) for f in futures]
        assert codes.count(None) == 5
        assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 3
        served = sorted(f"r{i}" for i, code in enumerate(codes) if code is None)
        assert sorted(_waiting_ids(s)) == served  # the refused ones changed nothing
        # Other identities have buckets of their own; health has no bucket at all.
        request = _enqueue_request("o1", "other-sales")
        assert (
            code_of(lambda: s.routing.EnqueueCall(request, metadata=OTHER_ADAPTER, timeout=T))
            is None
        )
        assert _serving(server.address)
        again = _enqueue_request("r-again")
        refused = code_of(lambda: s.routing.EnqueueCall(again, metadata=ADAPTER, timeout=T))
        assert refused == grpc.StatusCode.RESOURCE_EXHAUSTED
