"""config_quality: scorecards in a tenant's section, their mistakes named by key path, and
their round trip through the stored form (config_raw)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from acd.server.config import ConfigError
from acd.server.config_quality import Criterion
from acd.server.config_raw import tenant_raw
from acd.server.config_tenant import parse_tenant

S0 = "tenants.store.scorecards[0]"
TENANT: dict[str, Any] = {
    "skills": ["sales"],
    "queues": [{"id": "sales", "skills": {"sales": 1}}],
    "agents": [{"id": "anna", "skills": {"sales": 5}}],
    "scorecards": [
        {
            "id": "voice",
            "max_score": 4,
            "criteria": [
                {"id": "greeting", "name": "Greeting", "weight": 1},
                {"id": "resolution", "weight": 2.5, "max_score": 10},
            ],
        },
        {"id": "short", "criteria": [{"id": "tone"}]},
    ],
}


def test_scorecards_with_their_defaults_and_round_trip() -> None:
    tenant = parse_tenant(copy.deepcopy(TENANT), "store")
    voice = tenant.quality.scorecard("voice")
    short = tenant.quality.scorecard("short")
    assert voice is not None and short is not None
    assert voice.criteria == (
        Criterion("greeting", "Greeting", 1.0, 4),  # the scorecard's scale
        Criterion("resolution", "resolution", 2.5, 10),  # its own; the name defaults to the id
    )
    assert short.criteria == (Criterion("tone", "tone", 1.0, 5),)  # weight 1, scale 0..5
    assert tenant.quality.scorecard("nope") is None
    assert parse_tenant(tenant_raw(tenant), "store") == tenant
    no_cards = {k: v for k, v in TENANT.items() if k != "scorecards"}
    assert parse_tenant(no_cards, "store").quality.scorecards == ()
    assert "scorecards" not in tenant_raw(parse_tenant(no_cards, "store"))


def _set(doc: dict[str, Any], path: str, value: object) -> None:
    """Sets ``path`` (``scorecards[0].criteria[1].weight``) inside the tenant table."""
    keys = path.replace("]", "").replace("[", ".").split(".")
    node: Any = doc
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    last = keys[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


@pytest.mark.parametrize(
    ("path", "value", "at", "reason"),
    [
        ("scorecards", {}, "tenants.store.scorecards", "expected an array"),
        ("scorecards[0].colour", 1, f"{S0}.colour", "unknown key"),
        ("scorecards[0].id", "", f"{S0}.id", "must be 1..256 characters"),
        ("scorecards[1].id", "voice", "tenants.store.scorecards[1].id", "duplicate scorecard"),
        ("scorecards[0].max_score", 0, f"{S0}.max_score", "0 is outside 1..100"),
        ("scorecards[0].criteria", [], f"{S0}.criteria", "at least one criterion"),
        ("scorecards[0].criteria[1].id", "greeting", f"{S0}.criteria[1].id", "duplicate"),
        ("scorecards[0].criteria[0].weight", 0, f"{S0}.criteria[0].weight", "more than 0"),
        ("scorecards[0].criteria[0].weight", -1, f"{S0}.criteria[0].weight", "outside"),
        ("scorecards[0].criteria[0].weight", "1", f"{S0}.criteria[0].weight", "a number"),
        ("scorecards[0].criteria[1].max_score", 101, f"{S0}.criteria[1].max_score", "outside"),
        ("scorecards[0].criteria[1].max_score", 2.5, f"{S0}.criteria[1].max_score", "integer"),
        ("scorecards[0].criteria[0].size", 1, f"{S0}.criteria[0].size", "unknown key"),
    ],
)
def test_a_mistake_names_its_key(path: str, value: object, at: str, reason: str) -> None:
    doc = copy.deepcopy(TENANT)
    _set(doc, path, value)
    with pytest.raises(ConfigError) as caught:
        parse_tenant(doc, "store")
    assert caught.value.path == at and reason in caught.value.reason
