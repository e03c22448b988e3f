"""One tenant's section of ``acd.toml``: skills, groups, business hours, queues, agents.

Durations are seconds in the file (``sl_threshold_s = 20``) and milliseconds in the router;
``core_config_json`` writes the router's JSON config (acd_core/ROUTING.md, Configuration), and
``parse_tenant`` proves it by building an ``acd.Router`` from it, so a tenant that loads is a
tenant the router accepts.

Keys (every one optional but ``id``; defaults as in ROUTING.md):
- tenant: ``name``, ``seed``, ``dedup_window_s``, ``skills`` (the skills: each a skill id, or a
  table {``id``, ``name``, ``description``}), and the arrays of tables ``groups``, ``hours``
  (config_hours), ``queues``, ``agents``; the contact-history options ``campaigns``,
  ``knowledge_base``, ``repeat_caller_window_days`` (config_contacts); the quality
  ``scorecards`` (config_quality).
- group: ``id``, ``name``, ``tier`` (1 = first line). An agent's tier is its group's.
- queue: ``id``, ``name``, ``skills`` {skill = min level}, ``strategy``, ``ring_all_max``,
  ``sl_threshold_s``, ``short_abandon_s``, ``offer_timeout_s``, ``wrapup`` (seconds or
  "until-done"), ``no_answer`` {``reject_delay_s``, ``timeout_delay_s``, ``max_misses``},
  ``max_tier``, ``prefer_lower_tier``, ``escalation`` [{``after_s``, ``lower_levels_by``,
  ``max_tier``}], ``max_wait_s`` with ``overflow_queue`` or ``overflow_destination``, ``ttl_s``
  (time to live), ``aging_s``, ``hours``, and the service-side options ``break_guard``,
  ``break_reasons``, ``out_of_hours``, ``default_handle_s`` (config_queue_options),
  ``dispositions``, ``disposition_required``, ``missed_callback_within_s`` (config_contacts),
  ``alerts`` (thresholds: config_alerts).
- agent: ``id``, ``name``, ``group``, ``tier`` (overrides the group's; default: the group's, or
  1), ``skills`` {skill = level 1..10}, ``capacity`` {channel = n}, ``endpoint`` (a URI the PBX
  rings, e.g. ``sip:anna@pbx.example``), ``can_pick`` (may take a waiting call out of the line
  for themselves, PickCall; default: the group's ``can_pick``, else false).

``config_raw.tenant_raw`` is the inverse of ``parse_tenant``: the runtime configuration is
stored in this same shape and goes through this same validation (``acd.server.tenant_admin``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from acd import ConfigError as CoreConfigError
from acd import Router
from acd.server.config_alerts import (
    ALERT_QUEUE_KEYS,
    ALERT_TENANT_KEYS,
    AlertNotify,
    QueueAlerts,
    parse_alert_notify,
    parse_queue_alerts,
)
from acd.server.config_contacts import (
    CONTACT_QUEUE_KEYS,
    CONTACT_TENANT_KEYS,
    QueueContacts,
    TenantContacts,
    parse_queue_contacts,
    parse_tenant_contacts,
)
from acd.server.config_fields import (
    ConfigError,
    Table,
    check_id,
    frozen,
    join,
    type_name,
    unique,
)
from acd.server.config_hours import HOURS_KEYS, HoursConfig, parse_hours
from acd.server.config_quality import QUALITY_TENANT_KEYS, TenantQuality, parse_tenant_quality
from acd.server.config_queue_options import (
    QUEUE_OPTION_KEYS,
    QueueOptions,
    check_queue_options,
    parse_queue_options,
)

STRATEGIES = (
    "longest-idle",
    "round-robin",
    "fewest-calls",
    "least-talk-time",
    "linear",
    "random",
    "best-skill",
    "ring-all",
)
CHANNELS = ("voice", "callback", "chat", "email", "messenger")
MIN_LEVEL, MAX_LEVEL = 1, 10
MAX_TIER = 255  # the router keeps tiers in a byte
WRAPUP_UNTIL_DONE = "until-done"


@dataclass(frozen=True, slots=True)
class SkillConfig:
    id: str
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """A set of agents sharing a tier (1 = first line; higher tiers take overflow)."""

    id: str
    name: str
    tier: int
    can_pick: bool = False  # its agents may pick waiting calls (unless an agent says otherwise)


@dataclass(frozen=True, slots=True)
class NoAnswerPolicy:
    reject_delay_ms: int = 0
    timeout_delay_ms: int = 0
    max_misses: int = 3


@dataclass(frozen=True, slots=True)
class EscalationStep:
    after_ms: int
    lower_levels_by: int | None = None
    max_tier: int | None = None


@dataclass(frozen=True, slots=True)
class Overflow:
    """Where a call goes after ``after_ms`` (the queue's max wait): a queue or a destination."""

    after_ms: int
    queue: str | None = None
    destination: str | None = None


@dataclass(frozen=True, slots=True)
class QueueConfig:
    id: str
    name: str
    skills: Mapping[str, int]
    strategy: str
    ring_all_max: int
    sl_threshold_ms: int
    short_abandon_ms: int
    offer_timeout_ms: int
    wrapup_ms: int
    wrapup_until_done: bool
    no_answer: NoAnswerPolicy
    max_tier: int
    prefer_lower_tier: bool
    escalation: tuple[EscalationStep, ...]
    overflow: Overflow | None
    ttl_ms: int
    aging_ms: int
    hours: str | None
    options: QueueOptions = field(default_factory=QueueOptions)
    contacts: QueueContacts = field(default_factory=QueueContacts)  # config_contacts
    alerts: QueueAlerts = field(default_factory=QueueAlerts)  # config_alerts


@dataclass(frozen=True, slots=True)
class AgentConfig:
    id: str
    name: str
    group: str | None
    tier: int
    skills: Mapping[str, int]
    capacity: Mapping[str, int]
    endpoint: str | None
    own_tier: int | None = None  # the tier set on the agent itself (None: its group's)
    can_pick: bool = False  # may pick a waiting call for themselves (the effective value)
    own_can_pick: bool | None = None  # set on the agent itself (None: its group's)


@dataclass(frozen=True, slots=True)
class TenantConfig:
    id: str
    name: str
    seed: int
    dedup_window_ms: int
    skills: tuple[str, ...]
    groups: tuple[GroupConfig, ...]
    hours: tuple[HoursConfig, ...]
    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentConfig, ...]
    # Every skill of ``skills`` with its display name and description, in the same order.
    skill_info: tuple[SkillConfig, ...] = ()
    contacts: TenantContacts = field(default_factory=TenantContacts)  # config_contacts
    alert_notify: AlertNotify = field(default_factory=AlertNotify)  # config_alerts
    quality: TenantQuality = field(default_factory=TenantQuality)  # config_quality

    def agent_ids(self) -> frozenset[str]:
        return frozenset(a.id for a in self.agents)


