"""AdminService messages <-> the tenant configuration, and config mistakes -> request fields.

An upserted object goes into the tenant's TOML-shaped table (``config_raw``) exactly where
acd.toml would have it, and the whole table goes through ``parse_tenant``: the API gets the
same validation as the file. ``*_raw`` write a message in the file's words (seconds, ids),
refusing only what the file cannot even say (an unset enum, a negative duration, a channel
listed twice); ``Upsert.refusal`` turns a ``ConfigError`` at a key path of the file
(``tenants.store.queues[3].no_answer.reject_delay_s``) into INVALID_ARGUMENT naming the request
field (``queue.no_answer.reject_delay_ms``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc

from acd.server import convert
from acd.server.admin_queue_options import (
    ALERT_KEYS,
    OPTION_KEYS,
    alerts_raw,
    contacts_raw,
    fill_alerts,
    fill_contacts,
    fill_options,
    options_raw,
)
from acd.server.commands import Refusal
from acd.server.config import ConfigError, QueueConfig, TenantConfig
from acd.server.config_fields import join
from acd.server.config_hours import WEEKDAYS, HoursConfig
from acd.server.config_raw import Raw, minutes_range, seconds
from acd.server.config_tenant import STRATEGIES, AgentConfig, GroupConfig, SkillConfig
from acd.server.service_base import invalid, require_id
from acd.v1 import admin_pb2

STRATEGY_ENUM = {
    name: admin_pb2.RoutingStrategy.Value("ROUTING_STRATEGY_" + name.upper().replace("-", "_"))
    for name in STRATEGIES
}
_STRATEGY_NAMES = {v: k for k, v in STRATEGY_ENUM.items()}
WEEKDAY_ENUM = (
    admin_pb2.WEEKDAY_MONDAY,
    admin_pb2.WEEKDAY_TUESDAY,
    admin_pb2.WEEKDAY_WEDNESDAY,
    admin_pb2.WEEKDAY_THURSDAY,
    admin_pb2.WEEKDAY_FRIDAY,
    admin_pb2.WEEKDAY_SATURDAY,
    admin_pb2.WEEKDAY_SUNDAY,
)
_CHANNEL_NAMES = {v: k for k, v in convert.CHANNEL_ENUM.items()}

# The file's key -> the message's field, per object (a path segment keeps its [index]).
_QUEUE_KEYS = {
    "id": "queue_id",
    "name": "display_name",
    "sl_threshold_s": "sl_threshold_ms",
    "short_abandon_s": "short_abandon_ms",
    "offer_timeout_s": "offer_timeout_ms",
    "wrapup": "wrapup_ms",
    "ttl_s": "ttl_ms",
    "aging_s": "aging_ms",
    "hours": "hours_id",
    "max_wait_s": "overflow.after_ms",
    "overflow_queue": "overflow.queue_id",
    "overflow_destination": "overflow.destination",
    "reject_delay_s": "reject_delay_ms",
    "timeout_delay_s": "timeout_delay_ms",
    "after_s": "after_ms",
    **OPTION_KEYS,
    **ALERT_KEYS,
}
_AGENT_KEYS = {"id": "agent_id", "name": "display_name", "group": "group_id"}
_GROUP_KEYS = {"id": "group_id", "name": "display_name"}
_HOURS_KEYS = {"id": "hours_id", "name": "display_name", "timezone": "time_zone"}
_SKILL_KEYS = {"id": "skill_id", "name": "display_name"}
# Keys whose sub-keys are ids (skill ids, channels, dates), never renamed.
_ID_TABLES = ("skills", "capacity", "exceptions")
_TABLES = {"queue": "queues", "agent": "agents", "group": "groups", "hours": "hours"}
_TABLES["skill"] = "skills"
_SEGMENT = re.compile(r'\.([A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")((?:\[\d+\])*)')


@dataclass
class Upsert:
    """One object going into a tenant's table: where it lands, and how to name its fields."""

    kind: str  # "queue", "agent", "group", "hours", "skill": the request's field
    raw: Any  # the object as the file would have it
    keys: Mapping[str, str]
    # Renames that need the request's own order: "capacity.chat" -> "capacity[1].max_items".
    special: dict[str, str] = field(default_factory=dict)

    def place(self, table: Raw, obj_id: str) -> tuple[str, bool]:
        """Puts the object into the tenant's ``table`` (replacing the one with its id); gives
        its key path below the tenant and whether it is new."""
        name = _TABLES[self.kind]
        items: list[Any] = table.setdefault(name, [])
        for i, item in enumerate(items):
            if _item_id(item) == obj_id:
                items[i] = self.raw
                return f"{name}[{i}]", False
        items.append(self.raw)
        return f"{name}[{len(items) - 1}]", True

    def refusal(self, e: ConfigError, tenant_path: str, where: str) -> Refusal:
        """INVALID_ARGUMENT for a mistake found in the tenant's table, naming the request
        field when it lies in the upserted object (``where``, below ``tenant_path``)."""
        prefix = f"{tenant_path}.{where}"
        if e.path != prefix and not e.path.startswith((prefix + ".", prefix + "[")):
            return _invalid(self.kind, f"{e.path}: {e.reason}")
        rest = e.path[len(prefix) :]
        return _invalid(self._field(rest), e.reason)

    def _field(self, rest: str) -> str:
        out = [self.kind]
        parent = ""
        pos = 0
        while pos < len(rest):
            match = _SEGMENT.match(rest, pos)
            if match is None:  # not a path this module wrote: name the object
                return self.kind
            key, index = match.group(1), match.group(2)
            pos = match.end()
            if parent in _ID_TABLES:
                dotted = f"{parent}.{key}{index}"
                if dotted in self.special:
                    out[-1] = self.special[dotted]
                else:
                    out.append(key + index)
            elif f"{key}{index}" in self.special:
                out.append(self.special[f"{key}{index}"])
            else:
                out.append(self.keys.get(key, key) + index)
            parent = key
        return ".".join(out)


