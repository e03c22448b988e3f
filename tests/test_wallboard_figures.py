"""The wallboard's figures: the ``[server.wallboard]`` config and its errors, when "today"
starts (reset time and time zone, DST), green / amber / red from the alert thresholds, and the
daily reset on a running service driven by a controlled clock."""

from __future__ import annotations

import datetime
import zoneinfo
from pathlib import Path
from typing import Any

import pytest

from acd.server.clock import Clock
from acd.server.config import ConfigError
from acd.server.config_alerts import QueueAlerts
from acd.server.wallboard_config import WallboardConfig
from acd.server.wallboard_snapshot import day_start, figure_levels
from acd.v1 import agent_pb2, common_pb2, routing_pb2
from server_helpers import TEST_CONFIG, make_config, md, running
from test_server_lifecycle import enqueue, login_ready, offer_of
from wallboard_helpers import address_of, bearer, queue_of, request, wallboard_config

T = 5.0
UTC = datetime.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def ms(when: datetime.datetime) -> int:
    return int(when.timestamp() * 1000)


def with_wallboard(lines: str) -> str:
    return TEST_CONFIG.replace(
        "[server.rate_limit]", f"[server.wallboard]\n{lines}\n\n[server.rate_limit]", 1
    )


# ---- config ---------------------------------------------------------------------------------


def test_the_wallboard_section() -> None:
    config = make_config(
        with_wallboard(
            'listen = "127.0.0.1:8080"\nrefresh_s = 1.5\nreset_time = "06:30"\n'
            'timezone = "Europe/Berlin"'
        )
    )
    assert config.server.wallboard == WallboardConfig("127.0.0.1:8080", 1500, 390, "Europe/Berlin")
    assert config.server.wallboard.reset_time == "06:30"
    assert make_config().server.wallboard == WallboardConfig()  # absent: off
    assert WallboardConfig().listen is None


@pytest.mark.parametrize(
    ("lines", "key", "reason"),
    [
        ('listen = "8080"', "listen", "is not 'host:port'"),
        ('listen = "127.0.0.1:70000"', "listen", "is not 'host:port'"),
        ('listen = "0.0.0.0:9465"', "listen", "is not loopback: dev demo tokens are public"),
        ("refresh_s = 0.5", "refresh_s", "outside 1..2"),
        ("refresh_s = 5", "refresh_s", "outside 1..2"),
        ('reset_time = "6:00"', "reset_time", "is not a time"),
        ('reset_time = "24:00"', "reset_time", "is not a time"),
        ('reset_time = "06:10"', "reset_time", "quarter hour"),
        ('timezone = "Mars/Base"', "timezone", "unknown time zone"),
        ("period = 1", "period", "unknown key"),
    ],
)
def test_wallboard_config_errors_name_the_key(lines: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=rf"^server\.wallboard\.{key}: .*{reason}"):
        make_config(with_wallboard(lines))


# ---- when today starts ----------------------------------------------------------------------


def test_the_day_starts_at_the_last_reset() -> None:
    six = 6 * 60
    at = datetime.datetime(2026, 3, 10, 5, 59, tzinfo=UTC)
    assert day_start(ms(at), six, UTC) == ms(datetime.datetime(2026, 3, 9, 6, 0, tzinfo=UTC))
    at = datetime.datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    assert day_start(ms(at), six, UTC) == ms(at)
    at = datetime.datetime(2026, 3, 10, 23, 59, tzinfo=UTC)
    assert day_start(ms(at), 0, UTC) == ms(datetime.datetime(2026, 3, 10, tzinfo=UTC))