_TENANT_KEYS = (
    *("name", "seed", "dedup_window_s", "skills", "groups", "hours", "queues", "agents"),
    *CONTACT_TENANT_KEYS,
    *ALERT_TENANT_KEYS,
    *QUALITY_TENANT_KEYS,
)
_GROUP_KEYS = ("id", "name", "tier", "can_pick")
_QUEUE_KEYS = (
    *("id", "name", "skills", "strategy", "ring_all_max", "sl_threshold_s", "short_abandon_s"),
    *("offer_timeout_s", "wrapup", "no_answer", "max_tier", "prefer_lower_tier", "escalation"),
    *("max_wait_s", "overflow_queue", "overflow_destination", "ttl_s", "aging_s", "hours"),
    *QUEUE_OPTION_KEYS,
    *CONTACT_QUEUE_KEYS,
    *ALERT_QUEUE_KEYS,
)
_NO_ANSWER_KEYS = ("reject_delay_s", "timeout_delay_s", "max_misses")
_STEP_KEYS = ("after_s", "lower_levels_by", "max_tier")
_AGENT_KEYS = ("id", "name", "group", "tier", "skills", "capacity", "endpoint", "can_pick")
_SKILL_KEYS = ("id", "name", "description")


def _levels(t: Table, name: str, skills: set[str]) -> Mapping[str, int]:
    """Skill -> level (1..10); every skill must be one the tenant declares."""
    raw = t.raw.get(name, {})
    levels = Table(raw, t.key(name), raw if isinstance(raw, dict) else ())
    out: dict[str, int] = {}
    for skill, value in levels.raw.items():
        path = levels.key(skill)
        if skill not in skills:
            raise ConfigError(path, f"unknown skill {skill!r}")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"expected an integer level, got {type_name(value)}")
        if not MIN_LEVEL <= value <= MAX_LEVEL:
            raise ConfigError(path, f"level {value} is outside {MIN_LEVEL}..{MAX_LEVEL}")
        out[skill] = value
    return frozen(out)


