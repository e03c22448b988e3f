"""The ``[server.wallboard]`` section of ``acd.toml``: where the live wallboard is served, how
often it refreshes and when its "today" figures start.

    [server.wallboard]
    listen = "127.0.0.1:8080"     # absent: no wallboard
    refresh_s = 1                 # 1..2 s between two snapshots on the page
    reset_time = "06:00"          # local time the "today" figures start from (HH:MM)
    timezone = "Europe/Berlin"    # absent: each queue's business-hours zone, UTC without

``reset_time`` must fall on a quarter hour: the "today" figures add up the router's 15-minute
statistics intervals (the ones ``StreamQueueStats`` and the reports count from), so a day that
starts on an interval border is exact. Time zones are whole quarter hours off UTC, so a
quarter hour in local time is one in UTC too.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from acd.server.config_fields import ConfigError, Table

WALLBOARD_KEYS = ("listen", "refresh_s", "reset_time", "timezone")
_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9.-]+):(?P<port>\d{1,5})")
_CLOCK_TIME = re.compile(r"(?P<hour>\d\d):(?P<minute>\d\d)")


@dataclass(frozen=True, slots=True)
class WallboardConfig:
    # host:port of the wallboard's HTTP server (page, login, Server-Sent Events); None: off.
    listen: str | None = None
    refresh_ms: int = 1000
    # Minutes after local midnight at which the "today" figures start again.
    reset_minute: int = 0
    # An IANA zone for the reset; None: each queue's business-hours zone (UTC without).
    timezone: str | None = None

    @property
    def reset_time(self) -> str:
        return f"{self.reset_minute // 60:02}:{self.reset_minute % 60:02}"


def parse_wallboard(server: Table) -> WallboardConfig:
    """The ``wallboard`` table of the ``[server]`` table ``server`` (absent: off)."""
    t = server.table("wallboard", WALLBOARD_KEYS)
    listen = t.optional_string("listen")
    if listen is not None:
        match = _HOST_PORT.fullmatch(listen)
        if match is None or not 0 <= int(match["port"]) <= 65535:
            raise ConfigError(t.key("listen"), f"{listen!r} is not 'host:port'")
    refresh_s = t.number("refresh_s", 1.0, 1.0, 2.0)
    reset = t.string("reset_time", "00:00")
    clock = _CLOCK_TIME.fullmatch(reset)
    if clock is None or int(clock["hour"]) > 23 or int(clock["minute"]) > 59:
        raise ConfigError(t.key("reset_time"), f"{reset!r} is not a time 'HH:MM' (00:00..23:59)")
    minute = int(clock["hour"]) * 60 + int(clock["minute"])
    if minute % 15:
        raise ConfigError(
            t.key("reset_time"),
            f"{reset!r} is not on a quarter hour (the figures add up 15-minute intervals)",
        )
    timezone = t.optional_string("timezone")
    if timezone is not None:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(t.key("timezone"), f"unknown time zone {timezone!r}") from None
    return WallboardConfig(
        listen=listen, refresh_ms=round(refresh_s * 1000), reset_minute=minute, timezone=timezone
    )
