"""Outbound work lists through the gRPC API (acd.server.outbound): releases as preview tasks in
the list's queue, the agent's outcome per attempt, retries after the gap, completion and
failure, the contact history's disposition per attempt."""

from __future__ import annotations

from pathlib import Path

from acd.server.clock import Clock
from acd.v1 import common_pb2
from acd.v1 import outbound_pb2 as ob
from history_helpers import (
    FakeWall,
    accept,
    config,
    contacts,
    end,
    login_ready,
    next_offer,
    wrap_up,
)
from outbound_helpers import add, entries, entry, get, record, release_due, upsert
from server_helpers import running

MINUTE = 60_000


def test_entries_become_tasks_whose_outcomes_complete_retry_or_fail(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (server, s):
        created = upsert(
            s,
            name="Abandoned carts",
            pacing=ob.Pacing(max_in_line=1),
            retry=ob.RetryRules(max_attempts=2, min_gap_s=600),
        )
        assert created.created
        defined = created.list.list
        assert (defined.priority, defined.min_service_level) == (-1_000_000, 0.8)
        assert list(defined.retry.retry_on) == [
            ob.OUTBOUND_OUTCOME_NO_ANSWER,
            ob.OUTBOUND_OUTCOME_BUSY,
            ob.OUTBOUND_OUTCOME_UNRECORDED,
        ]
        assert created.list.hold == ob.RELEASE_HOLD_NOTHING_DUE

        added = add(s, entry("e1", "+49 30 1234", "Ada", cart_id="C-17"), entry("e2"))
        assert (added.added, added.duplicates) == (2, 0)
        # One released at once (max_in_line 1): nobody waits inbound, the office is open.
        assert (added.list.progress.in_line, added.list.progress.pending) == (1, 1)
        assert added.list.hold == ob.RELEASE_HOLD_PACING
        again = add(s, entry("e1", "+49 30 9999"))
        assert (again.added, again.duplicates) == (0, 1)
        assert entries(s)["e1"].entry.customer_number == "+49 30 1234"  # left as it was

        anna = login_ready(s, "anna")
        offer = next_offer(anna)
        assert offer.offer.call_id == "ob:carts:e1:1"
        assert offer.offer.channel == common_pb2.CHANNEL_CALLBACK
        assert offer.screen_pop.caller_number == "+49 30 1234"
        assert dict(offer.screen_pop.attributes) == {
            "cart_id": "C-17",
            "outbound_list": "carts",
            "outbound_entry": "e1",
            "outbound_attempt": "1",
            "outbound_customer_name": "Ada",
        }
        accept(s, "anna", "ob:carts:e1:1")
        wall.ms += MINUTE
        first = record(s, "anna", "ob:carts:e1:1", ob.OUTBOUND_OUTCOME_NO_ANSWER, "rang out")
        assert first.list_id == "carts"
        assert first.entry.state == ob.ENTRY_STATE_PENDING
        assert first.entry.not_before_ms == wall.ms + 600_000
        [attempt] = first.entry.attempts
        assert (attempt.call_id, attempt.agent_id, attempt.outcome, attempt.at_ms) == (
            "ob:carts:e1:1",
            "anna",
            ob.OUTBOUND_OUTCOME_NO_ANSWER,
            wall.ms,
        )

        # The freed place in line goes to e2; e1 waits for its gap.
        assert next_offer(anna).offer.call_id == "ob:carts:e2:1"
        accept(s, "anna", "ob:carts:e2:1")
        done = record(s, "anna", "ob:carts:e2:1", ob.OUTBOUND_OUTCOME_CONTACTED)
        assert done.entry.state == ob.ENTRY_STATE_COMPLETED
        assert get(s).list.hold == ob.RELEASE_HOLD_NOTHING_DUE

        wall.ms += 600_000
        release_due(server)
        retry = next_offer(anna)
        assert retry.offer.call_id == "ob:carts:e1:2"
        assert retry.screen_pop.attributes["outbound_attempt"] == "2"
        accept(s, "anna", "ob:carts:e1:2")
        last = record(s, "anna", "ob:carts:e1:2", ob.OUTBOUND_OUTCOME_BUSY)
        assert last.entry.state == ob.ENTRY_STATE_FAILED  # the attempts ran out

        final = get(s, limit=1)
        assert [e.entry.entry_id for e in final.entries] == ["e1"]
        assert final.next_after_entry_id == "e1"
        assert [e.entry.entry_id for e in get(s, limit=1, after="e1").entries] == ["e2"]
        counts = final.list.progress
        assert (counts.entries, counts.pending, counts.in_line) == (2, 0, 0)
        assert (counts.completed, counts.failed, counts.attempts) == (1, 1, 3)
        assert {(c.outcome, c.count) for c in counts.by_outcome} == {
            (ob.OUTBOUND_OUTCOME_CONTACTED, 1),
            (ob.OUTBOUND_OUTCOME_NO_ANSWER, 1),
            (ob.OUTBOUND_OUTCOME_BUSY, 1),
        }
        anna.close()
    rows = {r["call_id"]: r for r in contacts(tmp_path / "data")}
    assert (rows["ob:carts:e1:1"]["disposition"], rows["ob:carts:e1:1"]["notes"]) == (
        "no-answer",
        "rang out",
    )
    assert rows["ob:carts:e2:1"]["disposition"] == "contacted"
    assert rows["ob:carts:e1:2"]["disposition"] == "busy"
    assert rows["ob:carts:e1:2"]["channel"] == "callback"
    assert rows["ob:carts:e1:2"]["priority"] == -1_000_000


def test_a_wrap_up_without_an_outcome_is_unrecorded_and_retried(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        upsert(s, retry=ob.RetryRules(min_gap_s=60))
        add(s, entry("e1"))
        anna = login_ready(s, "anna")
        assert next_offer(anna).offer.call_id == "ob:carts:e1:1"
        accept(s, "anna", "ob:carts:e1:1")
        end(s, "ob:carts:e1:1")  # the PBX reports the end; FinishWrapUp instead of the outcome
        wrap_up(s, "anna", "ob:carts:e1:1", "sold")
        [e1] = entries(s).values()
        assert e1.state == ob.ENTRY_STATE_PENDING
        assert [a.outcome for a in e1.attempts] == [ob.OUTBOUND_OUTCOME_UNRECORDED]
        assert e1.not_before_ms == wall.ms + 60_000
        anna.close()
