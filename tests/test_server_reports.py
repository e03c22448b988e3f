"""ReportService.QueueReport through the API: a small day driven by a clock the test sets,
the figures checked by hand, plus the request's mistakes named by field."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from acd.server.clock import Clock
from acd.server.queue_view import INTERVAL_MS
from acd.v1 import agent_pb2, common_pb2, reports_pb2, routing_pb2
from server_helpers import Stubs, error_of, md, running
from test_server_lifecycle import enqueue, login_ready, offer_of
from test_server_queue_kpis import DAY, FakeWall

T = 5.0
SUP = md("t-supervisor")


def _report(s: Stubs, **fields: object) -> list[reports_pb2.QueueReportRow]:
    request = reports_pb2.QueueReportRequest(**fields)  # type: ignore[arg-type]
    rows = s.reports.QueueReport(request, metadata=SUP, timeout=T).rows
    return list(rows)


def _day(s: Stubs, wall: FakeWall) -> None:
    """c1 answered after 4 s and talked 60 s; c2 hung up after 30 s (crossing into the next
    quarter hour); c3 hung up after 2 s; ch1, a chat nobody here takes, still waits."""
    enqueue(s, "ch1", channel=common_pb2.CHANNEL_CHAT)
    anna = login_ready(s, "anna")
    enqueue(s, "c1")
    assert anna.until(offer_of).offer.offer.call_id == "c1"
    wall.ms += 4_000
    accept = agent_pb2.AcceptOfferRequest(agent_id="anna", call_id="c1")
    s.agent.AcceptOffer(accept, metadata=md("t-anna"), timeout=T)
    enqueue(s, "c2")
    wall.ms += 30_000
    s.routing.CancelCall(routing_pb2.CancelCallRequest(call_id="c2"), metadata=md("t-adapter"))
    wall.ms += 30_000
    s.routing.EndCall(routing_pb2.EndCallRequest(call_id="c1"), metadata=md("t-adapter"))
    enqueue(s, "c3")
    wall.ms += 2_000
    s.routing.CancelCall(routing_pb2.CancelCallRequest(call_id="c3"), metadata=md("t-adapter"))
    anna.close()


def test_queue_report_by_quarter_hour_hour_and_channel(tmp_path: Path) -> None:
    wall = FakeWall(DAY + INTERVAL_MS - 10_000)  # 10 s before the second quarter hour
    with running(tmp_path, clock=Clock(wall)) as (_, s):
        _day(s, wall)
        period = {"from_ms": DAY, "to_ms": DAY + 3_600_000, "queue_ids": ["sales"]}
        first, second = _report(s, **period, interval=reports_pb2.REPORT_INTERVAL_15_MIN)
        (hour,) = _report(s, **period)  # the default interval: an hour
        by_channel = _report(s, **period, by_channel=True)
        e = error_of(lambda: _report(s, **period, time_zone="Mars/Olympus"))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "time_zone" in (e.details() or "")
        e = error_of(lambda: _report(s, from_ms=DAY, to_ms=DAY))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "to_ms" in (e.details() or "")
        e = error_of(lambda: _report(s, from_ms=DAY, to_ms=DAY + 1, queue_ids=["nope"]))
        assert e.code() == grpc.StatusCode.NOT_FOUND and "queue_ids[0]" in (e.details() or "")
        e = error_of(
            lambda: s.reports.QueueReport(
                reports_pb2.QueueReportRequest(from_ms=DAY, to_ms=DAY + 1), metadata=md("t-anna")
            )
        )
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED

    # ch1, c1 and c2 entered in the first quarter hour (c2 left in the second), c3 in the
    # second.
    assert (first.interval_start_ms, second.interval_start_ms) == (DAY, DAY + INTERVAL_MS)
    assert (first.offered, first.answered, first.abandoned, first.waiting) == (3, 1, 1, 1)
    assert first.short_abandoned == 0
    assert (first.asa_s, first.awt_s, first.max_wait_s) == (4.0, 17.0, 30.0)
    assert first.aht_s == pytest.approx(60.2)  # 60 s talk + the queue's timed 0.2 s wrap-up
    assert first.sl_offered == pytest.approx(1 / 2)
    assert first.wait_p50_s == 4.0
    assert (second.offered, second.abandoned, second.short_abandoned) == (1, 1, 1)
    assert not second.HasField("asa_s") and not second.HasField("sl_answered")
    assert (hour.offered, hour.answered, hour.abandoned, hour.waiting) == (4, 1, 2, 1)
    assert hour.channel == common_pb2.CHANNEL_UNSPECIFIED
    chat, voice = by_channel
    assert (chat.channel, chat.offered, chat.waiting) == (common_pb2.CHANNEL_CHAT, 1, 1)
    assert (voice.channel, voice.offered, voice.answered) == (common_pb2.CHANNEL_VOICE, 3, 1)


def test_campaigns_heatmap_and_cdr_export(tmp_path: Path) -> None:
    wall = FakeWall(DAY + INTERVAL_MS - 10_000)  # a Sunday, 00:14:50 UTC
    t0 = wall.ms
    with running(tmp_path, clock=Clock(wall)) as (_, s):
        _day(s, wall)
        end = DAY + 3_600_000
        campaigns = s.reports.CampaignReport(
            reports_pb2.CampaignReportRequest(from_ms=DAY, to_ms=end), metadata=SUP, timeout=T
        ).rows
        heat = reports_pb2.HeatmapRequest(from_ms=DAY, to_ms=end, time_zone="Asia/Tokyo")
        cells = s.reports.Heatmap(heat, metadata=SUP, timeout=T).cells
        cdrs = reports_pb2.ExportCdrsRequest(from_ms=DAY, to_ms=end)
        export = list(s.reports.ExportCdrs(cdrs, metadata=SUP))
        e = error_of(
            lambda: list(
                s.reports.ExportCdrs(
                    reports_pb2.ExportCdrsRequest(from_ms=DAY, to_ms=DAY - 1), metadata=SUP
                )
            )
        )
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "to_ms" in (e.details() or "")
    (everything,) = campaigns  # no campaign numbers in this config
    assert (everything.campaign, everything.offered, everything.answered) == ("", 4, 1)
    assert (everything.abandoned, everything.waiting) == (2, 1)
    assert len(cells) == 168
    busy = [(c.weekday, c.hour, c.offered, c.answered, c.abandoned) for c in cells if c.offered]
    assert busy == [(6, 9, 4, 1, 2)]  # Sunday 09:xx in Tokyo (UTC+9)
    # The finished contacts by end time, numbered; ch1 still waits and is not exported.
    assert [(m.sequence, m.cdr.call_id, m.cdr.outcome) for m in export] == [
        (1, "c2", "abandoned"),
        (2, "c1", "completed"),
        (3, "c3", "abandoned"),
    ]
    c1 = export[1].cdr
    assert (c1.enqueued_at_ms, c1.answered_at_ms, c1.ended_at_ms) == (t0, t0 + 4_000, t0 + 64_000)
    assert (c1.wait_ms, c1.talk_ms, c1.agent_id, c1.queue_id) == (4_000, 60_000, "anna", "sales")
    assert c1.channel == common_pb2.CHANNEL_VOICE and c1.within_hours


def test_agent_report(tmp_path: Path) -> None:
    wall = FakeWall(DAY + INTERVAL_MS - 10_000)
    t0 = wall.ms
    with running(tmp_path, clock=Clock(wall)) as (_, s):
        _day(s, wall)  # anna: offered c1 at t0, accepted after 4 s, talked 60 s; until t0 + 66 s
        request = reports_pb2.AgentReportRequest(from_ms=DAY, to_ms=DAY + 3_600_000)
        rows = s.reports.AgentReport(request, metadata=SUP, timeout=T).rows
        e = error_of(
            lambda: s.reports.AgentReport(
                reports_pb2.AgentReportRequest(from_ms=DAY, to_ms=DAY + 1, agent_ids=["zed"]),
                metadata=SUP,
            )
        )
        assert e.code() == grpc.StatusCode.NOT_FOUND and "agent_ids[0]" in (e.details() or "")
    anna, ben = rows
    assert (anna.agent_id, ben.agent_id) == ("anna", "ben")
    # c1: offered at t0, accepted after 4 s, 60 s talk, 0.2 s wrap-up; then c3 was offered to
    # her at t0 + 64.2 s and taken back when its caller hung up at t0 + 66 s.
    assert (anna.offers, anna.answered, anna.revoked, anna.answer_time_s) == (2, 1, 1, 4.0)
    assert (anna.talk_s, anna.unique_callers) == (60.0, 0)  # the test's callers have no number
    assert anna.aht_s == pytest.approx(60.2)
    assert dict(anna.state_s) == {
        "logged-out": pytest.approx((t0 - DAY) / 1000),
        "reserved": pytest.approx(4.0 + 1.8),
        "busy": 60.0,
        "wrap-up": pytest.approx(0.2),
    }
    assert anna.occupancy == 1.0  # never ready without a call in this period
    assert dict(ben.state_s) == {"logged-out": pytest.approx((t0 + 66_000 - DAY) / 1000)}
