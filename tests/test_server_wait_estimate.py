"""Estimated wait time: the formula and the queue's recent handle times against hand-computed
values, then through the gRPC API on a clock the test sets: EnqueueCall's position and
estimate, GetCallStatus on request, and QueuePositionChanged on the adapter stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from acd.server.clock import Clock
from acd.server.commands import RouterEvent
from acd.server.wait_estimate import HandleTimes, estimate_ms
from acd.v1 import agent_pb2, routing_pb2
from server_helpers import TEST_CONFIG, Stubs, error_of, make_config, md
from server_helpers import running as run_server
from test_server_lifecycle import adapter_stream, enqueue, login_ready, offer_of
from test_server_queue_kpis import FakeWall

T = 5.0
ADAPTER = md("t-adapter")
START = 1_766_390_400_000  # 2025-12-22 08:00 UTC


def event(
    kind: str, at: int, call: str = "", agent: str = "", queue: str = "", detail: str = ""
) -> RouterEvent:
    return RouterEvent(kind, call, agent, queue, at, 0, "", detail)


def test_the_formula_on_hand_computed_values() -> None:
    assert estimate_ms(3, 2, 120_000) == 180_000  # 3 / 2 * 120 s
    assert estimate_ms(1, 4, 100_000) == 25_000
    assert estimate_ms(5, 3, 90_000) == 150_000
    assert estimate_ms(2, 0, 90_000) == 0  # nobody staffs the queue: unknown
    assert estimate_ms(0, 3, 90_000) == 0  # not waiting


def test_recent_handle_times_are_per_queue_talk_plus_wrap_up() -> None:
    handle = HandleTimes()
    assert handle.aht_ms("sales", 180_000) == 180_000  # no history: the default
    script = [
        event("connected", 0, "c1", "anna", "sales"),
        event("ended", 100_000, "c1", "anna", "sales"),
        event("agent-state", 100_000, agent="anna", detail="wrap-up"),
        event("agent-state", 110_000, agent="anna", detail="ready"),  # 100 s + 10 s
        event("connected", 200_000, "c2", "ben", "sales"),
        event("transferred", 320_000, "c2", "", "support"),  # ben's part ends at the transfer
        event("agent-state", 320_000, agent="ben", detail="wrap-up"),
        event("agent-state", 330_000, agent="ben", detail="not-ready"),  # 120 s + 10 s
        event("connected", 400_000, "c3", "anna", "support"),
        event("ended", 430_000, "c3", "anna", "support"),
        event("agent-state", 430_000, agent="anna", detail="ready"),  # no wrap-up: 30 s
    ]
    for e in script:
        handle.observe(e)
    assert handle.aht_ms("sales", 180_000) == 120_000  # (110 s + 130 s) / 2
    assert handle.aht_ms("support", 180_000) == 30_000  # its own calls only


CONFIG = TEST_CONFIG.replace('id = "support"\n', 'id = "support"\ndefault_handle_s = 100\n', 1)


def finish(s: Stubs, call_id: str) -> None:
    request = agent_pb2.FinishWrapUpRequest(
        agent_id="anna", call_id=call_id, disposition_code="done"
    )
    s.agent.FinishWrapUp(request, metadata=md("t-anna"), timeout=T)


def status(s: Stubs, call_id: str) -> Any:
    request = routing_pb2.GetCallStatusRequest(call_id=call_id)
    return s.routing.GetCallStatus(request, metadata=ADAPTER, timeout=T)


def position_of(call_id: str) -> Any:
    return lambda m: m.HasField("position") and m.position.call_id == call_id


def test_estimates_on_enqueue_on_request_and_on_the_adapter_stream(tmp_path: Path) -> None:
    wall = FakeWall(START)
    with run_server(tmp_path, make_config(CONFIG), clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        first = enqueue(s, "s1", queue="support")
        assert (first.position, first.estimated_wait_ms) == (0, 0)  # offered at once
        second = enqueue(s, "s2", queue="support")
        # One agent staffs support (ringing), no history: 1 / 1 * 100 s (default_handle_s).
        assert (second.position, second.estimated_wait_ms) == (1, 100_000)
        anna.until(offer_of)
        s.agent.AcceptOffer(
            agent_pb2.AcceptOfferRequest(agent_id="anna", call_id="s1"),
            metadata=md("t-anna"),
            timeout=T,
        )
        wall.ms += 60_000
        s.routing.EndCall(routing_pb2.EndCallRequest(call_id="s1"), metadata=ADAPTER, timeout=T)
        wall.ms += 20_000
        finish(s, "s1")  # s1 took 60 s talk + 20 s wrap-up; s2 is offered to anna now
        assert anna.until(offer_of).offer.offer.call_id == "s2"

        adapter, commands = adapter_stream(s)
        third = enqueue(s, "s3", queue="support")
        fourth = enqueue(s, "s4", queue="support")
        assert (third.position, third.estimated_wait_ms) == (1, 80_000)
        assert (fourth.position, fourth.estimated_wait_ms) == (2, 160_000)
        announced = adapter.until(position_of("s4")).position
        assert (announced.queue_id, announced.position) == ("support", 2)
        assert announced.estimated_wait_ms == 160_000

        asked = status(s, "s4")
        assert (asked.position, asked.estimated_wait_ms, asked.queue_id) == (2, 160_000, "support")
        # s3's caller hangs up: s4 moves up, and the adapter hears it.
        s.routing.CancelCall(
            routing_pb2.CancelCallRequest(call_id="s3"), metadata=ADAPTER, timeout=T
        )
        moved = adapter.until(position_of("s4")).position
        assert (moved.position, moved.estimated_wait_ms) == (1, 80_000)
        assert status(s, "s2").position == 0  # offered, not waiting
        missing = error_of(lambda: status(s, "nope"))
        assert missing.code() == grpc.StatusCode.NOT_FOUND
        assert error_of(lambda: status(s, "")).code() == grpc.StatusCode.INVALID_ARGUMENT
        commands.put(None)
        adapter.close()
        anna.close()
