"""Callbacks through the gRPC API (acd.server.callbacks, callback_suggestions): a waiting caller
who asks to be called back keeps their place; the PBX is told which number to dial; a callback
whose customer was not reached is retried after the queue's gap, up to its attempts; callers
are suggested a callback after waiting N seconds or when their estimated wait is long."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc

from acd.server.clock import Clock
from acd.server.config import Config, ConfigError
from acd.v1 import agent_pb2, common_pb2, reports_pb2, routing_pb2
from history_helpers import (
    ADAPTER,
    CONFIG,
    MONDAY_10,
    SUP,
    FakeWall,
    accept,
    contacts,
    enqueue,
    login_ready,
    next_offer,
    wrap_up,
)
from server_helpers import Stubs, error_of, make_config, md, running
from test_server_lifecycle import adapter_stream

T = 5.0
ANN, BOB = "+4930111", "+4930222"
CALLBACKS = ("c1-cb", "c1-cb-retry2")


def config(**sales: Any) -> Config:
    options = {"callback_max_attempts": 3, "callback_retry_gap_s": 300, **sales}
    lines = "".join(f"{key} = {value}\n" for key, value in options.items())
    text = CONFIG.replace("missed_callback_within_s = 180\n", lines)
    assert text != CONFIG
    return make_config(text)


def request_callback(s: Stubs, original: str, callback_id: str, **call: Any) -> Any:
    request = routing_pb2.RequestCallbackRequest(
        callback=common_pb2.Call(call_id=callback_id, **call), original_call_id=original
    )
    return s.routing.RequestCallback(request, metadata=ADAPTER, timeout=T)


def status(s: Stubs, call_id: str) -> routing_pb2.GetCallStatusResponse:
    request = routing_pb2.GetCallStatusRequest(call_id=call_id)
    return s.routing.GetCallStatus(request, metadata=ADAPTER, timeout=T)


def end(s: Stubs, call_id: str, result: int = 0) -> routing_pb2.EndCallResponse:
    request = routing_pb2.EndCallRequest(call_id=call_id, callback_result=result)  # type: ignore[arg-type]
    return s.routing.EndCall(request, metadata=ADAPTER, timeout=T)


def of(kind: str) -> Any:
    return lambda m: m.HasField(kind)


def test_a_waiting_caller_keeps_their_place_as_a_callback(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        adapter, _commands = adapter_stream(s)
        for i, (call_id, number) in enumerate([("c1", ANN), ("c2", BOB), ("c3", "+4930333")]):
            enqueue(s, call_id, caller_number=number, attributes={"order": str(i)})
            wall.ms += 1_000
        wall.ms += 20_000
        assert status(s, "c2").position == 2
        answer = request_callback(s, "c2", "c2-cb")
        assert (answer.duplicate, answer.scheduled_at_ms) == (False, 0)
        finished = adapter.until(of("finished")).finished
        assert (finished.call_id, finished.outcome) == (
            "c2",
            common_pb2.CALL_OUTCOME_CALLBACK_REQUESTED,
        )
        # The callback holds the caller's place: second, behind c1 and ahead of c3.
        callback = status(s, "c2-cb")
        assert (callback.position, callback.queue_id) == (2, "sales")
        assert status(s, "c3").position == 3
        assert error_of(lambda: status(s, "c2")).code() == grpc.StatusCode.NOT_FOUND
        assert request_callback(s, "c2", "c2-cb").duplicate  # the adapter's retry
        assert status(s, "c2-cb").position == 2

        anna = login_ready(s, "anna")
        first = next_offer(anna)
        assert first.offer.call_id == "c1"
        accept(s, "anna", "c1")
        end(s, "c1")
        wrap_up(s, "anna", "c1", "sold")
        offer = next_offer(anna)
        assert (offer.offer.call_id, offer.offer.channel) == ("c2-cb", common_pb2.CHANNEL_CALLBACK)
        assert dict(offer.screen_pop.attributes)["order"] == "1"
        accept(s, "anna", "c2-cb")
        connected = adapter.until(
            lambda m: m.HasField("connected") and m.connected.call_id == "c2-cb"
        )
        assert (connected.connected.dial_number, connected.connected.callback_attempt) == (BOB, 1)
        wall.ms += 60_000
        ended = end(s, "c2-cb", common_pb2.CALLBACK_RESULT_REACHED)
        assert ended.retry_call_id == ""
        wrap_up(s, "anna", "c2-cb", "sold")
        adapter.close()
        anna.close()
    rows = {r["call_id"]: r for r in contacts(tmp_path / "data")}
    assert rows["c2"]["outcome"] == "callback-requested"
    assert rows["c2"]["missed"] == 0
    assert (rows["c2-cb"]["channel"], rows["c2-cb"]["callback_for"]) == ("callback", "c2")
    assert rows["c2-cb"]["caller_number"] == BOB
    assert rows["c2-cb"]["outcome"] == "completed"
    assert (rows["c2-cb"]["callback_attempt"], rows["c2-cb"]["callback_result"]) == (1, "reached")
    assert (rows["c1"]["callback_attempt"], rows["c1"]["callback_result"]) == (0, "")


def test_callback_in_place_errors(tmp_path: Path) -> None:
    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        enqueue(s, "c1", caller_number=ANN)
        enqueue(s, "anon")  # no caller number

        def refused(original: str, callback_id: str, **call: Any) -> tuple[Any, str]:
            e = error_of(lambda: request_callback(s, original, callback_id, **call))
            return e.code(), str(e.details())

        invalid = grpc.StatusCode.INVALID_ARGUMENT
        unknown = refused("nope", "x-cb")
        assert unknown == (grpc.StatusCode.NOT_FOUND, "original_call_id 'nope': unknown call")
        code, details = refused("c1", "c1-cb", queue_id="support")
        assert (code, details.split(":")[0]) == (invalid, "callback.queue_id")
        code, details = refused("c1", "anon")
        assert (code, details) == (invalid, "callback.call_id: 'anon' is the id of another call")
        code, details = refused("anon", "anon-cb")
        assert details.startswith("callback.caller_number: required")
        assert refused("c1", "") == (invalid, "callback.call_id: required")
        # The anonymous caller may still say which number to call.
        request_callback(s, "anon", "anon-cb", caller_number=BOB)
        assert refused("anon-cb", "again") == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "call 'anon-cb' is a callback already",
        )
        anna = login_ready(s, "anna")
        assert next_offer(anna).offer.call_id == "c1"
        accept(s, "anna", "c1")
        assert refused("c1", "late-cb") == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "call 'c1' is connected: a callback replaces a waiting call",
        )
        bad = routing_pb2.EndCallRequest(call_id="c1", callback_result=99)  # type: ignore[arg-type]
        error = error_of(lambda: s.routing.EndCall(bad, metadata=ADAPTER, timeout=T))
        assert error.details() == "callback_result: unknown callback result 99"
        assert status(s, "c1").state == common_pb2.CALL_STATE_CONNECTED  # nothing changed
        anna.close()


def test_a_callback_not_reached_is_retried_after_the_gap(tmp_path: Path) -> None:
    wall = FakeWall()
    cfg = config(callback_max_attempts=2, callback_retry_gap_s=600)
    with running(tmp_path, cfg, clock=Clock(wall)) as (_, s):
        enqueue(s, "c1", caller_number=ANN)
        request_callback(s, "c1", "c1-cb")
        anna = login_ready(s, "anna")
        assert next_offer(anna).offer.call_id == "c1-cb"
        accept(s, "anna", "c1-cb")
        wall.ms += 30_000
        retry = end(s, "c1-cb", common_pb2.CALLBACK_RESULT_NO_ANSWER)
        assert (retry.retry_call_id, retry.retry_at_ms) == ("c1-cb-retry2", wall.ms + 600_000)
        wrap_up(s, "anna", "c1-cb", "no-interest")
        scheduled = status(s, "c1-cb-retry2")
        assert (scheduled.scheduled_at_ms, scheduled.queue_id) == (wall.ms + 600_000, "sales")
        s.agent.Logout(agent_pb2.LogoutRequest(agent_id="anna"), metadata=md("t-anna"), timeout=T)
        anna.close()

    wall.ms += 601_000  # the retry is due; it survives the restart
    with running(tmp_path, cfg, clock=Clock(wall)) as (_, s):
        adapter, _commands = adapter_stream(s)
        anna = login_ready(s, "anna")
        offer = next_offer(anna)
        assert offer.offer.call_id == "c1-cb-retry2"
        assert dict(offer.screen_pop.attributes) == {
            "callback_attempt": "2",
            "callback_first": "c1-cb",
            "callback_for": "c1",
        }
        accept(s, "anna", "c1-cb-retry2")
        connected = adapter.until(of("connected")).connected
        assert (connected.dial_number, connected.callback_attempt) == (ANN, 2)
        # The last attempt: busy again, and no third try.
        last = end(s, "c1-cb-retry2", common_pb2.CALLBACK_RESULT_BUSY)
        assert (last.retry_call_id, last.retry_at_ms) == ("", 0)
        wrap_up(s, "anna", "c1-cb-retry2", "no-interest")
        export = reports_pb2.ExportCdrsRequest(from_ms=MONDAY_10, to_ms=wall.ms + 1)
        cdrs = {m.cdr.call_id: m.cdr for m in s.reports.ExportCdrs(export, metadata=SUP)}
        assert [(cdrs[c].callback_attempt, cdrs[c].callback_result) for c in CALLBACKS] == [
            (1, "no-answer"),
            (2, "busy"),
        ]
        assert (cdrs["c1"].outcome, cdrs["c1"].callback_attempt) == ("callback-requested", 0)
        adapter.close()
        anna.close()
    rows = {r["call_id"]: r for r in contacts(tmp_path / "data")}
    assert rows["c1-cb-retry2"]["callback_for"] == "c1"
    assert rows["c1-cb-retry2"]["channel"] == "callback"
    attempts = [(rows[c]["callback_attempt"], rows[c]["callback_result"]) for c in CALLBACKS]
    assert attempts == [(1, "no-answer"), (2, "busy")]


def test_a_failed_number_is_not_retried_and_a_voice_call_ignores_the_result(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        enqueue(s, "c1", caller_number=ANN)
        request_callback(s, "c1", "c1-cb")
        enqueue(s, "v1", caller_number=BOB)
        anna = login_ready(s, "anna")
        next_offer(anna)
        accept(s, "anna", "c1-cb")
        assert end(s, "c1-cb", common_pb2.CALLBACK_RESULT_FAILED).retry_call_id == ""
        wrap_up(s, "anna", "c1-cb", "no-interest")
        assert next_offer(anna).offer.call_id == "v1"
        accept(s, "anna", "v1")
        assert end(s, "v1", common_pb2.CALLBACK_RESULT_NO_ANSWER).retry_call_id == ""
        anna.close()


def test_callers_are_suggested_a_callback_after_waiting_or_for_a_long_wait(
    tmp_path: Path,
) -> None:
    cfg = config(callback_offer_after_s=0.3, callback_offer_ewt_above_s=60, default_handle_s=300)
    started = time.monotonic()  # a clock that runs, for the 0.3 s timer, on a Monday morning
    clock = Clock(lambda: MONDAY_10 / 1000 + time.monotonic() - started)
    with running(tmp_path, cfg, clock=clock) as (_, s):
        adapter, _commands = adapter_stream(s)
        enqueue(s, "w1", caller_number=ANN)  # nobody staffs the queue: the wait is unknown
        suggested = adapter.until(of("callback_suggested")).callback_suggested
        assert (suggested.call_id, suggested.queue_id) == ("w1", "sales")
        assert suggested.reason == common_pb2.CALLBACK_SUGGESTION_REASON_WAITED
        anna = login_ready(s, "anna")  # w1 rings anna: she staffs the queue now
        assert next_offer(anna).offer.call_id == "w1"
        # One agent, 300 s per call: the next caller's estimate is 300 s, above 60 s.
        answer = enqueue(s, "w2", caller_number=BOB)
        assert answer.estimated_wait_ms == 300_000
        long_wait = adapter.until(of("callback_suggested")).callback_suggested
        assert (long_wait.call_id, long_wait.estimated_wait_ms) == ("w2", 300_000)
        assert long_wait.reason == common_pb2.CALLBACK_SUGGESTION_REASON_LONG_WAIT
        request_callback(s, "w2", "w2-cb")  # the caller took it
        assert status(s, "w2-cb").position == 1
        adapter.close()
        anna.close()


def test_callback_options_are_checked_naming_the_key() -> None:
    for key, value, why in [
        ("callback_max_attempts", 0, "callback_max_attempts"),
        ("callback_max_attempts", 11, "callback_max_attempts"),
        ("callback_retry_gap_s", 0.5, "callback_retry_gap_s: must be at least 1 s"),
        ("callback_offer_after_s", -1, "callback_offer_after_s"),
    ]:
        try:
            config(**{key: value})
        except ConfigError as e:
            assert why in str(e), str(e)
        else:
            raise AssertionError(f"{key} = {value} was accepted")