def _wrapup(t: Table) -> tuple[int, bool]:
    """``wrapup`` is seconds of after-call work, or "until-done" (the agent says when)."""
    if t.raw.get("wrapup") == WRAPUP_UNTIL_DONE:
        return 0, True
    if isinstance(t.raw.get("wrapup"), str):
        raise ConfigError(t.key("wrapup"), f"expected seconds or {WRAPUP_UNTIL_DONE!r}")
    return t.millis("wrapup", 5_000), False


def _escalation(t: Table) -> tuple[EscalationStep, ...]:
    steps = []
    last = 0
    for step in t.tables("escalation", _STEP_KEYS):
        after_ms = step.millis("after_s", None, minimum_s=0.001)
        if after_ms < last:
            raise ConfigError(step.key("after_s"), "steps must come in increasing order")
        last = after_ms
        lower = step.integer("lower_levels_by", 0, 0, MAX_LEVEL)
        tier = step.integer("max_tier", 0, 0, MAX_TIER)
        steps.append(
            EscalationStep(
                after_ms,
                lower if step.has("lower_levels_by") else None,
                tier if step.has("max_tier") else None,
            )
        )
    return tuple(steps)


def _overflow(t: Table) -> Overflow | None:
    """``max_wait_s`` with exactly one target: ``overflow_queue`` or ``overflow_destination``."""
    queue = t.optional_string("overflow_queue")
    destination = t.optional_string("overflow_destination")
    if not t.has("max_wait_s"):
        for name in ("overflow_queue", "overflow_destination"):
            if t.has(name):
                raise ConfigError(t.key(name), "needs max_wait_s (the wait before overflowing)")
        return None
    if (queue is None) == (destination is None):
        raise ConfigError(
            t.key("max_wait_s"), "name exactly one of overflow_queue or overflow_destination"
        )
    if destination is not None:
        check_id(t.key("overflow_destination"), destination)
    return Overflow(t.millis("max_wait_s", None, minimum_s=0.001), queue, destination)


def _queue(t: Table, skills: set[str]) -> QueueConfig:
    wrapup_ms, until_done = _wrapup(t)
    na = t.table("no_answer", _NO_ANSWER_KEYS)
    queue_id = t.ident("id")
    return QueueConfig(
        id=queue_id,
        name=t.string("name", queue_id),
        skills=_levels(t, "skills", skills),
        strategy=t.choice("strategy", "longest-idle", STRATEGIES),
        ring_all_max=t.integer("ring_all_max", 3, 1, 1000),
        sl_threshold_ms=t.millis("sl_threshold_s", 20_000),
        short_abandon_ms=t.millis("short_abandon_s", 5_000),
        offer_timeout_ms=t.millis("offer_timeout_s", 15_000, minimum_s=0.001),
        wrapup_ms=wrapup_ms,
        wrapup_until_done=until_done,
        no_answer=NoAnswerPolicy(
            reject_delay_ms=na.millis("reject_delay_s", 0),
            timeout_delay_ms=na.millis("timeout_delay_s", 0),
            max_misses=na.integer("max_misses", 3, 0, 1000),
        ),
        max_tier=t.integer("max_tier", 0, 0, MAX_TIER),
        prefer_lower_tier=t.boolean("prefer_lower_tier", True),
        escalation=_escalation(t),
        overflow=_overflow(t),
        ttl_ms=t.millis("ttl_s", 4 * 3_600_000, minimum_s=0.001),
        aging_ms=t.millis("aging_s", 0),
        hours=t.optional_string("hours"),
        options=parse_queue_options(t),
        contacts=parse_queue_contacts(t),
        alerts=parse_queue_alerts(t),
    )


