"""Recordings and the CDR's routing rule and transfers, through the API: the adapter attaches a
reference to a live or finished call (idempotent, validated, NOT_FOUND for an unknown call);
supervisors see every recording of their tenant, an agent only its own calls'; every recording
handed out is an audit row; the CDR export carries the rule that picked the agent, the
transfers in order and the recording, and all of it survives a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from acd.server.clock import Clock
from acd.v1 import admin_pb2, agent_pb2, quality_pb2
from quality_helpers import (
    ADMIN,
    ANNA,
    BEN,
    MONDAY_10,
    SUP,
    FakeWall,
    T,
    accept,
    answered_call,
    attach,
    cancel,
    cdrs,
    config,
    enqueue,
    finish,
    login_ready,
    next_offer,
    transfer,
)
from server_helpers import StreamReader, Stubs, error_of, md, running

DAY_MS = 86_400_000
Metadata = tuple[tuple[str, str | bytes], ...]
PERIOD = {"from_ms": MONDAY_10 - DAY_MS, "to_ms": MONDAY_10 + DAY_MS}


def _get(s: Stubs, call_id: str, token: Metadata = SUP) -> quality_pb2.Recording:
    request = quality_pb2.GetRecordingRequest(call_id=call_id)
    recording: quality_pb2.Recording = s.quality.GetRecording(
        request, metadata=token, timeout=T
    ).recording
    return recording


def _list(s: Stubs, token: Metadata = SUP, **fields: Any) -> quality_pb2.ListRecordingsResponse:
    request = quality_pb2.ListRecordingsRequest(**{**PERIOD, **fields})
    response: quality_pb2.ListRecordingsResponse = s.quality.ListRecordings(
        request, metadata=token, timeout=T
    )
    return response


def _audited(s: Stubs, at_least: int) -> list[admin_pb2.AuditRecord]:
    """The recording reads and CDR exports of the audit record, once there are ``at_least``
    (the record is written asynchronously)."""
    deadline = time.monotonic() + 10.0
    while True:
        records = s.admin.ListAuditRecords(
            admin_pb2.ListAuditRecordsRequest(), metadata=ADMIN, timeout=T
        ).records
        found = [r for r in records if "Recording" in r.method or "ExportCdrs" in r.method]
        if len(found) >= at_least:
            return found
        assert time.monotonic() < deadline, f"only {len(found)} audit records"
        time.sleep(0.02)


def _three_transfers_and_a_pick(s: Stubs, wall: FakeWall) -> None:
    """c1: anna answers it (longest-idle), the adapter transfers it to support, anna answers
    it there, transfers it to ben (answered as his preferred call), then out to a number.
    p1: a support call ben (no support skill) picks for himself."""
    anna = login_ready(s, "anna")
    answered_call(s, anna, "anna", "c1", wall)
    transfer(s, "c1", queue_id="support")
    finish_wrap = agent_pb2.FinishWrapUpRequest(agent_id="anna", call_id="c1")
    s.agent.FinishWrapUp(finish_wrap, metadata=ANNA, timeout=T)
    assert next_offer(anna).offer.call_id == "c1"
    accept(s, "anna", "c1")
    transfer(s, "c1", agent_id="ben")
    ben = login_ready(s, "ben")
    offer = next_offer(ben).offer
    assert offer.call_id == "c1"
    accept(s, "ben", "c1")
    wall.ms += 30_000
    transfer(s, "c1", destination="+4940999")
    s.agent.FinishWrapUp(
        agent_pb2.FinishWrapUpRequest(agent_id="ben", call_id="c1"), metadata=BEN, timeout=T
    )
    enqueue(s, "p1", queue="support")
    pick = agent_pb2.PickCallRequest(agent_id="ben", call_id="p1")
    s.agent.PickCall(pick, metadata=BEN, timeout=T)
    assert next_offer(ben).offer.call_id == "p1"
    accept(s, "ben", "p1")
    finish(s, "ben", "p1", wall)
    anna.close()
    ben.close()


def test_the_cdr_names_the_rule_the_transfers_and_the_recording(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        _three_transfers_and_a_pick(s, wall)
        attach(s, "c1", "/var/spool/rec/c1.wav")
        live_export = cdrs(s, **PERIOD)
    # After a restart the rows (and the rule, which lives on the row once answered) are read
    # back from the journal's file.
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        after_restart = cdrs(s, **PERIOD)
    assert after_restart == live_export
    c1, p1 = live_export
    assert (c1.call_id, c1.outcome, c1.agent_id) == ("c1", "transferred-out", "ben")
    assert c1.routing_rule == "preferred-agent"  # ben took it as the agent it was sent to
    assert c1.routing_detail.startswith("step=0 ") and c1.escalation_step == 0
    assert c1.transfer_count == 3
    assert [(t.kind, t.target) for t in c1.transfers] == [
        ("queue", "support"),
        ("agent", "ben"),
        ("destination", "+4940999"),
    ]
    assert c1.transfers[0].at_ms == MONDAY_10 + 5_000  # answered after 5 s, moved at once
    assert c1.transfers[2].at_ms == MONDAY_10 + 35_000
    assert c1.recording == "/var/spool/rec/c1.wav"
    assert (p1.call_id, p1.routing_rule, p1.agent_id, p1.transfer_count) == ("p1", "pick", "ben", 0)
    assert p1.recording == ""


def test_a_recording_on_a_live_call_is_idempotent_and_survives_a_restart(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        answered_call(s, anna, "anna", "c1", wall)
        first = attach(s, "c1", "https://rec.test/2025/c1.wav")
        assert first.changed
        assert (first.recording.call_id, first.recording.agent_id) == ("c1", "anna")
        assert first.recording.ended_at_ms == 0  # live
        assert first.recording.attached_at_ms == MONDAY_10 + 5_000
        wall.ms += 1_000
        again = attach(s, "c1", "https://rec.test/2025/c1.wav")
        assert not again.changed and again.recording.attached_at_ms == MONDAY_10 + 5_000
        anna.close()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        # The open contact was read back with its recording; finishing keeps it.
        finish(s, "anna", "c1", wall)
        (c1,) = cdrs(s, **PERIOD)
        assert c1.recording == "https://rec.test/2025/c1.wav" and c1.outcome == "completed"
        assert _get(s, "c1").reference == "https://rec.test/2025/c1.wav"
        # Another reference replaces it (the PBX moved the file), on the finished call.
        wall.ms += 1_000
        moved = attach(s, "c1", "s3://recordings/2025/c1.wav")
        assert moved.changed and moved.recording.ended_at_ms == c1.ended_at_ms
        assert _get(s, "c1").reference == "s3://recordings/2025/c1.wav"


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        ("", "required"),
        ("rec.wav", "expected a URL"),
        ("recordings/c1.wav", "expected a URL"),
        ("https:///c1.wav", "expected a URL"),
        ("javascript:alert(1)", "expected a URL"),
        ("/var/spool/../../etc/passwd", "'..'"),
        ("https://rec.test/a/../../b.wav", "'..'"),
        ("/var/spool/rec/c 1.wav", "no spaces"),
        ("/var/spool/rec/c1.wav\n", "control"),
        ("https://rec.test/" + "a" * 2048, "at most 2048"),
    ],
)
def test_a_bad_reference_is_refused_naming_the_field(
    tmp_path: Path, reference: str, why: str
) -> None:
    with running(tmp_path, config()) as (_, s):
        enqueue(s, "c1")
        e = error_of(lambda: attach(s, "c1", reference))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (e.details() or "").startswith("reference: ") and why in (e.details() or "")


def test_unknown_calls_and_whose_recordings_an_agent_sees(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        e = error_of(lambda: attach(s, "no-such-call", "/rec/x.wav"))
        assert e.code() == grpc.StatusCode.NOT_FOUND and "call_id" in (e.details() or "")
        e = error_of(lambda: attach(s, "", "/rec/x.wav"))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "call_id" in (e.details() or "")
        enqueue(s, "w1", queue="support")
        cancel(s, "w1")  # nobody answered it
        wall.ms += 1_000
        anna, ben = login_ready(s, "anna"), login_ready(s, "ben")
        # a1 goes to anna (longest idle: ready first), b1 to ben.
        answered_call(s, anna, "anna", "a1", wall)
        answered_call(s, ben, "ben", "b1", wall)
        finish(s, "anna", "a1", wall)
        finish(s, "ben", "b1", wall)
        for call_id in ("a1", "b1", "w1"):
            attach(s, call_id, f"/rec/{call_id}.wav")
        # The supervisor sees all three, by arrival; pages of two.
        first = _list(s, page_size=2)
        assert [r.call_id for r in first.recordings] == ["w1", "a1"]
        second = _list(s, page_size=2, page_token=first.next_page_token)
        assert [r.call_id for r in second.recordings] == ["b1"]
        assert second.next_page_token == ""
        assert [r.call_id for r in _list(s, agent_id="ben").recordings] == ["b1"]
        # anna sees her own only; ben's is unknown to her, as is a call nobody answered.
        assert [r.call_id for r in _list(s, ANNA).recordings] == ["a1"]
        assert _get(s, "a1", ANNA).reference == "/rec/a1.wav"
        for call_id in ("b1", "w1"):
            e = error_of(lambda: _get(s, call_id, ANNA))  # noqa: B023 - called at once
            assert e.code() == grpc.StatusCode.NOT_FOUND
        e = error_of(lambda: _list(s, ANNA, agent_id="ben"))
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED and "agent_id" in (e.details() or "")
        # Another tenant's supervisor does not know the call at all.
        e = error_of(lambda: _get(s, "a1", md("t-other-supervisor")))
        assert e.code() == grpc.StatusCode.NOT_FOUND
        assert _list(s, md("t-other-supervisor")).recordings == []
        # Bad requests, by field.
        e = error_of(lambda: _get(s, "no-such-call"))
        assert e.code() == grpc.StatusCode.NOT_FOUND and "call_id" in (e.details() or "")
        enqueue(s, "n1")
        e = error_of(lambda: _get(s, "n1"))  # a call without a recording
        assert e.code() == grpc.StatusCode.NOT_FOUND and "recording" in (e.details() or "")
        for fields, field in (
            ({"page_size": 1001}, "page_size"),
            ({"page_token": "garbage"}, "page_token"),
            ({"to_ms": PERIOD["from_ms"]}, "to_ms"),
            ({"agent_id": "nobody"}, "agent_id"),
        ):
            e = error_of(lambda: _list(s, **fields))  # noqa: B023 - called at once
            assert field in (e.details() or ""), fields
            assert e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
        anna.close()
        ben.close()


def test_every_recording_handed_out_is_an_audit_row(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        enqueue(s, "w1", queue="support")
        cancel(s, "w1")
        wall.ms += 1_000
        anna = login_ready(s, "anna")
        answered_call(s, anna, "anna", "a1", wall)
        finish(s, "anna", "a1", wall)
        for call_id in ("a1", "w1"):
            attach(s, call_id, f"/rec/{call_id}.wav")
        wall.ms += 1_000
        _get(s, "a1", ANNA)
        error_of(lambda: _get(s, "w1", ANNA))  # refused: audited as such
        _list(s)  # the supervisor: both
        cdrs(s, **PERIOD)  # w1 and a1 finished: their CDRs carry the references
        anna.close()
        records = _audited(s, 8)
    quality = [(r.identity, r.method.rsplit("/", 1)[1], r.object, r.code) for r in records]
    # One row per recording handed out (call_id=...), beside each call's own row.
    assert sorted(quality) == sorted(
        [
            ("anna", "GetRecording", "call_id=a1", "OK"),
            ("anna", "GetRecording", "call_id=w1", "NOT_FOUND"),
            ("sup", "ListRecordings", "", "OK"),
            ("sup", "ListRecordings", "call_id=a1", "OK"),
            ("sup", "ListRecordings", "call_id=w1", "OK"),
            ("sup", "ExportCdrs", "", "OK"),
            ("sup", "ExportCdrs", "call_id=a1", "OK"),
            ("sup", "ExportCdrs", "call_id=w1", "OK"),
        ]
    )
    assert all(r.at_ms == MONDAY_10 + 67_000 for r in records if "Recording" in r.method)


def test_the_escalation_step_comes_from_the_offer_detail() -> None:
    from acd.server.history import Contact
    from acd.server.report_service import cdr

    picked = Contact("c1", MONDAY_10, "sales", "voice", route_rule="best-skill")
    picked.route_detail = "step=2 tier=1 level=7"
    assert (cdr(picked).routing_rule, cdr(picked).escalation_step) == ("best-skill", 2)
    assert cdr(Contact("c2", MONDAY_10, "sales", "voice")).escalation_step == 0  # not answered


def test_an_offer_open_at_a_restart_is_made_again_and_its_rule_recorded(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "c1")
        assert next_offer(anna).offer.call_id == "c1"  # not accepted before the stop
        anna.close()
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        # The restart withdrew the offer; the router offers the call again, with its rule.
        stream = StreamReader(
            s.agent.StreamOffers(agent_pb2.StreamOffersRequest(agent_id="anna"), metadata=ANNA)
        )
        set_ready = agent_pb2.SetStateRequest(
            agent_id="anna", availability=agent_pb2.AVAILABILITY_READY
        )
        s.agent.SetState(set_ready, metadata=ANNA, timeout=T)
        assert next_offer(stream).offer.call_id == "c1"
        accept(s, "anna", "c1")
        finish(s, "anna", "c1", wall)
        stream.close()
        (c1,) = cdrs(s, **PERIOD)
    assert (c1.agent_id, c1.routing_rule) == ("anna", "longest-idle")