def _item_id(item: Any) -> Any:
    return item.get("id") if isinstance(item, dict) else item


def _invalid(field_path: str, message: str) -> Refusal:
    return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"{field_path}: {message}", field_path)


def _seconds(path: str, ms: int) -> int | float:
    if ms < 0:
        raise invalid(path, f"{ms} is negative")
    return seconds(ms)


# ---- requests -> the file's shape ----------------------------------------------------------


def queue_upsert(q: admin_pb2.Queue) -> Upsert:
    require_id(q.queue_id, "queue.queue_id")
    raw: Raw = {"id": q.queue_id, "skills": dict(q.skills)}
    if q.display_name:
        raw["name"] = q.display_name
    if q.strategy != admin_pb2.ROUTING_STRATEGY_UNSPECIFIED:
        if q.strategy not in _STRATEGY_NAMES:
            raise invalid("queue.strategy", f"unknown strategy {q.strategy}")
        raw["strategy"] = _STRATEGY_NAMES[q.strategy]
    if q.HasField("ring_all_max"):
        raw["ring_all_max"] = q.ring_all_max
    for name in ("sl_threshold_ms", "short_abandon_ms", "offer_timeout_ms", "ttl_ms"):
        if q.HasField(name):
            raw[name[:-3] + "_s"] = _seconds(f"queue.{name}", getattr(q, name))
    if q.wrapup_until_done:
        if q.HasField("wrapup_ms"):
            raise invalid("queue.wrapup_ms", "not with wrapup_until_done")
        raw["wrapup"] = "until-done"
    elif q.HasField("wrapup_ms"):
        raw["wrapup"] = _seconds("queue.wrapup_ms", q.wrapup_ms)
    if q.HasField("no_answer"):
        na = q.no_answer
        no_answer: Raw = {
            "reject_delay_s": _seconds("queue.no_answer.reject_delay_ms", na.reject_delay_ms),
            "timeout_delay_s": _seconds("queue.no_answer.timeout_delay_ms", na.timeout_delay_ms),
        }
        if na.HasField("max_misses"):
            no_answer["max_misses"] = na.max_misses
        raw["no_answer"] = no_answer
    raw["max_tier"] = q.max_tier
    if q.HasField("prefer_lower_tier"):
        raw["prefer_lower_tier"] = q.prefer_lower_tier
    steps = []
    for i, step in enumerate(q.escalation):
        s: Raw = {"after_s": _seconds(f"queue.escalation[{i}].after_ms", step.after_ms)}
        if step.HasField("lower_levels_by"):
            s["lower_levels_by"] = step.lower_levels_by
        if step.HasField("max_tier"):
            s["max_tier"] = step.max_tier
        steps.append(s)
    raw["escalation"] = steps
    if q.HasField("overflow"):
        target = q.overflow.WhichOneof("target")
        if target is None:
            raise invalid("queue.overflow", "name queue_id or destination")
        raw["max_wait_s"] = _seconds("queue.overflow.after_ms", q.overflow.after_ms)
        if target == "queue_id":
            raw["overflow_queue"] = q.overflow.queue_id
        else:
            raw["overflow_destination"] = q.overflow.destination
    raw["aging_s"] = _seconds("queue.aging_ms", q.aging_ms)
    if q.hours_id:
        raw["hours"] = q.hours_id
    raw.update(options_raw(q))
    raw.update(alerts_raw(q))
    raw.update(contacts_raw(q))
    return Upsert("queue", raw, _QUEUE_KEYS)