def _agent(t: Table, skills: set[str], groups: Mapping[str, GroupConfig]) -> AgentConfig:
    agent_id = t.ident("id")
    group = t.optional_string("group")
    if group is not None and group not in groups:
        raise ConfigError(t.key("group"), f"unknown group {group!r}")
    capacity = t.table("capacity", CHANNELS)
    endpoint = t.optional_string("endpoint")
    if endpoint is not None and (":" not in endpoint or any(c.isspace() for c in endpoint)):
        raise ConfigError(t.key("endpoint"), "expected a URI such as 'sip:alice@pbx.example'")
    own_tier = t.integer("tier", 1, 1, MAX_TIER) if t.has("tier") else None
    group_tier = groups[group].tier if group is not None else 1
    own_can_pick = t.boolean("can_pick", False) if t.has("can_pick") else None
    group_can_pick = groups[group].can_pick if group is not None else False
    return AgentConfig(
        id=agent_id,
        name=t.string("name", agent_id),
        group=group,
        tier=own_tier if own_tier is not None else group_tier,
        skills=_levels(t, "skills", skills),
        # A capacity table replaces the default as a whole, as in the router's own config.
        capacity=frozen(
            {c: capacity.integer(c, None, 0, 255) for c in CHANNELS if capacity.has(c)}
            if capacity.raw
            else {"voice": 1, "callback": 1}
        ),
        endpoint=endpoint,
        own_tier=own_tier,
        can_pick=group_can_pick if own_can_pick is None else own_can_pick,
        own_can_pick=own_can_pick,
    )


def _skill(raw: object, path: str) -> SkillConfig:
    """A skill: its id alone, or a table with its display name and description."""
    if not isinstance(raw, dict):
        skill_id = check_id(path, raw)
        return SkillConfig(skill_id, skill_id)
    t = Table(raw, path, _SKILL_KEYS)
    skill_id = t.ident("id")
    return SkillConfig(skill_id, t.string("name", skill_id), t.string("description", ""))


