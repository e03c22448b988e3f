"""The router's JSON configuration (ROUTING.md, Configuration), restricted to the reference subset.

Every field of the schema is recognised; fields the reference cannot honour (other strategies,
escalation, overflow, aging, voice capacity above 1) are refused with a ``ConfigError`` that
names the field, rather than silently ignored, so a differential test never compares the core
against a reference that quietly did something else.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from acd.reference.errors import ConfigError

STRATEGIES = frozenset(
    {
        "longest-idle",
        "round-robin",
        "fewest-calls",
        "least-talk-time",
        "linear",
        "random",
        "best-skill",
        "ring-all",
    }
)
CHANNELS = frozenset({"voice", "callback", "chat", "email", "messenger"})
MIN_LEVEL, MAX_LEVEL = 1, 10


@dataclass(frozen=True, slots=True)
class NoAnswerPolicy:
    """What happens to an agent that rejects an offer or lets it time out."""

    reject_delay_ms: int = 0
    timeout_delay_ms: int = 0
    max_misses: int = 3


@dataclass(frozen=True, slots=True)
class QueueConfig:
    id: str
    skills: dict[str, int]
    offer_timeout_ms: int
    wrapup_ms: int
    wrapup_until_done: bool
    no_answer: NoAnswerPolicy
    max_tier: int
    prefer_lower_tier: bool
    ttl_ms: int
    sl_threshold_ms: int
    short_abandon_ms: int


@dataclass(frozen=True, slots=True)
class AgentConfig:
    id: str
    skills: dict[str, int]
    tier: int
    group: str
    capacity: dict[str, int]


@dataclass(frozen=True, slots=True)
class RouterConfig:
    seed: int
    dedup_window_ms: int
    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentConfig, ...]


class _Fields:
    """Reads the fields of one JSON object at ``path``; refuses unknown ones."""

    def __init__(self, raw: object, path: str, known: tuple[str, ...]) -> None:
        if not isinstance(raw, dict):
            where = path or "config"
            raise ConfigError(f"{where}: expected an object, got {_json_type(raw)}")
        for name in raw:
            if name not in known:
                raise ConfigError(f"{_join(path, name)}: unknown field")
        self.raw: dict[str, Any] = raw
        self.path = path

    def field(self, name: str) -> str:
        return _join(self.path, name)

    def integer(self, name: str, default: int, lo: int, hi: int | None = None) -> int:
        value = self.raw.get(name, default)
        return _integer(value, self.field(name), lo, hi)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.field(name)}: expected a boolean, got {_json_type(value)}")
        return value

    def string(self, name: str, default: str | None = None) -> str:
        if name not in self.raw and default is None:
            raise ConfigError(f"{self.field(name)}: missing")
        value = self.raw.get(name, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.field(name)}: expected a string, got {_json_type(value)}")
        return value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _integer(value: object, path: str, lo: int, hi: int | None = None) -> int:
    if type(value) is not int:
        raise ConfigError(f"{path}: expected an integer, got {_json_type(value)}")
    if value < lo or (hi is not None and value > hi):
        if lo == 1 and hi is None:
            raise ConfigError(f"{path}: must be above 0")
        bound = f"{lo}..{hi}" if hi is not None else f"{lo}.."
        raise ConfigError(f"{path}: {value} out of range {bound}")
    return value


def _check_id(path: str, value: str) -> str:
    """Ids and skill names, as the core checks them: 1..256 UTF-8 bytes, no control chars."""
    if (
        not value
        or len(value.encode()) > 256
        or any(unicodedata.category(c) == "Cc" for c in value)
    ):
        raise ConfigError(f"{path}: must be 1..256 characters without control characters")
    return value


def _skills(raw: object, path: str) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected an object, got {_json_type(raw)}")
    skills: dict[str, int] = {}
    for name, level in raw.items():
        _check_id(f"{path}.{name}", name)
        if type(level) is not int:
            raise ConfigError(f"{path}.{name}: expected an integer, got {_json_type(level)}")
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise ConfigError(f"{path}.{name}: level {level} out of range {MIN_LEVEL}..{MAX_LEVEL}")
        skills[name] = level
    return skills


def _unsupported(path: str, value: object, note: str = "") -> ConfigError:
    return ConfigError(f"{path}: {value!r} is not supported by the reference router{note}")


_NO_ANSWER_FIELDS = ("reject_delay_ms", "timeout_delay_ms", "max_misses")
_QUEUE_FIELDS = (
    "id",
    "skills",
    "strategy",
    "ring_all_max",
    "sl_threshold_ms",
    "short_abandon_ms",
    "offer_timeout_ms",
    "wrapup_ms",
    "wrapup_until_done",
    "no_answer",
    "max_tier",
    "prefer_lower_tier",
    "escalation",
    "overflow",
    "ttl_ms",
    "aging_ms",
)


def _queue(raw: object, path: str) -> QueueConfig:
    f = _Fields(raw, path, _QUEUE_FIELDS)
    queue_id = _check_id(f.field("id"), f.string("id"))
    strategy = f.string("strategy", "longest-idle")
    if strategy not in STRATEGIES:
        raise ConfigError(f"{f.field('strategy')}: unknown strategy {strategy!r}")
    if strategy != "longest-idle":
        raise _unsupported(f.field("strategy"), strategy)
    f.integer("ring_all_max", 3, 1)
    if f.raw.get("escalation", []) != []:
        raise _unsupported(f.field("escalation"), f.raw["escalation"])
    if f.raw.get("overflow") is not None:
        raise _unsupported(f.field("overflow"), f.raw["overflow"])
    aging_ms = f.integer("aging_ms", 0, 0)
    if aging_ms != 0:
        raise _unsupported(f.field("aging_ms"), aging_ms, " (only 0)")
    na = _Fields(f.raw.get("no_answer", {}), f.field("no_answer"), _NO_ANSWER_FIELDS)
    return QueueConfig(
        id=queue_id,
        skills=_skills(f.raw.get("skills", {}), f.field("skills")),
        # An offer must last at least 1 ms: with 0 a rejecting agent could be re-offered the
        # same call at the same instant forever.
        offer_timeout_ms=f.integer("offer_timeout_ms", 15000, 1),
        wrapup_ms=f.integer("wrapup_ms", 5000, 0),
        wrapup_until_done=f.boolean("wrapup_until_done", False),
        no_answer=NoAnswerPolicy(
            reject_delay_ms=na.integer("reject_delay_ms", 0, 0),
            timeout_delay_ms=na.integer("timeout_delay_ms", 0, 0),
            max_misses=na.integer("max_misses", 3, 0),
        ),
        max_tier=f.integer("max_tier", 0, 0),
        prefer_lower_tier=f.boolean("prefer_lower_tier", True),
        ttl_ms=f.integer("ttl_ms", 14_400_000, 1),
        sl_threshold_ms=f.integer("sl_threshold_ms", 20000, 0),
        short_abandon_ms=f.integer("short_abandon_ms", 5000, 0),
    )


def _agent(raw: object, path: str) -> AgentConfig:
    f = _Fields(raw, path, ("id", "skills", "tier", "group", "capacity"))
    agent_id = _check_id(f.field("id"), f.string("id"))
    capacity_raw = f.raw.get("capacity", {"voice": 1, "callback": 1})
    cap_path = f.field("capacity")
    if not isinstance(capacity_raw, dict):
        raise ConfigError(f"{cap_path}: expected an object, got {_json_type(capacity_raw)}")
    capacity: dict[str, int] = {}
    for channel, amount in capacity_raw.items():
        if channel not in CHANNELS:
            raise ConfigError(f"{cap_path}.{channel}: unknown channel")
        capacity[channel] = _integer(amount, f"{cap_path}.{channel}", 0)
    if capacity.get("voice", 0) > 1:
        raise _unsupported(f"{cap_path}.voice", capacity["voice"], " (only 0 or 1)")
    return AgentConfig(
        id=agent_id,
        skills=_skills(f.raw.get("skills", {}), f.field("skills")),
        tier=_tier(f),
        group=f.string("group", ""),
        capacity=capacity,
    )


def _tier(f: _Fields) -> int:
    tier = f.raw.get("tier", 1)
    if tier == 0 and type(tier) is int:
        raise ConfigError(f"{f.field('tier')}: tiers start at 1")
    return _integer(tier, f.field("tier"), 1, 255)


def _unique(items: list[Any], kind: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.id in seen:
            raise ConfigError(f"{kind}s[{i}].id: duplicate {kind} '{item.id}'")
        seen.add(item.id)


def parse_config(config_json: str) -> RouterConfig:
    """Parse and validate ``config_json``; raise ``ConfigError`` naming the offending field."""
    try:
        raw = json.loads(config_json)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config: invalid JSON: {exc}") from None
    f = _Fields(raw, "", ("seed", "dedup_window_ms", "queues", "agents"))
    lists: dict[str, list[Any]] = {}
    for name in ("queues", "agents"):
        value = f.raw.get(name, [])
        if not isinstance(value, list):
            raise ConfigError(f"{name}: expected an array, got {_json_type(value)}")
        lists[name] = value
    queues = [_queue(q, f"queues[{i}]") for i, q in enumerate(lists["queues"])]
    agents = [_agent(a, f"agents[{i}]") for i, a in enumerate(lists["agents"])]
    _unique(queues, "queue")
    _unique(agents, "agent")
    return RouterConfig(
        seed=f.integer("seed", 0, 0),
        dedup_window_ms=f.integer("dedup_window_ms", 3_600_000, 0),
        queues=tuple(queues),
        agents=tuple(agents),
    )