def agent_upsert(a: admin_pb2.Agent) -> Upsert:
    require_id(a.agent_id, "agent.agent_id")
    raw: Raw = {"id": a.agent_id, "skills": dict(a.skills)}
    if a.display_name:
        raw["name"] = a.display_name
    if a.group_id:
        raw["group"] = a.group_id
    if a.HasField("tier"):
        raw["tier"] = a.tier
    special: dict[str, str] = {}
    capacity: Raw = {}
    for i, c in enumerate(a.capacity):
        channel = _CHANNEL_NAMES.get(c.channel)
        if channel is None:
            raise invalid(f"agent.capacity[{i}].channel", "required (a known channel)")
        if channel in capacity:
            raise invalid(f"agent.capacity[{i}].channel", f"{channel} is listed twice")
        capacity[channel] = c.max_items
        special[f"capacity.{channel}"] = f"capacity[{i}].max_items"
    if capacity:
        raw["capacity"] = capacity
    if a.endpoint:
        raw["endpoint"] = a.endpoint
    if a.HasField("can_pick"):
        raw["can_pick"] = a.can_pick
    return Upsert("agent", raw, _AGENT_KEYS, special)


def group_upsert(g: admin_pb2.Group) -> Upsert:
    require_id(g.group_id, "group.group_id")
    raw: Raw = {"id": g.group_id}
    if g.display_name:
        raw["name"] = g.display_name
    if g.HasField("tier"):
        raw["tier"] = g.tier
    raw["can_pick"] = g.can_pick
    return Upsert("group", raw, _GROUP_KEYS)


def skill_upsert(s: admin_pb2.Skill) -> Upsert:
    require_id(s.skill_id, "skill.skill_id")
    raw: Raw = {"id": s.skill_id, "name": s.display_name or s.skill_id}
    if s.description:
        raw["description"] = s.description
    return Upsert("skill", raw, _SKILL_KEYS)


def _ranges(windows: Any, path: str, special: dict[str, str], key_of: Any) -> dict[str, list[str]]:
    """Windows grouped by ``key_of(window)``, each group sorted by opening, as the file's
    ranges; ``special`` learns which request window each range came from."""
    grouped: dict[str, list[tuple[int, int, int]]] = {}
    for i, w in enumerate(windows):
        grouped.setdefault(key_of(i, w), []).append((w.open_minute, w.close_minute, i))
    out: dict[str, list[str]] = {}
    for key, items in grouped.items():
        items.sort()
        out[key] = [minutes_range(a, b) for a, b, _ in items]
        for j, (_, _, i) in enumerate(items):
            special[f"{key}[{j}]"] = f"{path}[{i}]"
    return out


def hours_upsert(h: admin_pb2.Hours) -> Upsert:
    require_id(h.hours_id, "hours.hours_id")
    raw: Raw = {"id": h.hours_id, "timezone": h.time_zone}
    if h.display_name:
        raw["name"] = h.display_name
    special: dict[str, str] = {}

    def weekday(i: int, w: admin_pb2.OpeningWindow) -> str:
        if w.weekday not in WEEKDAY_ENUM:
            raise invalid(f"hours.windows[{i}].weekday", "required (a day of the week)")
        return WEEKDAYS[WEEKDAY_ENUM.index(w.weekday)]

    raw.update(_ranges(h.windows, "windows", special, weekday))
    exceptions: Raw = {}
    for k, e in enumerate(h.exceptions):
        if e.date in exceptions:
            raise invalid(f"hours.exceptions[{k}].date", f"{e.date!r} is listed twice")
        inner: dict[str, str] = {}
        exceptions[e.date] = _ranges(e.windows, "windows", inner, lambda i, w: "day").get("day", [])
        special[f"exceptions.{join('', e.date)}"] = f"exceptions[{k}].date"
        for j_key, target in inner.items():
            special[f"exceptions.{join('', e.date)}{j_key[3:]}"] = f"exceptions[{k}].{target}"
    if exceptions:
        raw["exceptions"] = exceptions
    return Upsert("hours", raw, _HOURS_KEYS, special)