def parse_tenant(raw: object, tenant_id: str) -> TenantConfig:
    """Validates ``[tenants.<tenant_id>]`` and checks that the router accepts the result."""
    t = Table(raw, join("tenants", tenant_id), _TENANT_KEYS)
    skills_path = t.key("skills")
    skill_info = tuple(_skill(s, f"{skills_path}[{i}]") for i, s in enumerate(t.array("skills")))
    skill_list = [s.id for s in skill_info]
    skills = unique(((f"{skills_path}[{i}]", s) for i, s in enumerate(skill_list)), "skill")

    group_tables = t.tables("groups", _GROUP_KEYS)
    groups = tuple(
        GroupConfig(
            g.ident("id"),
            g.string("name", g.raw["id"]),
            g.integer("tier", 1, 1, MAX_TIER),
            g.boolean("can_pick", False),
        )
        for g in group_tables
    )
    unique(((gt.key("id"), g.id) for gt, g in zip(group_tables, groups, strict=True)), "group")

    hour_tables = t.tables("hours", HOURS_KEYS)
    hours = tuple(parse_hours(h) for h in hour_tables)
    hour_ids = unique(
        ((ht.key("id"), h.id) for ht, h in zip(hour_tables, hours, strict=True)), "hours"
    )

    queue_tables = t.tables("queues", _QUEUE_KEYS)
    queues = tuple(_queue(q, skills) for q in queue_tables)
    queue_ids = unique(
        ((qt.key("id"), q.id) for qt, q in zip(queue_tables, queues, strict=True)), "queue"
    )
    for qt, q in zip(queue_tables, queues, strict=True):
        if q.hours is not None and q.hours not in hour_ids:
            raise ConfigError(qt.key("hours"), f"unknown hours {q.hours!r}")
        target = q.overflow.queue if q.overflow else None
        if target == q.id:
            raise ConfigError(qt.key("overflow_queue"), "a queue cannot overflow to itself")
        if target is not None and target not in queue_ids:
            raise ConfigError(qt.key("overflow_queue"), f"unknown queue {target!r}")
        check_queue_options(qt, q.options, q.id, q.hours is not None, queue_ids)

    by_group = {g.id: g for g in groups}
    agent_tables = t.tables("agents", _AGENT_KEYS)
    agents = tuple(_agent(a, skills, by_group) for a in agent_tables)
    unique(((at.key("id"), a.id) for at, a in zip(agent_tables, agents, strict=True)), "agent")

    tenant = TenantConfig(
        id=tenant_id,
        name=t.string("name", tenant_id),
        seed=t.integer("seed", 1, 0, 2**64 - 1),
        dedup_window_ms=t.millis("dedup_window_s", 3_600_000),
        skills=tuple(skill_list),
        groups=groups,
        hours=hours,
        queues=queues,
        agents=agents,
        skill_info=skill_info,
        contacts=parse_tenant_contacts(t, queue_ids),
        alert_notify=parse_alert_notify(t),
        quality=parse_tenant_quality(t),
    )
    try:
        Router(core_config_json(tenant))
    except CoreConfigError as e:
        raise ConfigError(t.path, f"the router refused this tenant's config: {e}") from e
    return tenant


def core_config_json(tenant: TenantConfig) -> str:
    """The router's JSON config for one tenant (acd_core/ROUTING.md, Configuration)."""
    queues = []
    for q in tenant.queues:
        queue: dict[str, object] = {
            "id": q.id,
            "skills": dict(q.skills),
            "strategy": q.strategy,
            "ring_all_max": q.ring_all_max,
            "sl_threshold_ms": q.sl_threshold_ms,
            "short_abandon_ms": q.short_abandon_ms,
            "offer_timeout_ms": q.offer_timeout_ms,
            "wrapup_ms": q.wrapup_ms,
            "wrapup_until_done": q.wrapup_until_done,
            "no_answer": {
                "reject_delay_ms": q.no_answer.reject_delay_ms,
                "timeout_delay_ms": q.no_answer.timeout_delay_ms,
                "max_misses": q.no_answer.max_misses,
            },
            "max_tier": q.max_tier,
            "prefer_lower_tier": q.prefer_lower_tier,
            "escalation": [_step_json(s) for s in q.escalation],
            "ttl_ms": q.ttl_ms,
            "aging_ms": q.aging_ms,
        }
        if q.overflow is not None:
            target = {"queue": q.overflow.queue} if q.overflow.queue else {}
            if q.overflow.destination is not None:
                target = {"destination": q.overflow.destination}
            queue["overflow"] = {"after_ms": q.overflow.after_ms, **target}
        queues.append(queue)
    agents = [
        {
            "id": a.id,
            "skills": dict(a.skills),
            "tier": a.tier,
            "group": a.group or "",
            "capacity": dict(a.capacity),
        }
        for a in tenant.agents
    ]
    config = {
        "seed": tenant.seed,
        "dedup_window_ms": tenant.dedup_window_ms,
        "queues": queues,
        "agents": agents,
    }
    return json.dumps(config, separators=(",", ":"))


def _step_json(step: EscalationStep) -> dict[str, int]:
    out = {"after_ms": step.after_ms}
    if step.lower_levels_by is not None:
        out["lower_levels_by"] = step.lower_levels_by
    if step.max_tier is not None:
        out["max_tier"] = step.max_tier
    return out
