"""Business hours: open/closed at an instant (time zone, DST, exceptions, holidays), the next
opening, and the out-of-hours decision on enqueue through the gRPC API (callback at the next
opening, voicemail, message, overflow), with the journal and a restart in between."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from acd.server.config_fields import ConfigError
from acd.server.config_raw import tenant_raw
from acd.server.config_tenant import TenantConfig, parse_tenant
from acd.server.out_of_hours import decide, next_opening, open_at, within_hours

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def ms(text: str, zone: datetime.tzinfo = BERLIN) -> int:
    """Ms since the epoch of a local time "YYYY-MM-DD HH:MM" in ``zone``."""
    local = datetime.datetime.fromisoformat(text).replace(tzinfo=zone)
    return int(local.timestamp() * 1000)


def tenant(extra_queue: str = "") -> TenantConfig:
    import tomllib

    text = f"""
skills = ["sales"]
[[hours]]
id = "store"
timezone = "Europe/Berlin"
mon = ["08:00-12:00", "13:00-20:00"]
tue = ["08:00-20:00"]
wed = ["08:00-20:00"]
thu = ["08:00-20:00"]
fri = ["08:00-20:00"]
sat = ["10:00-16:00"]
exceptions = {{ "2025-12-24" = ["08:00-12:00"] }}
holidays = ["2025-12-25", "2025-12-26", "2026-01-01..2026-01-02"]
[[queues]]
id = "sales"
skills = {{ sales = 1 }}
hours = "store"
{extra_queue}
[[queues]]
id = "late"
skills = {{ sales = 1 }}
[[agents]]
id = "anna"
skills = {{ sales = 5 }}
"""
    return parse_tenant(tomllib.loads(text), "store")


def test_open_at_follows_the_local_week_exceptions_and_holidays() -> None:
    hours = tenant().hours[0]
    assert open_at(hours, ms("2025-12-22 08:00"))  # Monday
    assert not open_at(hours, ms("2025-12-22 07:59"))
    assert not open_at(hours, ms("2025-12-22 12:30"))  # the lunch gap
    assert open_at(hours, ms("2025-12-22 19:59"))
    assert not open_at(hours, ms("2025-12-22 20:00"))  # close is exclusive
    assert not open_at(hours, ms("2025-12-21 12:00"))  # Sunday: not listed, closed
    assert open_at(hours, ms("2025-12-24 11:00"))  # the exception's morning
    assert not open_at(hours, ms("2025-12-24 14:00"))
    assert not open_at(hours, ms("2025-12-25 10:00"))  # holidays, a Thursday and a Friday
    assert not open_at(hours, ms("2025-12-26 10:00"))
    assert not open_at(hours, ms("2026-01-02 10:00"))  # the end of a range is included
    assert open_at(hours, ms("2026-01-05 10:00"))
    # The same instant read in UTC: 07:30 UTC on a winter Monday is 08:30 in Berlin.
    assert open_at(hours, ms("2025-12-22 07:30", datetime.UTC))


def test_within_hours_of_a_queue_without_hours_is_always() -> None:
    config = tenant()
    assert within_hours(config, "late", ms("2025-12-25 03:00"))
    assert not within_hours(config, "sales", ms("2025-12-25 03:00"))
    assert within_hours(config, "sales", ms("2025-12-23 09:00"))


def test_a_dst_change_week_keeps_local_opening_times() -> None:
    """Europe/Berlin leaves summer time on Sunday 2025-10-26 (03:00 CEST -> 02:00 CET): the
    Monday after opens at 08:00 local, which is 07:00 UTC instead of the Friday's 06:00."""
    hours = tenant().hours[0]
    friday_open = next_opening(hours, ms("2025-10-24 07:00"))
    monday_open = next_opening(hours, ms("2025-10-25 16:30"))  # after Saturday's close
    assert friday_open == ms("2025-10-24 06:00", datetime.UTC)
    assert monday_open == ms("2025-10-27 07:00", datetime.UTC)
    assert not open_at(hours, ms("2025-10-27 06:30", datetime.UTC))  # 07:30 local
    assert open_at(hours, ms("2025-10-27 07:00", datetime.UTC))
    # Spring forward (2026-03-29 02:00 -> 03:00): a Monday 08:00 opening is 06:00 UTC again.
    assert next_opening(hours, ms("2026-03-28 18:00")) == ms("2026-03-30 06:00", datetime.UTC)


