"""The inverse of ``parse_tenant``: a ``TenantConfig`` as the TOML-shaped table it was read from.

``parse_tenant(tenant_raw(config), config.id) == config`` for every config ``parse_tenant``
returns: durations go back to seconds (an integer where whole, else a float that rounds back to
the same milliseconds), defaults are written out, and an agent's tier is written only where the
agent sets its own. The runtime configuration is stored in this shape (JSON) and every change to
it is validated by ``parse_tenant`` again, so acd.toml and the API share one validation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from acd.server.config_alerts import alert_notify_raw, queue_alerts_raw
from acd.server.config_contacts import queue_contacts_raw, tenant_contacts_raw
from acd.server.config_hours import WEEKDAYS, HoursConfig
from acd.server.config_quality import tenant_quality_raw
from acd.server.config_queue_options import options_raw
from acd.server.config_tenant import (
    WRAPUP_UNTIL_DONE,
    AgentConfig,
    GroupConfig,
    QueueConfig,
    SkillConfig,
    TenantConfig,
    parse_tenant,
)

Raw = dict[str, Any]


def seconds(ms: int) -> int | float:
    """Milliseconds as the file's seconds: exact, and an integer when whole."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def minutes_range(start: int, end: int) -> str:
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def skill_raw(s: SkillConfig) -> str | Raw:
    if s.name == s.id and not s.description:
        return s.id
    out: Raw = {"id": s.id, "name": s.name}
    if s.description:
        out["description"] = s.description
    return out


def group_raw(g: GroupConfig) -> Raw:
    return {"id": g.id, "name": g.name, "tier": g.tier, "can_pick": g.can_pick}


def hours_raw(h: HoursConfig) -> Raw:
    out: Raw = {"id": h.id, "name": h.name or h.id, "timezone": h.timezone}
    for day in WEEKDAYS:
        if day in h.week:
            out[day] = [minutes_range(a, b) for a, b in h.week[day]]
    if h.exceptions:
        out["exceptions"] = {
            date: [minutes_range(a, b) for a, b in ranges] for date, ranges in h.exceptions.items()
        }
    return out


def queue_raw(q: QueueConfig) -> Raw:
    out: Raw = {
        "id": q.id,
        "name": q.name,
        "skills": dict(q.skills),
        "strategy": q.strategy,
        "ring_all_max": q.ring_all_max,
        "sl_threshold_s": seconds(q.sl_threshold_ms),
        "short_abandon_s": seconds(q.short_abandon_ms),
        "offer_timeout_s": seconds(q.offer_timeout_ms),
        "wrapup": WRAPUP_UNTIL_DONE if q.wrapup_until_done else seconds(q.wrapup_ms),
        "no_answer": {
            "reject_delay_s": seconds(q.no_answer.reject_delay_ms),
            "timeout_delay_s": seconds(q.no_answer.timeout_delay_ms),
            "max_misses": q.no_answer.max_misses,
        },
        "max_tier": q.max_tier,
        "prefer_lower_tier": q.prefer_lower_tier,
        "escalation": [_step_raw(s.after_ms, s.lower_levels_by, s.max_tier) for s in q.escalation],
        "ttl_s": seconds(q.ttl_ms),
        "aging_s": seconds(q.aging_ms),
    }
    if q.overflow is not None:
        out["max_wait_s"] = seconds(q.overflow.after_ms)
        if q.overflow.queue is not None:
            out["overflow_queue"] = q.overflow.queue
        if q.overflow.destination is not None:
            out["overflow_destination"] = q.overflow.destination
    if q.hours is not None:
        out["hours"] = q.hours
    out.update(options_raw(q.options))
    out.update(queue_contacts_raw(q.contacts))
    out.update(queue_alerts_raw(q.alerts))
    return out


def _step_raw(after_ms: int, lower: int | None, tier: int | None) -> Raw:
    out: Raw = {"after_s": seconds(after_ms)}
    if lower is not None:
        out["lower_levels_by"] = lower
    if tier is not None:
        out["max_tier"] = tier
    return out


def agent_raw(a: AgentConfig) -> Raw:
    out: Raw = {"id": a.id, "name": a.name}
    if a.group is not None:
        out["group"] = a.group
    if a.own_tier is not None:
        out["tier"] = a.own_tier
    out["skills"] = dict(a.skills)
    out["capacity"] = dict(a.capacity)
    if a.endpoint is not None:
        out["endpoint"] = a.endpoint
    if a.own_can_pick is not None:
        out["can_pick"] = a.own_can_pick
    return out


def tenant_raw(t: TenantConfig) -> Raw:
    """The ``[tenants.<id>]`` table that ``parse_tenant`` turns back into ``t``."""
    skills = t.skill_info or tuple(SkillConfig(s, s) for s in t.skills)
    return {
        "name": t.name,
        "seed": t.seed,
        "dedup_window_s": seconds(t.dedup_window_ms),
        "skills": [skill_raw(s) for s in skills],
        "groups": [group_raw(g) for g in t.groups],
        "hours": [hours_raw(h) for h in t.hours],
        "queues": [queue_raw(q) for q in t.queues],
        "agents": [agent_raw(a) for a in t.agents],
        **tenant_contacts_raw(t.contacts),
        **alert_notify_raw(t.alert_notify),
        **tenant_quality_raw(t.quality),
    }


def dumps(t: TenantConfig) -> str:
    """The stored text of a tenant's configuration (JSON of ``tenant_raw``)."""
    return json.dumps(tenant_raw(t), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads(text: str, tenant_id: str) -> TenantConfig:
    """A stored configuration back, through the same validation as acd.toml."""
    raw = json.loads(text)
    if not isinstance(raw, Mapping):
        raise ValueError(f"stored config of tenant {tenant_id!r} is not a table")
    return parse_tenant(dict(raw), tenant_id)
