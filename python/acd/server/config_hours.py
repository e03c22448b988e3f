"""Business hours: a named weekly schedule in one time zone, which queues refer to by id.

```toml
[[tenants.store.hours]]
id = "store"
timezone = "Europe/Berlin"
mon = ["08:00-12:00", "13:00-20:00"]
sat = ["10:00-16:00"]          # a weekday left out is closed all day
name = "Store hours"           # display name (default: the id)
exceptions = { "2025-12-24" = ["08:00-12:00"] }   # dates that differ
holidays = ["2025-12-25", "2025-12-26", "2026-08-03..2026-08-14"]   # closed all day
```

A holiday is a local date or an inclusive range ``"FIRST..LAST"`` of dates; it is stored as an
exception with no ranges (closed), so the runtime configuration and the admin API carry it as
one. A holiday may not be a date that an exception opens. Open/closed at an instant:
``acd.server.out_of_hours``.

The router has no clock and knows nothing of hours; the service consults them when a call
arrives (and the reports use them for "missed during business hours").
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field

from acd.server.config_fields import ConfigError, Table, frozen, type_name

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS_KEYS = ("id", "name", "timezone", *WEEKDAYS, "exceptions", "holidays")
# A holiday range longer than this is surely a typo in a year.
MAX_HOLIDAY_DAYS = 366
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RANGE = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")


@dataclass(frozen=True, slots=True)
class HoursConfig:
    """Opening ranges per weekday, as (open, close) minutes since midnight, close exclusive."""

    id: str
    timezone: str
    week: Mapping[str, tuple[tuple[int, int], ...]]
    name: str = ""
    # Local date "YYYY-MM-DD" -> its ranges instead of the weekday's (none: closed all day).
    exceptions: Mapping[str, tuple[tuple[int, int], ...]] = field(
        default_factory=lambda: frozen({})
    )

    def is_open(self, weekday: int, minute: int) -> bool:
        """Whether ``minute`` after local midnight on ``weekday`` (0 = Monday) is open."""
        return any(a <= minute < b for a, b in self.week.get(WEEKDAYS[weekday], ()))


def _minute(hh: str, mm: str) -> int | None:
    h, m = int(hh), int(mm)
    if m > 59 or h > 24 or (h == 24 and m != 0):
        return None
    return h * 60 + m


def _day(t: Table, day: str) -> tuple[tuple[int, int], ...]:
    ranges: list[tuple[int, int]] = []
    for i, item in enumerate(t.array(day)):
        path = f"{t.key(day)}[{i}]"
        if not isinstance(item, str):
            raise ConfigError(path, f"expected a string 'HH:MM-HH:MM', got {type_name(item)}")
        match = _RANGE.fullmatch(item)
        start = _minute(*match.group(1, 2)) if match else None
        end = _minute(*match.group(3, 4)) if match else None
        if start is None or end is None:
            raise ConfigError(path, f"{item!r} is not a range 'HH:MM-HH:MM' (00:00..24:00)")
        if start >= end:
            raise ConfigError(path, f"{item!r} closes before it opens")
        if ranges and start < ranges[-1][1]:
            raise ConfigError(path, f"{item!r} overlaps or precedes the range before it")
        ranges.append((start, end))
    return tuple(ranges)


def _exceptions(t: Table) -> dict[str, tuple[tuple[int, int], ...]]:
    raw = t.raw.get("exceptions", {})
    dates = Table(raw, t.key("exceptions"), raw if isinstance(raw, dict) else ())
    for date in dates.raw:
        try:
            valid = _DATE.fullmatch(date) is not None and bool(datetime.date.fromisoformat(date))
        except ValueError:
            valid = False
        if not valid:
            raise ConfigError(dates.key(date), f"{date!r} is not a date 'YYYY-MM-DD'")
    return {date: _day(dates, date) for date in dates.raw}


def _date(path: str, text: str) -> datetime.date:
    try:
        if _DATE.fullmatch(text) is not None:
            return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    raise ConfigError(path, f"{text!r} is not a date 'YYYY-MM-DD'")


def _holidays(t: Table, exceptions: dict[str, tuple[tuple[int, int], ...]]) -> None:
    """Adds every holiday date to ``exceptions`` as closed all day."""
    for i, item in enumerate(t.array("holidays")):
        path = f"{t.key('holidays')}[{i}]"
        if not isinstance(item, str):
            raise ConfigError(path, f"expected a date or 'FIRST..LAST', got {type_name(item)}")
        first_text, _, last_text = item.partition("..")
        first = _date(path, first_text)
        last = _date(path, last_text) if last_text else first
        days = (last - first).days + 1
        if not 1 <= days <= MAX_HOLIDAY_DAYS:
            limit = f"a range runs forward, {MAX_HOLIDAY_DAYS} days at most"
            raise ConfigError(path, f"{item!r}: {limit}")
        for n in range(days):
            date = (first + datetime.timedelta(days=n)).isoformat()
            if exceptions.get(date):
                raise ConfigError(path, f"{date} is also an exception with opening hours")
            exceptions[date] = ()


def parse_hours(t: Table) -> HoursConfig:
    hours_id = t.ident("id")
    timezone = t.string("timezone")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(t.key("timezone"), f"unknown time zone {timezone!r}") from None
    return HoursConfig(
        id=hours_id,
        timezone=timezone,
        week=frozen({day: _day(t, day) for day in WEEKDAYS if t.has(day)}),
        name=t.string("name", hours_id),
        exceptions=_sorted_exceptions(t),
    )


def _sorted_exceptions(t: Table) -> Mapping[str, tuple[tuple[int, int], ...]]:
    exceptions = _exceptions(t)
    _holidays(t, exceptions)
    return frozen({date: exceptions[date] for date in sorted(exceptions)})