def test_the_reset_keeps_its_local_time_across_dst() -> None:
    # Berlin moves from +01:00 to +02:00 on 2026-03-29: that day has 23 hours.
    before = day_start(ms(datetime.datetime(2026, 3, 29, 12, 0, tzinfo=BERLIN)), 0, BERLIN)
    after = day_start(ms(datetime.datetime(2026, 3, 30, 12, 0, tzinfo=BERLIN)), 0, BERLIN)
    assert before == ms(datetime.datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    assert after == ms(datetime.datetime(2026, 3, 29, 22, 0, tzinfo=UTC))
    assert after - before == 23 * 3_600_000
    # A reset at 06:00 local is 05:00 UTC in winter and 04:00 UTC in summer.
    summer = day_start(ms(datetime.datetime(2026, 7, 1, 7, 0, tzinfo=BERLIN)), 360, BERLIN)
    assert summer == ms(datetime.datetime(2026, 7, 1, 4, 0, tzinfo=UTC))


# ---- colours --------------------------------------------------------------------------------


def stats(
    waiting: int = 0,
    offered: int = 10,
    answered: int = 10,
    sl: float = 1.0,
    asa_ms: int = 0,
    logged_in: int = 1,
) -> common_pb2.QueueStats:
    agents = [
        common_pb2.AgentStateCount(state=common_pb2.AGENT_STATE_READY, count=logged_in),
        common_pb2.AgentStateCount(state=common_pb2.AGENT_STATE_LOGGED_OUT, count=1),
    ]
    today = common_pb2.QueueKpis(offered=offered, answered=answered, sl_offered=sl, asa_ms=asa_ms)
    return common_pb2.QueueStats(waiting=waiting, agents=agents, interval=today, today=today)


ALERTS = QueueAlerts(waiting_above=5, sl_below=0.8, asa_above_ms=30_000, min_calls=5)


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        (stats(waiting=4, sl=0.9, asa_ms=20_000), {"waiting": "green", "sl": "green"}),
        (stats(waiting=5), {"waiting": "amber"}),  # a count at its threshold
        (stats(waiting=6), {"waiting": "red"}),
        (stats(sl=0.81), {"sl": "amber"}),  # within the hysteresis: 0.8 + 0.2 * 0.1
        (stats(sl=0.79), {"sl": "red"}),
        (stats(asa_ms=28_000), {"asa": "amber"}),  # above 30 s * (1 - 0.1)
        (stats(asa_ms=31_000), {"asa": "red"}),
        (stats(waiting=1, logged_in=0), {"waiting": "red"}),  # calls wait, nobody logged in
    ],
)
def test_colours_follow_the_alert_thresholds(
    figures: common_pb2.QueueStats, expected: dict[str, str]
) -> None:
    levels = figure_levels(ALERTS, figures, open_now=True)
    assert {k: v for k, v in levels.items() if k in expected} == expected


def test_ratios_wait_for_min_calls_and_figures_without_threshold_have_no_colour() -> None:
    levels = figure_levels(ALERTS, stats(offered=4, answered=4, sl=0.1), open_now=True)
    assert "sl" not in levels
    assert figure_levels(QueueAlerts(), stats(waiting=50, sl=0.0), open_now=True) == {}


# ---- the daily reset on a running service ---------------------------------------------------


class Wall:
    def __init__(self, at: datetime.datetime) -> None:
        self.ms = ms(at)

    def __call__(self) -> float:
        return self.ms / 1000


def test_today_starts_again_at_the_reset_time(tmp_path: Path) -> None:
    """Reset at 06:00 Berlin (05:00 UTC in March): calls of the evening before count until
    then, none after; the live figures (a call still waiting) are not reset."""
    text = TEST_CONFIG.replace("wrapup = 0.2", "wrapup = 0.2\nalerts = { waiting_above = 0 }", 1)
    config = wallboard_config(text, reset_minute=360, timezone="Europe/Berlin")
    wall = Wall(datetime.datetime(2026, 3, 10, 4, 50, tzinfo=UTC))  # 05:50 in Berlin
    with running(tmp_path, config, clock=Clock(wall)) as (server, s):
        address = address_of(server)

        def sales() -> Any:
            reply = request(address, "GET", "/snapshot", headers=bearer("t-supervisor"))
            assert reply.status == 200
            return queue_of(reply.json(), "sales")

        anna = login_ready(s, "anna")
        enqueue(s, "early")
        assert anna.until(offer_of).offer.offer.call_id == "early"
        accept = agent_pb2.AcceptOfferRequest(agent_id="anna", call_id="early")
        s.agent.AcceptOffer(accept, metadata=md("t-anna"), timeout=T)
        enqueue(s, "still-waiting")
        before = sales()
        assert before["day_start_ms"] == ms(datetime.datetime(2026, 3, 9, 5, 0, tzinfo=UTC))
        assert (before["offered"], before["answered"], before["waiting"]) == (2, 1, 1)
        assert before["levels"] == {"waiting": "red"}
        wall.ms = ms(datetime.datetime(2026, 3, 10, 5, 5, tzinfo=UTC))  # 06:05 in Berlin
        after = sales()
        assert after["day_start_ms"] == ms(datetime.datetime(2026, 3, 10, 5, 0, tzinfo=UTC))
        assert (after["offered"], after["answered"], after["waiting"]) == (0, 0, 1)
        assert after["sl"] is None and after["asa_ms"] is None
        s.routing.EndCall(
            routing_pb2.EndCallRequest(call_id="early"), metadata=md("t-adapter"), timeout=T
        )
        anna.close()
