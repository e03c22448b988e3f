"""Missed calls (acd.server.missed): abandoned or expired within business hours, listed for
supervisors, turned into automatic callbacks where the queue says so, cleared by a later
answered call of the number."""

from __future__ import annotations

from pathlib import Path

import grpc

from acd.server.clock import Clock
from acd.v1 import common_pb2, supervision_pb2
from history_helpers import (
    HOUR_MS,
    MONDAY_10,
    SUP,
    FakeWall,
    cancel,
    config,
    contacts,
    enqueue,
    finish,
    login_ready,
    missed,
    next_offer,
)
from server_helpers import Stubs, code_of, error_of, md, running

ANN = "+4930111"


def _waiting(s: Stubs) -> list[common_pb2.WaitingCall]:
    request = supervision_pb2.ListWaitingCallsRequest()
    return list(s.supervision.ListWaitingCalls(request, metadata=SUP, timeout=5).calls)


def test_an_abandoned_call_is_listed_called_back_and_cleared(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        enqueue(s, "inbound", caller_number="+4930999")  # waits: nobody is ready
        wall.ms += 1_000
        enqueue(s, "c1", caller_number=ANN, dialled_number="+49800100200")
        wall.ms += 30_000
        cancel(s, "c1")
        [entry] = missed(s)
        assert (entry.call_id, entry.queue_id, entry.caller_number) == ("c1", "sales", ANN)
        assert (entry.channel, entry.outcome) == (
            common_pb2.CHANNEL_VOICE,
            common_pb2.CALL_OUTCOME_ABANDONED,
        )
        assert (entry.wait_ms, entry.campaign) == (30_000, "radio")
        assert (entry.enqueued_at_ms, entry.ended_at_ms) == (MONDAY_10 + 1_000, wall.ms)
        assert entry.callback_call_id == "c1:callback"
        assert entry.callback_due_at_ms == wall.ms + 180_000
        assert entry.cleared_at_ms == 0

        # The callback waits at once, ahead of the inbound call that came earlier.
        callback = next(c for c in _waiting(s) if c.call_id == "c1:callback")
        assert (callback.channel, callback.caller_number) == (common_pb2.CHANNEL_CALLBACK, ANN)
        assert callback.priority == 1
        assert dict(callback.attributes) == {"callback_for": "c1"}
        anna = login_ready(s, "anna")
        offer = next_offer(anna)
        assert offer.offer.call_id == "c1:callback"
        assert offer.screen_pop.attributes["callback_for"] == "c1"
        wall.ms += 20_000
        finish(s, "anna", "c1:callback", "sold", wall)

        assert missed(s) == []
        [cleared] = missed(s, include_cleared=True)
        assert (cleared.call_id, cleared.cleared_by_call_id) == ("c1", "c1:callback")
        assert cleared.cleared_at_ms == MONDAY_10 + 51_000
    rows = {r["call_id"]: r for r in contacts(tmp_path / "data")}
    assert rows["c1:callback"]["callback_for"] == "c1"
    assert rows["c1:callback"]["missed"] == 0
    assert rows["inbound"]["ended_at"] is None


def test_out_of_hours_and_unanswered_callbacks_are_not_missed(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10 + 9 * HOUR_MS)  # 19:00 in Berlin: the office closed at 18:00
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        enqueue(s, "late", caller_number=ANN)
        wall.ms += 5_000
        cancel(s, "late")
        assert missed(s) == []
        assert [c.call_id for c in _waiting(s)] == []  # no callback either
        enqueue(s, "transferred-out", "support", caller_number=ANN)
    [row] = [r for r in contacts(tmp_path / "data") if r["call_id"] == "late"]
    assert (row["within_hours"], row["missed"], row["outcome"]) == (0, 0, "abandoned")


def test_an_expired_call_is_missed_and_a_later_answered_call_clears_it(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        enqueue(s, "c1", "support", caller_number=ANN)  # support: no hours, ttl 60 s
        enqueue(s, "withheld", "sales")
        cancel(s, "withheld")
        wall.ms += 61_000
        enqueue(s, "c2", "support", caller_number=ANN)  # the router fires c1's expiry first
        entries = {e.call_id: e for e in missed(s)}
        assert set(entries) == {"c1", "withheld"}
        assert entries["c1"].outcome == common_pb2.CALL_OUTCOME_EXPIRED
        assert entries["c1"].callback_call_id == ""  # support makes no automatic callbacks
        assert entries["withheld"].callback_call_id == ""  # no number to call back
        assert [e.call_id for e in missed(s, queue_ids=["support"])] == ["c1"]
        assert len(missed(s, limit=1)) == 1
        assert missed(s, since_ms=wall.ms + 1) == []

        anna = login_ready(s, "anna")
        assert next_offer(anna).offer.call_id == "c2"
        finish(s, "anna", "c2", "", wall)
        assert [e.call_id for e in missed(s)] == ["withheld"]
        [c1] = [e for e in missed(s, include_cleared=True) if e.call_id == "c1"]
        assert c1.cleared_by_call_id == "c2"


def test_the_missed_list_and_its_callbacks_survive_a_restart(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        enqueue(s, "c1", caller_number=ANN)
        wall.ms += 10_000
        cancel(s, "c1")
        before = missed(s)
    rows = contacts(tmp_path / "data")
    wall.ms += 1_000
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        assert missed(s) == before
        assert [c.call_id for c in _waiting(s)] == ["c1:callback"]  # replayed, not repeated
        assert contacts(tmp_path / "data") == rows
        anna = login_ready(s, "anna")
        assert next_offer(anna).offer.call_id == "c1:callback"
        finish(s, "anna", "c1:callback", "sold", wall)
        assert missed(s) == []


def test_list_missed_calls_errors(tmp_path: Path) -> None:
    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        unknown = error_of(lambda: missed(s, queue_ids=["sales", "nope"]))
        assert unknown.code() == grpc.StatusCode.NOT_FOUND
        assert unknown.details() == "queue_ids[1] 'nope': unknown queue"
        negative = error_of(lambda: missed(s, since_ms=-1))
        assert negative.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert str(negative.details()).startswith("since_ms:")
        request = supervision_pb2.ListMissedCallsRequest()
        for token in ("t-anna", "t-crm", "t-adapter", "t-admin"):
            code = code_of(lambda t=token: s.supervision.ListMissedCalls(request, metadata=md(t)))  # type: ignore[misc]
            assert code == grpc.StatusCode.PERMISSION_DENIED, token
