"""Screen pops from the contact history (acd.server.screen_pop): by call and by caller number,
every field of acd.v1.ScreenPop, on the agent's offer and through CrmService."""

from __future__ import annotations

from pathlib import Path

import grpc

from acd.server.clock import Clock
from acd.v1 import common_pb2, crm_pb2, routing_pb2
from history_helpers import (
    ADAPTER,
    CRM,
    DAY_MS,
    HOUR_MS,
    MONDAY_10,
    FakeWall,
    config,
    enqueue,
    finish,
    handle,
    login_ready,
    next_offer,
    pop_of_call,
    pop_of_number,
)
from server_helpers import code_of, error_of, md, running

ANN = "+4930111"


def _links(pop: common_pb2.ScreenPop) -> list[str]:
    return [link.title for link in pop.knowledge_base_links]


def test_a_callers_history_in_the_offer_and_the_crm_pop(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "c1", caller_number=ANN, dialled_number="+49800100200")
        first = next_offer(anna).screen_pop
        assert (first.call_id, first.caller_number, first.campaign) == ("c1", ANN, "radio")
        assert first.first_time_caller
        assert (first.calls_today, first.calls_30_days) == (1, 1)  # this one included
        assert (first.last_agent_id, first.last_disposition, first.last_call_at_ms) == ("", "", 0)
        assert _links(first) == ["Sales script", "Radio offer"]
        start = wall.ms
        finish(s, "anna", "c1", "sold", wall)

        wall.ms += HOUR_MS
        enqueue(
            s, "c2", caller_number=ANN, dialled_number="0800-555", attributes={"topic": "returns"}
        )
        second = next_offer(anna).screen_pop
        assert not second.first_time_caller
        assert (second.calls_today, second.calls_30_days) == (2, 2)
        assert (second.last_agent_id, second.last_disposition) == ("anna", "sold")
        assert (second.last_campaign, second.last_call_at_ms) == ("radio", start)
        assert second.campaign == "flyer"
        assert dict(second.attributes) == {"topic": "returns"}
        assert _links(second) == ["Sales script", "Returns policy"]
        assert pop_of_call(s, "c2") == second  # the CRM sees what the agent saw

        # The first call, finished, is still found; its history is what came before it.
        old = pop_of_call(s, "c1")
        assert (old.call_id, old.campaign, old.first_time_caller) == ("c1", "radio", True)
        assert old.last_call_at_ms == 0

        by_number = pop_of_number(s, ANN)
        assert (by_number.call_id, by_number.caller_number) == ("", ANN)
        assert (by_number.calls_today, by_number.last_campaign) == (2, "flyer")
        assert by_number.last_agent_id == "anna"  # c1: c2 is not answered yet
        assert not by_number.first_time_caller


def test_today_is_the_queues_local_day_and_the_repeat_window_is_configured(
    tmp_path: Path,
) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "old", caller_number=ANN)
        handle(s, anna, "anna", "old", "sold", wall)
        wall.ms = MONDAY_10 + 7 * DAY_MS + 13 * HOUR_MS + HOUR_MS // 2  # Mon 22:30 UTC
        enqueue(s, "late", "support", caller_number=ANN)
        late = pop_of_call(s, "late")
        assert late.first_time_caller  # "old" is 7.5 days back: past the 7-day window
        assert (late.calls_today, late.calls_30_days) == (1, 2)
        assert (late.last_agent_id, late.last_disposition) == ("anna", "sold")

        wall.ms += HOUR_MS  # 23:30 UTC: already Tuesday in Berlin, the sales queue's zone
        enqueue(s, "new", caller_number=ANN)
        new = pop_of_call(s, "new")
        assert not new.first_time_caller
        assert (new.calls_today, new.calls_30_days) == (1, 3)
        assert new.last_call_at_ms == MONDAY_10 + 7 * DAY_MS + 13 * HOUR_MS + HOUR_MS // 2


def test_open_callbacks_of_the_number(tmp_path: Path) -> None:
    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        callback = common_pb2.Call(call_id="cb1", queue_id="support", caller_number=ANN)
        request = routing_pb2.RequestCallbackRequest(callback=callback)
        s.routing.RequestCallback(request, metadata=ADAPTER, timeout=5)
        enqueue(s, "c1", "support", caller_number="+4930999")
        [open_callback] = pop_of_number(s, ANN).open_callbacks
        assert (open_callback.call_id, open_callback.queue_id) == ("cb1", "support")
        assert open_callback.callback_number == ANN
        assert open_callback.requested_at_ms > 0
        assert list(pop_of_number(s, "+4930999").open_callbacks) == []
        assert pop_of_number(s, "+4930000").first_time_caller


def test_screen_pop_errors(tmp_path: Path) -> None:
    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        unknown = error_of(lambda: pop_of_call(s, "nope"))
        assert unknown.code() == grpc.StatusCode.NOT_FOUND
        assert unknown.details() == "call_id 'nope': unknown call"
        empty = error_of(lambda: s.crm.GetScreenPop(crm_pb2.GetScreenPopRequest(), metadata=CRM))
        assert empty.code() == grpc.StatusCode.INVALID_ARGUMENT
        blank = error_of(lambda: pop_of_number(s, "\x01"))
        assert blank.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert str(blank.details()).startswith("caller_number:")
        enqueue(s, "c1", "support", caller_number=ANN)
        by_number = crm_pb2.GetScreenPopRequest(caller_number=ANN)
        agent = md("t-anna")
        assert code_of(lambda: s.crm.GetScreenPop(by_number, metadata=agent)) == (
            grpc.StatusCode.PERMISSION_DENIED
        )
        by_call = crm_pb2.GetScreenPopRequest(call_id="c1")
        assert code_of(lambda: s.crm.GetScreenPop(by_call, metadata=agent)) == (
            grpc.StatusCode.NOT_FOUND  # not anna's call
        )


def test_a_withheld_number_has_no_history(tmp_path: Path) -> None:
    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        enqueue(s, "a", "support", attributes={"topic": "returns"})
        enqueue(s, "b", "support")
        pop = pop_of_call(s, "b")
        assert (pop.caller_number, pop.calls_today, pop.first_time_caller) == ("", 0, True)
        assert _links(pop_of_call(s, "a")) == ["Returns policy"]
