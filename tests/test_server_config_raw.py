"""config_raw: a parsed tenant written back in acd.toml's shape parses to the same tenant (the
stored form of runtime configuration); the keys that shape added (skill tables, an agent's own
tier, hours' name and exceptions) and their mistakes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from acd.server.config import BUNDLED_CONFIGS, ConfigError, load_bundled_config
from acd.server.config_raw import dumps, loads, seconds, tenant_raw
from acd.server.config_tenant import parse_tenant
from server_helpers import make_config

FULL: dict[str, Any] = {
    "name": "Full",
    "seed": 7,
    "dedup_window_s": 0.25,
    "skills": ["sales", {"id": "vip", "name": "VIP", "description": "big spenders"}],
    "groups": [{"id": "first", "tier": 1}, {"id": "second", "name": "Outsourced", "tier": 2}],
    "hours": [
        {
            "id": "store",
            "name": "Store hours",
            "timezone": "Europe/Berlin",
            "mon": ["08:00-12:00", "13:00-24:00"],
            "exceptions": {"2025-12-25": [], "2025-12-24": ["08:00-12:30"]},
        }
    ],
    "queues": [
        {
            "id": "sales",
            "skills": {"sales": 3},
            "strategy": "ring-all",
            "wrapup": "until-done",
            "offer_timeout_s": 0.001,
            "escalation": [{"after_s": 1.5, "max_tier": 2}, {"after_s": 3, "lower_levels_by": 1}],
            "max_wait_s": 60,
            "overflow_destination": "sip:overflow@pbx",
            "hours": "store",
            "no_answer": {"max_misses": 0, "reject_delay_s": 2.5},
        },
        {"id": "vip", "skills": {"vip": 1}, "max_wait_s": 123.456, "overflow_queue": "sales"},
    ],
    "agents": [
        {"id": "a1", "group": "second", "tier": 1, "skills": {"sales": 5}},
        {"id": "a2", "group": "second", "capacity": {"chat": 3}, "endpoint": "sip:a2@pbx"},
        {"id": "a3", "skills": {"vip": 10}, "name": "Agent Three"},
    ],
}


def test_every_sample_tenant_round_trips() -> None:
    configs = [load_bundled_config(name, environ={}) for name in BUNDLED_CONFIGS]
    for config in (*configs, make_config()):
        for tenant_id, tenant in config.tenants.items():
            assert parse_tenant(tenant_raw(tenant), tenant_id) == tenant
            assert loads(dumps(tenant), tenant_id) == tenant


def test_a_tenant_with_every_key_round_trips() -> None:
    tenant = parse_tenant(json.loads(json.dumps(FULL)), "full")
    assert loads(dumps(tenant), "full") == tenant
    a1, a2, a3 = tenant.agents
    assert (a1.tier, a1.own_tier, a2.tier, a2.own_tier, a3.tier) == (1, 1, 2, None, 1)
    assert [(s.id, s.name, s.description) for s in tenant.skill_info] == [
        ("sales", "sales", ""),
        ("vip", "VIP", "big spenders"),
    ]
    hours = tenant.hours[0]
    assert hours.name == "Store hours"
    assert dict(hours.exceptions) == {"2025-12-24": ((480, 750),), "2025-12-25": ()}
    assert tenant.queues[1].overflow is not None and tenant.queues[1].overflow.after_ms == 123_456
    assert tenant.dedup_window_ms == 250
    raw = tenant_raw(tenant)
    assert raw["skills"][0] == "sales" and "tier" not in raw["agents"][1]


@pytest.mark.parametrize("ms", [0, 1, 999, 1000, 1001, 123_456_789_123, 10**12])
def test_seconds_round_trip_to_the_same_milliseconds(ms: int) -> None:
    assert round(seconds(ms) * 1000) == ms


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        ({"agents": [{"id": "a", "tier": 0}]}, "agents[0].tier", "0 is outside 1..255"),
        ({"skills": [{"id": "s", "level": 1}]}, "skills[0].level", "unknown key"),
        ({"skills": [{"name": "s"}]}, "skills[0].id", "missing"),
        ({"skills": [3]}, "skills[0]", "expected a string"),
        (
            {"hours": [{"id": "h", "timezone": "UTC", "exceptions": {"2025-02-30": []}}]},
            "hours[0].exceptions.2025-02-30",
            "is not a date",
        ),
        (
            {"hours": [{"id": "h", "timezone": "UTC", "exceptions": {"2025-01-01": ["9-5"]}}]},
            "hours[0].exceptions.2025-01-01[0]",
            "is not a range",
        ),
    ],
)
def test_mistakes_in_the_added_keys_name_their_path(
    change: dict[str, Any], path: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_tenant(change, "t")
    assert caught.value.path == f"tenants.t.{path}"
    assert reason in caught.value.reason
