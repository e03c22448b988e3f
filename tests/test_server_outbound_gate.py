"""The release gate of outbound work lists through the gRPC API (acd.server.outbound): inbound
calls first, the inbound service level (both rules, both sides), pacing per minute, calling
hours, pause and resume, and a restart that neither loses nor repeats a release."""

from __future__ import annotations

from pathlib import Path

from acd.server.clock import Clock
from acd.v1 import outbound_pb2 as ob
from acd.v1 import supervision_pb2
from history_helpers import (
    HOUR_MS,
    SUP,
    FakeWall,
    T,
    accept,
    config,
    end,
    enqueue,
    login_ready,
    next_offer,
    wrap_up,
)
from outbound_helpers import add, entries, entry, get, progress, record, release_due, upsert
from server_helpers import Stubs, running

MINUTE = 60_000


def _waiting(s: Stubs) -> list[str]:
    request = supervision_pb2.ListWaitingCallsRequest()
    return [c.call_id for c in s.supervision.ListWaitingCalls(request, metadata=SUP).calls]


def _pause(s: Stubs, list_id: str = "carts") -> ob.WorkListStatus:
    request = ob.PauseWorkListRequest(list_id=list_id)
    status: ob.WorkListStatus = s.outbound.PauseWorkList(request, metadata=SUP, timeout=T).list
    return status


def _resume(s: Stubs, list_id: str = "carts") -> ob.WorkListStatus:
    request = ob.ResumeWorkListRequest(list_id=list_id)
    status: ob.WorkListStatus = s.outbound.ResumeWorkList(request, metadata=SUP, timeout=T).list
    return status


def test_inbound_calls_go_first_and_the_service_level_holds_releases(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (server, s):
        upsert(s, pacing=ob.Pacing(max_in_line=2))
        add(s, entry("e1"))
        assert _waiting(s) == ["ob:carts:e1:1"]  # nobody is ready: the task waits
        wall.ms += 1_000
        enqueue(s, "in1", caller_number="+4930555")  # an inbound call, later than the task
        anna = login_ready(s, "anna")
        assert next_offer(anna).offer.call_id == "in1"  # it goes first all the same

        # Rule 1: an inbound call waiting for the threshold (20 s) or longer holds releases.
        enqueue(s, "in2", caller_number="+4930556")
        wall.ms += 19_999
        add(s, entry("e2"))  # in2 has waited just under 20 s: released
        assert add(s, entry("e3")).list.hold == ob.RELEASE_HOLD_PACING
        wall.ms += 1
        upsert(s, pacing=ob.Pacing(max_in_line=3))
        release_due(server)
        status = get(s).list
        assert status.hold == ob.RELEASE_HOLD_SERVICE_LEVEL
        assert status.progress.in_line == 2
        accept(s, "anna", "in1")
        end(s, "in1")
        wrap_up(s, "anna", "in1", "sold")
        assert next_offer(anna).offer.call_id == "in2"
        wall.ms += 5_000
        accept(s, "anna", "in2")  # answered after 25 s, in1 after 20 s (within)

        # Rule 2: nothing waits inbound now, but the interval's SL (1 of 2 within 20 s) is
        # below the list's 0.8; a list that asks for 0.5 releases.
        release_due(server)
        assert get(s).list.hold == ob.RELEASE_HOLD_SERVICE_LEVEL
        upsert(s, pacing=ob.Pacing(max_in_line=3), min_service_level=0.5)
        assert get(s).list.progress.in_line == 3
        anna.close()


def test_pacing_per_minute_and_calling_hours(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (server, s):
        upsert(s, pacing=ob.Pacing(max_in_line=10, max_per_minute=2), hours_id="office")
        added = add(s, *(entry(f"e{i}") for i in range(5)))
        assert (added.list.progress.in_line, added.list.progress.released_last_minute) == (2, 2)
        assert added.list.hold == ob.RELEASE_HOLD_PACING
        wall.ms += MINUTE - 1
        release_due(server)
        assert progress(s).in_line == 2
        wall.ms += 1
        release_due(server)
        assert progress(s).in_line == 4
        assert _waiting(s) == [f"ob:carts:e{i}:1" for i in range(4)]

        # 18:00 in Berlin: the office closes; waiting tasks are taken back, nothing is released.
        wall.ms += 8 * HOUR_MS
        release_due(server)
        status = get(s).list
        assert status.hold == ob.RELEASE_HOLD_CALLING_HOURS
        assert (status.progress.in_line, status.progress.pending) == (0, 5)
        assert _waiting(s) == []
        assert all(not e.attempts for e in entries(s).values())  # no attempt counted
        wall.ms += 14 * HOUR_MS  # Tuesday 8:00
        release_due(server)
        assert progress(s).in_line == 2
        assert _waiting(s) == ["ob:carts:e0:2", "ob:carts:e1:2"]  # a new call id per release


def test_pause_resume_and_a_restart_keep_every_entry_once(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        upsert(s, "survey", pacing=ob.Pacing(max_in_line=2), retry=ob.RetryRules(min_gap_s=60))
        add(s, entry("a"), entry("b"), entry("c"), list_id="survey")
        assert _waiting(s) == ["ob:survey:a:1", "ob:survey:b:1"]
        paused = _pause(s, "survey")
        assert (paused.paused, paused.hold) == (True, ob.RELEASE_HOLD_PAUSED)
        assert (paused.progress.in_line, paused.progress.pending) == (0, 3)
        assert _waiting(s) == []
        assert _pause(s, "survey").paused  # pausing twice changes nothing
        resumed = _resume(s, "survey")
        assert (resumed.paused, resumed.progress.in_line) == (False, 2)
        anna = login_ready(s, "anna")
        assert next_offer(anna).offer.call_id == "ob:survey:a:2"
        accept(s, "anna", "ob:survey:a:2")
        anna.close()
    after = {k: (v.state, v.call_id) for k, v in entries_after_restart(tmp_path, wall).items()}
    assert after == {
        "a": (ob.ENTRY_STATE_COMPLETED, ""),
        "b": (ob.ENTRY_STATE_IN_LINE, "ob:survey:b:2"),
        "c": (ob.ENTRY_STATE_IN_LINE, "ob:survey:c:1"),  # a's place in line went to c
    }


def entries_after_restart(tmp_path: Path, wall: FakeWall) -> dict[str, ob.EntryStatus]:
    with running(tmp_path, config(), clock=Clock(wall)) as (server, s):
        release_due(server)  # nothing to release: both places in line are taken
        assert _waiting(s) == ["ob:survey:b:2"]  # a is connected to anna
        [status] = s.outbound.ListWorkLists(ob.ListWorkListsRequest(), metadata=SUP).lists
        assert (status.list.id, status.progress.in_line, status.progress.pending) == (
            "survey",
            2,
            1,
        )
        # The connected task still takes its outcome after the restart.
        done = record(s, "anna", "ob:survey:a:2", ob.OUTBOUND_OUTCOME_CONTACTED)
        assert done.entry.state == ob.ENTRY_STATE_COMPLETED
        return entries(s, "survey")
