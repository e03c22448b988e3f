"""Outbound work lists: every refused request names its field with the right status, changes
nothing, and an agent acts only on its own tasks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from acd.server.clock import Clock
from acd.v1 import outbound_pb2 as ob
from history_helpers import SUP, FakeWall, T, config, login_ready, next_offer
from outbound_helpers import add, entry, get, record, upsert
from server_helpers import error_of, make_config, md, running

INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND


def _field(e: grpc.RpcError) -> str:
    """The request field a refusal names (its message starts with it)."""
    return (e.details() or "").split(":")[0].split(" ")[0]


BAD_LISTS: list[tuple[dict[str, Any], grpc.StatusCode, str]] = [
    ({"id": ""}, INVALID, "list.id"),
    ({"id": "a:b"}, INVALID, "list.id"),
    ({"id": "x" * 65}, INVALID, "list.id"),
    ({"name": "x" * 129}, INVALID, "list.name"),
    ({"queue_id": ""}, INVALID, "list.queue_id"),
    ({"queue_id": "nope"}, NOT_FOUND, "list.queue_id"),
    ({"priority": 5}, INVALID, "list.priority"),
    ({"priority": -1_000_001}, INVALID, "list.priority"),
    ({"pacing": ob.Pacing(max_in_line=1001)}, INVALID, "list.pacing.max_in_line"),
    ({"pacing": ob.Pacing(max_per_minute=10_001)}, INVALID, "list.pacing.max_per_minute"),
    ({"retry": ob.RetryRules(max_attempts=21)}, INVALID, "list.retry.max_attempts"),
    ({"retry": ob.RetryRules(min_gap_s=31 * 86_400)}, INVALID, "list.retry.min_gap_s"),
    (
        {"retry": ob.RetryRules(retry_on=[ob.OUTBOUND_OUTCOME_CONTACTED])},
        INVALID,
        "list.retry.retry_on",
    ),
    ({"retry": ob.RetryRules(retry_on=[99])}, INVALID, "list.retry.retry_on"),  # type: ignore[list-item]
    ({"hours_id": "nope"}, NOT_FOUND, "list.hours_id"),
    ({"min_service_level": 1.5}, INVALID, "list.min_service_level"),
    ({"min_service_level": float("nan")}, INVALID, "list.min_service_level"),
]


@pytest.mark.parametrize(("fields", "code", "field"), BAD_LISTS)
def test_a_bad_definition_is_refused_by_field(
    tmp_path: Path, fields: dict[str, Any], code: grpc.StatusCode, field: str
) -> None:
    with running(tmp_path, config()) as (_, s):
        values = {"id": "carts", "queue_id": "sales", **fields}
        request = ob.UpsertWorkListRequest(list=ob.WorkList(**values))
        e = error_of(lambda: s.outbound.UpsertWorkList(request, metadata=SUP, timeout=T))
        assert (e.code(), _field(e)) == (code, field)
        response = s.outbound.ListWorkLists(ob.ListWorkListsRequest(), metadata=SUP)
        assert list(response.lists) == []


def test_a_missing_list_and_an_aging_queue_that_would_let_tasks_overtake(tmp_path: Path) -> None:
    text = config_text_with_aging()
    with running(tmp_path, make_config(text)) as (_, s):
        e = error_of(
            lambda: s.outbound.UpsertWorkList(ob.UpsertWorkListRequest(), metadata=SUP, timeout=T)
        )
        assert (e.code(), e.details()) == (INVALID, "list: required")
        # ttl 60 s, aging 1 s per level: priority -60 could overtake within the ttl, -61 not.
        e = error_of(lambda: upsert(s, queue_id="support", priority=-60))
        assert e.code() == INVALID
        assert (e.details() or "").startswith("list.priority: with queue 'support'")
        assert "use at most -61" in (e.details() or "")
        assert upsert(s, queue_id="support", priority=-61).created


def config_text_with_aging() -> str:
    from history_helpers import CONFIG

    return CONFIG.replace("ttl_s = 60\n", "ttl_s = 60\naging_s = 1\n", 1)


BAD_ENTRIES: list[tuple[ob.WorkListEntry, str]] = [
    (ob.WorkListEntry(entry_id="", customer_number="+4930123"), "entries[1].entry_id"),
    (ob.WorkListEntry(entry_id="a:b", customer_number="+4930123"), "entries[1].entry_id"),
    (ob.WorkListEntry(entry_id="e", customer_number=""), "entries[1].customer_number"),
    (ob.WorkListEntry(entry_id="e", customer_number="12"), "entries[1].customer_number"),
    (ob.WorkListEntry(entry_id="e", customer_number="+49 abc"), "entries[1].customer_number"),
    (ob.WorkListEntry(entry_id="e", customer_number="1" * 33), "entries[1].customer_number"),
    (
        ob.WorkListEntry(entry_id="e", customer_number="+4930123", customer_name="a\nb"),
        "entries[1].customer_name",
    ),
    (
        ob.WorkListEntry(entry_id="e", customer_number="+4930123", attributes={"outbound_x": "1"}),
        "entries[1].attributes",
    ),
    (
        ob.WorkListEntry(
            entry_id="e", customer_number="+4930123", attributes={str(i): "v" for i in range(17)}
        ),
        "entries[1].attributes",
    ),
    (
        ob.WorkListEntry(entry_id="e", customer_number="+4930123", attributes={"k": "x" * 257}),
        "entries[1].attributes[k]",
    ),
]


def test_bad_entries_are_refused_by_field_and_add_nothing(tmp_path: Path) -> None:
    with running(tmp_path, config()) as (_, s):
        upsert(s, pacing=ob.Pacing(max_in_line=5))
        for bad, field in BAD_ENTRIES:
            e = error_of(lambda bad=bad: add(s, entry("ok"), bad))  # type: ignore[misc]
            assert (e.code(), _field(e)) == (INVALID, field)
        assert get(s).list.progress.entries == 0
        e = error_of(lambda: add(s, entry("x"), list_id="nope"))
        assert (e.code(), e.details()) == (NOT_FOUND, "list_id 'nope': unknown work list")
        e = error_of(lambda: add(s))
        assert (e.code(), e.details()) == (INVALID, "entries: at least one entry")
        many = [entry(f"e{i}") for i in range(1001)]
        assert error_of(lambda: add(s, *many)).code() == INVALID
        calls: list[Callable[[], Any]] = [
            lambda: get(s, "nope"),
            lambda: get(s, after="nope"),
            lambda: s.outbound.PauseWorkList(ob.PauseWorkListRequest(list_id="nope"), metadata=SUP),
            lambda: s.outbound.ResumeWorkList(ob.ResumeWorkListRequest(), metadata=SUP),
        ]
        assert [error_of(c).code() for c in calls] == [NOT_FOUND, NOT_FOUND, NOT_FOUND, INVALID]
        e = error_of(lambda: get(s, limit=1001))
        assert (e.code(), e.details()) == (INVALID, "entry_limit: at most 1000")


def test_outcomes_only_for_the_agents_own_connected_task(tmp_path: Path) -> None:
    wall = FakeWall()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        upsert(s)
        add(s, entry("e1"))
        anna = login_ready(s, "anna")
        assert next_offer(anna).offer.call_id == "ob:carts:e1:1"
        task = "ob:carts:e1:1"
        e = error_of(lambda: record(s, "anna", task, ob.OUTBOUND_OUTCOME_CONTACTED))
        assert (e.code(), e.details()) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            f"call_id {task!r}: the offer must be accepted first",
        )
        for outcome in (ob.OUTBOUND_OUTCOME_UNSPECIFIED, ob.OUTBOUND_OUTCOME_UNRECORDED):
            e = error_of(lambda outcome=outcome: record(s, "anna", task, outcome))  # type: ignore[misc]
            assert (e.code(), _field(e)) == (INVALID, "outcome")
        e = error_of(lambda: record(s, "anna", task, ob.OUTBOUND_OUTCOME_BUSY, "x" * 4001))
        assert (e.code(), _field(e)) == (INVALID, "notes")
        # ben is not offered it: to him the task does not exist; he cannot act for anna.
        assert error_of(lambda: record(s, "ben", task, ob.OUTBOUND_OUTCOME_BUSY)).code() == (
            NOT_FOUND
        )
        request = ob.RecordOutcomeRequest(
            agent_id="anna", call_id=task, outcome=ob.OUTBOUND_OUTCOME_BUSY
        )
        e = error_of(lambda: s.outbound.RecordOutcome(request, metadata=md("t-ben"), timeout=T))
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED
        # A supervisor naming an agent that does not hold it, or a call that is no task.
        request.agent_id = "ben"
        e = error_of(lambda: s.outbound.RecordOutcome(request, metadata=SUP, timeout=T))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
        request.agent_id, request.call_id = "anna", "no-such-task"
        e = error_of(lambda: s.outbound.RecordOutcome(request, metadata=SUP, timeout=T))
        assert (e.code(), e.details()) == (
            NOT_FOUND,
            "call_id 'no-such-task': not an outbound task in line",
        )
        [status] = get(s, limit=10).entries
        assert (status.state, list(status.attempts)) == (ob.ENTRY_STATE_IN_LINE, [])
        anna.close()
