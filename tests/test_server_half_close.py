"""A client that closes its side of a bidirectional stream (the adapter's AdapterStream, a
desktop's Session) is done: the server answers every command it sent, then ends the stream,
instead of holding it open until the client cancels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acd.v1 import agent_pb2, common_pb2, routing_pb2
from server_helpers import StreamReader, md, running

T = 5.0


def _all(stream: StreamReader) -> list[Any]:
    seen: list[Any] = []
    for _ in range(100):
        try:
            seen.append(stream.next(T))
        except EOFError:
            return seen
    raise AssertionError("the stream did not end")


def test_an_adapter_stream_ends_after_answering_its_last_command(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        commands = [
            routing_pb2.AdapterStreamRequest(
                correlation_id=f"k{i}",
                enqueue_call=routing_pb2.EnqueueCallRequest(
                    call=common_pb2.Call(call_id=f"h{i}", queue_id="sales")
                ),
            )
            for i in range(5)
        ]
        stream = StreamReader(s.routing.AdapterStream(iter(commands), metadata=md("t-adapter")))
        seen = _all(stream)
        assert stream.error is None  # ended by the server, cleanly
        acks = [m.ack.correlation_id for m in seen if m.HasField("ack")]
        assert sorted(acks) == [f"k{i}" for i in range(5)]


def test_a_session_ends_after_answering_its_last_command(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        requests = [
            agent_pb2.SessionRequest(open=agent_pb2.StreamOffersRequest(agent_id="anna")),
            agent_pb2.SessionRequest(correlation_id="in", login=agent_pb2.LoginRequest()),
        ]
        stream = StreamReader(s.agent.Session(iter(requests), metadata=md("t-anna")))
        seen = _all(stream)
        assert stream.error is None
        results = [m.result for m in seen if m.HasField("result")]
        assert [r.correlation_id for r in results] == ["in"]
        assert results[0].login.agent.state == common_pb2.AGENT_STATE_NOT_READY