def test_next_opening_skips_gaps_holidays_and_is_now_when_open() -> None:
    hours = tenant().hours[0]
    assert next_opening(hours, ms("2025-12-22 12:15")) == ms("2025-12-22 13:00")
    assert next_opening(hours, ms("2025-12-22 09:00")) == ms("2025-12-22 09:00")
    # Wednesday 24th after noon: 25th, 26th holidays, then Saturday the 27th at 10:00.
    assert next_opening(hours, ms("2025-12-24 12:00")) == ms("2025-12-27 10:00")


def test_holidays_are_checked_and_kept_as_closed_exceptions() -> None:
    config = tenant()
    exceptions = config.hours[0].exceptions
    assert exceptions["2025-12-25"] == () and exceptions["2026-01-02"] == ()
    assert parse_tenant(tenant_raw(config), "store") == config  # round trip via exceptions
    bad = {
        'holidays = ["2025-13-01"]': "holidays[0]: '2025-13-01' is not a date",
        'holidays = ["2025-12-31..2025-12-01"]': "holidays[0]: '2025-12-31..2025-12-01'",
        'holidays = ["2025-12-24"]': "2025-12-24 is also an exception with opening hours",
        "holidays = [20251224]": "holidays[0]: expected a date or 'FIRST..LAST'",
    }
    for line, message in bad.items():
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
            tenant_with_hours_line(line)


def tenant_with_hours_line(line: str) -> TenantConfig:
    import tomllib

    raw = tomllib.loads(
        f"""
skills = ["sales"]
[[hours]]
id = "store"
timezone = "Europe/Berlin"
exceptions = {{ "2025-12-24" = ["08:00-12:00"] }}
{line}
"""
    )
    return parse_tenant(raw, "store")


def test_out_of_hours_options_are_checked() -> None:
    ok = tenant('out_of_hours = { action = "overflow", queue = "late" }')
    assert ok.queues[0].options.out_of_hours is not None
    assert parse_tenant(tenant_raw(ok), "store") == ok
    bad = {
        'out_of_hours = { action = "nap" }': "out_of_hours.action: 'nap' is not one of",
        'out_of_hours = { action = "voicemail" }': "out_of_hours.destination: voicemail needs",
        'out_of_hours = { action = "overflow" }': "out_of_hours.action: overflow names exactly",
        'out_of_hours = { action = "callback", queue = "gone" }': "unknown queue 'gone'",
        'out_of_hours = { action = "overflow", queue = "sales" }': "cannot overflow to itself",
        'out_of_hours = { action = "message", colour = "red" }': "out_of_hours.colour: unknown",
    }
    for line, message in bad.items():
        with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
            tenant(line)


def test_decide_follows_the_option_and_chains_overflow() -> None:
    config = tenant('out_of_hours = { action = "callback", message = "closed-prompt" }')
    sales = config.queues[0]
    night = ms("2025-12-22 21:00")
    assert decide(config, sales, ms("2025-12-22 10:00"), has_caller=True) is None
    callback = decide(config, sales, night, has_caller=True)
    assert callback is not None
    assert (callback.action, callback.target_queue) == ("callback", "sales")
    assert callback.next_open_ms == ms("2025-12-23 08:00")
    anonymous = decide(config, sales, night, has_caller=False)
    assert anonymous is not None and anonymous.action == "message"
    assert anonymous.message == "closed-prompt"