# ---- the configuration -> messages --------------------------------------------------------


def queue_message(q: QueueConfig) -> admin_pb2.Queue:
    out = admin_pb2.Queue(
        queue_id=q.id,
        display_name=q.name,
        skills=dict(q.skills),
        strategy=STRATEGY_ENUM[q.strategy],
        ring_all_max=q.ring_all_max,
        sl_threshold_ms=q.sl_threshold_ms,
        short_abandon_ms=q.short_abandon_ms,
        offer_timeout_ms=q.offer_timeout_ms,
        wrapup_ms=q.wrapup_ms,
        wrapup_until_done=q.wrapup_until_done,
        no_answer=admin_pb2.NoAnswerPolicy(
            reject_delay_ms=q.no_answer.reject_delay_ms,
            timeout_delay_ms=q.no_answer.timeout_delay_ms,
            max_misses=q.no_answer.max_misses,
        ),
        max_tier=q.max_tier,
        prefer_lower_tier=q.prefer_lower_tier,
        ttl_ms=q.ttl_ms,
        aging_ms=q.aging_ms,
        hours_id=q.hours or "",
    )
    if q.wrapup_until_done:
        out.ClearField("wrapup_ms")
    for step in q.escalation:
        s = out.escalation.add(after_ms=step.after_ms)
        if step.lower_levels_by is not None:
            s.lower_levels_by = step.lower_levels_by
        if step.max_tier is not None:
            s.max_tier = step.max_tier
    if q.overflow is not None:
        out.overflow.after_ms = q.overflow.after_ms
        if q.overflow.queue:
            out.overflow.queue_id = q.overflow.queue
        if q.overflow.destination:
            out.overflow.destination = q.overflow.destination
    fill_options(out, q.options)
    fill_alerts(out, q.alerts)
    fill_contacts(out, q.contacts)
    return out


def agent_message(a: AgentConfig) -> admin_pb2.Agent:
    agent = admin_pb2.Agent(
        agent_id=a.id,
        display_name=a.name,
        skills=dict(a.skills),
        group_id=a.group or "",
        tier=a.tier,
        endpoint=a.endpoint or "",
        can_pick=a.can_pick,
    )
    for channel, n in a.capacity.items():
        agent.capacity.add(channel=convert.CHANNEL_ENUM[channel], max_items=n)
    return agent


def group_message(g: GroupConfig) -> admin_pb2.Group:
    return admin_pb2.Group(group_id=g.id, display_name=g.name, tier=g.tier, can_pick=g.can_pick)


def skill_message(s: SkillConfig) -> admin_pb2.Skill:
    return admin_pb2.Skill(skill_id=s.id, display_name=s.name, description=s.description)


def skills_of(t: TenantConfig) -> tuple[SkillConfig, ...]:
    return t.skill_info or tuple(SkillConfig(s, s) for s in t.skills)


def _windows(ranges: Any, day: admin_pb2.Weekday.ValueType) -> list[admin_pb2.OpeningWindow]:
    return [admin_pb2.OpeningWindow(weekday=day, open_minute=a, close_minute=b) for a, b in ranges]


def hours_message(h: HoursConfig) -> admin_pb2.Hours:
    windows = [
        w
        for day, name in enumerate(WEEKDAYS)
        for w in _windows(h.week.get(name, ()), WEEKDAY_ENUM[day])
    ]
    exceptions = [
        admin_pb2.HoursException(date=date, windows=_windows(ranges, admin_pb2.WEEKDAY_UNSPECIFIED))
        for date, ranges in h.exceptions.items()
    ]
    return admin_pb2.Hours(
        hours_id=h.id,
        display_name=h.name or h.id,
        time_zone=h.timezone,
        windows=windows,
        exceptions=exceptions,
    )
