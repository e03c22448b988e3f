"""Queue reports (acd.server.reports) against hand-computed values on a small fixed data set,
with a call spanning an interval border, a live call, a chat beside voice, local-time intervals
in a half-hour zone and a DST day."""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo

import pytest

from acd.server.agent_history import AgentEvent
from acd.server.agent_report import agent_report
from acd.server.history import Contact
from acd.server.reports import (
    QueueRow,
    Thresholds,
    bucket_start,
    percentile,
    queue_report,
)
from acd.server.reports_traffic import campaign_report, heatmap

UTC = datetime.UTC
BASE = int(datetime.datetime(2026, 11, 23, 10, 0, tzinfo=UTC).timestamp() * 1000)
S = 1000
M = 60 * S
SALES = {"sales": Thresholds(sl_threshold_ms=20 * S, short_abandon_ms=5 * S)}


def _c(
    call: str,
    at: int,
    *,
    answered: int | None = None,
    ended: int | None = None,
    outcome: str | None = None,
    wrapup: int | None = None,
    channel: str = "voice",
) -> Contact:
    contact = Contact(call, BASE + at, "sales", channel)
    contact.answered_at = None if answered is None else BASE + answered
    contact.ended_at = None if ended is None else BASE + ended
    contact.outcome = outcome
    contact.wrapup_ms = wrapup
    return contact


CONTACTS = [
    _c("a", 0, answered=10 * S, ended=130 * S, outcome="completed", wrapup=30 * S),
    _c("b", 5 * M, answered=5 * M + 30 * S, ended=6 * M + 30 * S, outcome="completed", wrapup=0),
    _c("c", 10 * M, ended=10 * M + 3 * S, outcome="abandoned"),  # short abandon
    # enters at 10:14:50, answered at 10:15:10 (exactly T): counted where it arrived
    _c("d", 14 * M + 50 * S, answered=15 * M + 10 * S, ended=16 * M + 10 * S, outcome="completed"),
    _c("e", 20 * M, ended=20 * M + 25 * S, outcome="abandoned"),
    _c("f", 25 * M, ended=30 * M, outcome="expired"),
    _c("g", 40 * M),  # still waiting
    _c(
        "h",
        41 * M,
        answered=41 * M + 5 * S,
        ended=51 * M + 5 * S,
        outcome="completed",
        wrapup=0,
        channel="chat",
    ),  # a chat beside the voice calls
    _c("i", 60 * M, answered=60 * M, ended=61 * M, outcome="completed"),  # after the period
    _c("j", -1 * S, ended=0, outcome="abandoned"),  # before it
]


def _report(interval: str, by_channel: bool = False) -> list[QueueRow]:
    return queue_report(CONTACTS, SALES, BASE, BASE + 60 * M, interval, UTC, by_channel)


def test_quarter_hours_by_hand() -> None:
    first, second, third = _report("15min")
    assert (first.start_ms, second.start_ms, third.start_ms) == (BASE, BASE + 15 * M, BASE + 30 * M)
    assert (first.offered, first.answered, first.abandoned, first.short_abandoned) == (4, 3, 1, 1)
    assert (first.other, first.waiting) == (0, 0)
    assert first.sl_answered == pytest.approx(2 / 3)  # a (10 s) and d (20 s = T) within T
    assert first.sl_offered == pytest.approx(2 / 3)  # / (3 + 1 - 1)
    assert first.sl_with_abandons == pytest.approx(3 / 4)  # c abandoned within T too
    assert first.asa_s == pytest.approx(20.0)  # (10 + 30 + 20) / 3
    assert first.awt_s == pytest.approx(15.75)  # (10 + 30 + 3 + 20) / 4
    assert first.aht_s == pytest.approx(90.0)  # (120 + 30, 60 + 0, 60 + none) / 3
    assert first.abandon_rate == 0.0  # (1 - 1) / (4 - 1)
    assert first.max_wait_s == 30.0
    assert first.wait_percentiles_s == (20.0, 30.0, 30.0)  # nearest rank over 10, 20, 30

    assert (second.offered, second.answered, second.abandoned, second.other) == (2, 0, 1, 1)
    assert (second.sl_answered, second.sl_offered, second.sl_with_abandons) == (None, 0.0, 0.0)
    assert (second.asa_s, second.aht_s) == (None, None)
    assert second.awt_s == pytest.approx(162.5)  # (25 + 300) / 2
    assert second.abandon_rate == 0.5
    assert second.max_wait_s == 300.0
    assert second.wait_percentiles_s == (None, None, None)

    assert (third.offered, third.answered, third.waiting) == (2, 1, 1)
    assert (third.asa_s, third.aht_s, third.sl_offered) == (5.0, 600.0, 1.0)


def test_per_channel_rows_split_the_same_contacts() -> None:
    rows = {(r.start_ms, r.channel): r for r in _report("15min", by_channel=True)}
    chat = rows[(BASE + 30 * M, "chat")]
    voice = rows[(BASE + 30 * M, "voice")]
    assert (chat.offered, chat.answered, chat.asa_s, chat.aht_s) == (1, 1, 5.0, 600.0)
    assert (voice.offered, voice.waiting, voice.asa_s, voice.abandon_rate) == (1, 1, None, 0.0)
    assert rows[(BASE, "voice")] == dataclasses.replace(_report("15min")[0], channel="voice")
    assert sum(r.offered for r in rows.values()) == 8


