"""Dispositions (acd.server.dispositions): FinishWrapUp checks the code against the call's
queue (catalogue, required) before the router sees it, on the unary RPC and on the Session
stream alike, and stores code and notes on the contact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc

from acd.server.clock import Clock
from acd.v1 import agent_pb2, common_pb2, supervision_pb2
from history_helpers import (
    SUP,
    FakeWall,
    accept,
    config,
    contacts,
    end,
    enqueue,
    login_ready,
    next_offer,
    wrap_up,
)
from server_helpers import StreamReader, Stubs, error_of, md, running


def _in_wrap_up(s: Stubs, stream: StreamReader, call_id: str, queue: str = "sales") -> None:
    enqueue(s, call_id, queue, caller_number="+4930111")
    assert next_offer(stream).offer.call_id == call_id
    accept(s, "anna", call_id)
    end(s, call_id)


def _state(s: Stubs) -> int:
    agents = s.supervision.ListAgents(supervision_pb2.ListAgentsRequest(), metadata=SUP).agents
    state: int = next(a.state for a in agents if a.agent_id == "anna")
    return state


def test_a_required_disposition_is_refused_when_missing_or_unknown(tmp_path: Path) -> None:
    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        anna = login_ready(s, "anna")
        _in_wrap_up(s, anna, "c1")

        missing = error_of(lambda: wrap_up(s, "anna", "c1"))
        assert missing.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert str(missing.details()).startswith("disposition_code: required by queue 'sales'")

        unknown = error_of(lambda: wrap_up(s, "anna", "c1", "maybe"))
        assert unknown.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert str(unknown.details()).startswith("disposition_code: unknown code 'maybe'")
        assert "sold, no-interest" in str(unknown.details())

        control = error_of(lambda: wrap_up(s, "anna", "c1", "so\x00ld"))
        assert control.code() == grpc.StatusCode.INVALID_ARGUMENT
        long_notes = error_of(lambda: wrap_up(s, "anna", "c1", "sold", "x" * 4001))
        assert long_notes.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert str(long_notes.details()).startswith("notes:")

        # Nothing reached the router: still in wrap-up, and a valid code finishes it.
        assert _state(s) == common_pb2.AGENT_STATE_WRAP_UP
        done = wrap_up(s, "anna", "c1", "no-interest", "call again in May")
        assert done.agent.state == common_pb2.AGENT_STATE_READY
    [row] = contacts(tmp_path / "data")
    assert (row["disposition"], row["notes"]) == ("no-interest", "call again in May")


def test_a_queue_without_a_catalogue_takes_any_code_or_none(tmp_path: Path) -> None:
    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        anna = login_ready(s, "anna")
        _in_wrap_up(s, anna, "c1", "support")
        wrap_up(s, "anna", "c1", "free-form-code", "fine")
        _in_wrap_up(s, anna, "c2", "support")
        wrap_up(s, "anna", "c2")
    rows = {r["call_id"]: r for r in contacts(tmp_path / "data")}
    assert (rows["c1"]["disposition"], rows["c1"]["notes"]) == ("free-form-code", "fine")
    assert rows["c2"]["disposition"] == ""


def test_a_refused_wrap_up_stores_nothing(tmp_path: Path) -> None:
    """The router refuses a wrap-up of a call the agent is not wrapping up: the code the
    request carried must not land on that call's record, now or with a later wrap-up."""
    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        anna = login_ready(s, "anna")
        _in_wrap_up(s, anna, "c1", "support")
        wrap_up(s, "anna", "c1", "first")
        # The call is no longer the agent's: NOT_FOUND, as for a call it never had.
        refused = error_of(lambda: wrap_up(s, "anna", "c1", "second"))
        assert refused.code() == grpc.StatusCode.NOT_FOUND
        unknown = error_of(lambda: wrap_up(s, "anna", "nope", "sold"))
        assert unknown.code() == grpc.StatusCode.NOT_FOUND
    [row] = contacts(tmp_path / "data")
    assert row["disposition"] == "first"


def test_the_session_stream_checks_and_stores_dispositions_too(tmp_path: Path) -> None:
    import queue

    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        anna = login_ready(s, "anna")
        _in_wrap_up(s, anna, "c1")
        commands: queue.Queue[agent_pb2.SessionRequest | None] = queue.Queue()

        def requests() -> Iterator[agent_pb2.SessionRequest]:
            while (item := commands.get()) is not None:
                yield item

        session = StreamReader(s.agent.Session(requests(), metadata=md("t-anna")))
        try:
            commands.put(
                agent_pb2.SessionRequest(
                    correlation_id="open", open=agent_pb2.StreamOffersRequest(agent_id="anna")
                )
            )
            bad = agent_pb2.FinishWrapUpRequest(call_id="c1", disposition_code="maybe")
            commands.put(agent_pb2.SessionRequest(correlation_id="bad", finish_wrap_up=bad))
            result = session.until(
                lambda m: m.HasField("result") and m.result.correlation_id == "bad"
            ).result
            assert result.error.code == common_pb2.ERROR_CODE_INVALID_ARGUMENT
            assert result.error.field == "finish_wrap_up.disposition_code"
            good = agent_pb2.FinishWrapUpRequest(call_id="c1", disposition_code="sold")
            commands.put(agent_pb2.SessionRequest(correlation_id="good", finish_wrap_up=good))
            result = session.until(
                lambda m: m.HasField("result") and m.result.correlation_id == "good"
            ).result
            assert not result.HasField("error")
        finally:
            commands.put(None)
            session.close()
    [row] = contacts(tmp_path / "data")
    assert row["disposition"] == "sold"