def test_hours_and_the_whole_period_add_up() -> None:
    (hour,) = _report("hour")
    (period,) = _report("period")
    assert hour.start_ms == period.start_ms == BASE
    assert hour == period
    assert (hour.offered, hour.answered, hour.abandoned, hour.other, hour.waiting) == (
        8,
        4,
        2,
        1,
        1,
    )
    assert hour.asa_s == pytest.approx((10 + 30 + 20 + 5) / 4)
    assert hour.wait_percentiles_s == (10.0, 30.0, 30.0)  # over 5, 10, 20, 30


def test_intervals_follow_local_time() -> None:
    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")  # +05:30: local hours start at :30 UTC
    t = BASE + 10 * M  # 10:10 UTC = 15:40 local
    assert bucket_start(t, "hour", kolkata, 0) == BASE - 30 * M
    assert bucket_start(t, "15min", kolkata, 0) == BASE  # 15:30 local
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    spring = int(datetime.datetime(2026, 3, 29, 12, tzinfo=UTC).timestamp() * 1000)
    day = bucket_start(spring, "day", berlin, 0)
    next_day = bucket_start(spring + 86_400_000, "day", berlin, 0)
    assert day == int(datetime.datetime(2026, 3, 28, 23, tzinfo=UTC).timestamp() * 1000)
    assert next_day - day == 23 * 3_600_000  # the day the clocks go forward


def test_percentiles_and_bad_input() -> None:
    assert percentile([], 50) is None
    assert [percentile([1, 2, 3, 4], p) for p in (25, 50, 75, 100)] == [1, 2, 3, 4]
    assert percentile([7], 1) == 7
    with pytest.raises(ValueError, match="interval"):
        queue_report(CONTACTS, SALES, BASE, BASE + M, "week", UTC)
    with pytest.raises(ValueError, match="end"):
        queue_report(CONTACTS, SALES, BASE, BASE, "hour", UTC)


def test_campaigns_by_hand() -> None:
    def call(name: str, campaign: str, caller: str, **kw: object) -> Contact:
        contact = _c(name, 0, **kw)  # type: ignore[arg-type]
        contact.campaign, contact.caller_number = campaign, caller
        return contact

    contacts = [
        call("k1", "tv", "+1", answered=S, ended=M, outcome="completed"),
        call("k2", "tv", "+1", answered=S, ended=M, outcome="completed"),
        call("k3", "tv", "+2", ended=S, outcome="abandoned"),
        call("k4", "radio", "+3"),  # still waiting
        call("k5", "", "", ended=M, outcome="expired"),
    ]
    contacts[0].disposition = contacts[1].disposition = "sold"
    rows = campaign_report(contacts, BASE, BASE + M)
    assert [r.campaign for r in rows] == ["", "radio", "tv"]
    none, radio, tv = rows
    assert (tv.offered, tv.answered, tv.abandoned, tv.unique_callers) == (3, 2, 1, 2)
    assert dict(tv.dispositions) == {"sold": 2}
    assert (radio.offered, radio.waiting, none.other, none.unique_callers) == (1, 1, 1, 0)


def test_heatmap_by_hand() -> None:
    # BASE is a Monday, 10:00 UTC; in Berlin (UTC+1 in November) that is 11:00.
    cells = heatmap(CONTACTS, BASE, BASE + 60 * M, zoneinfo.ZoneInfo("Europe/Berlin"))
    assert len(cells) == 168 and (cells[0].weekday, cells[0].hour) == (0, 0)
    busy = [c for c in cells if c.offered]
    assert [(c.weekday, c.hour, c.offered, c.answered, c.abandoned) for c in busy] == [
        (0, 11, 8, 4, 2)
    ]


def test_agent_report_by_hand() -> None:
    def ev(at_s: float, kind: str, state: str = "", reason: str = "", call: str = "") -> AgentEvent:
        return AgentEvent("x", int(at_s * S), kind, state, reason, call)

    events = [
        ev(10, "offer", call="c1"),
        ev(10, "state", "reserved"),
        ev(14, "connected", call="c1"),
        ev(14, "state", "busy"),
        ev(74, "state", "wrap-up"),
        ev(84, "state", "ready"),
        ev(90, "offer", call="c2"),
        ev(95, "missed", reason="timed-out", call="c2"),
        ev(95, "state", "not-ready", "missed"),
    ]
    c1 = Contact("c1", 5 * S, "sales", "voice", caller_number="+1", agent_id="x")
    c1.answered_at, c1.ended_at, c1.wrapup_ms = 14 * S, 74 * S, 10 * S
    initial = {"x": AgentEvent("x", -10 * S, "state", "ready"), "y": None}
    x, y = agent_report(["x", "y"], events, initial, [c1], 0, 100 * S)
    assert (x.offers, x.answered, x.rejected, x.timed_out, x.revoked) == (2, 1, 0, 1, 0)
    assert (x.answer_time_s, x.unique_callers, x.talk_s, x.aht_s) == (4.0, 1, 60.0, 70.0)
    working = {"reserved": 4.0, "busy": 60.0, "wrap-up": 10.0}
    assert x.state_s == {"ready": 21.0, **working, "not-ready": 5.0}
    assert x.not_ready_s == {"missed": 5.0}
    assert x.occupancy == pytest.approx(74 / 95)
    assert (y.offers, y.occupancy, y.answer_time_s) == (0, None, None)
    assert y.state_s == {"logged-out": 100.0}  # never logged in before or during the period
