"""Campaign numbers (config_contacts): dialled numbers map to campaigns; every call carries
its campaign into the history, the agent's offer and the screen pop."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.server.clock import Clock
from acd.server.config import ConfigError
from acd.server.config_contacts import normalize_number
from acd.server.config_raw import tenant_raw
from acd.server.config_tenant import parse_tenant
from acd.v1 import admin_pb2
from history_helpers import (
    FakeWall,
    config,
    contacts,
    enqueue,
    login_ready,
    next_offer,
    pop_of_call,
)
from server_helpers import md, running


def test_every_call_carries_the_campaign_of_its_dialled_number(tmp_path: Path) -> None:
    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "radio-1", caller_number="+4930111", dialled_number="+49 800 100-200")
        offer = next_offer(anna)
        assert offer.screen_pop.campaign == "radio"  # the agent sees it with the offer
        assert offer.screen_pop.dialled_number == "+49 800 100-200"
        enqueue(s, "flyer-1", "support", dialled_number="0800 555")
        enqueue(s, "none-1", "support", dialled_number="+49301234")
        enqueue(s, "none-2", "support")
        assert pop_of_call(s, "flyer-1").campaign == "flyer"
        assert pop_of_call(s, "none-1").campaign == ""
    campaigns = {r["call_id"]: r["campaign"] for r in contacts(tmp_path / "data")}
    assert campaigns == {"radio-1": "radio", "flyer-1": "flyer", "none-1": "", "none-2": ""}


def test_an_admin_change_keeps_the_campaigns(tmp_path: Path) -> None:
    """A configuration change through AdminService rewrites the tenant from its runtime
    shape (config_raw): the campaigns must come through it."""
    with running(tmp_path, config(), clock=Clock(FakeWall())) as (_, s):
        enqueue(s, "before", "support", dialled_number="+4930999")
        skill = admin_pb2.Skill(skill_id="returns")
        s.admin.UpsertSkill(admin_pb2.UpsertSkillRequest(skill=skill), metadata=md("t-admin"))
        enqueue(s, "after", "support", dialled_number="+49 800 100 200")
        assert pop_of_call(s, "after").campaign == "radio"
        assert pop_of_call(s, "before").campaign == ""


_BASE = {"skills": ["s"], "queues": [{"id": "q", "skills": {"s": 1}}]}


@pytest.mark.parametrize(
    ("extra", "path", "reason"),
    [
        (
            {"campaigns": [{"id": "a", "numbers": ["0800 1"]}, {"id": "b", "numbers": ["08001"]}]},
            "tenants.t.campaigns[1].numbers[0]",
            "number '08001' already belongs to 'a'",
        ),
        (
            {"campaigns": [{"id": "a", "numbers": []}, {"id": "a", "numbers": []}]},
            "tenants.t.campaigns[1].id",
            "duplicate campaign 'a'",
        ),
        (
            {"knowledge_base": [{"queue": "nope", "title": "x", "url": "https://x"}]},
            "tenants.t.knowledge_base[0].queue",
            "unknown queue 'nope'",
        ),
        (
            {"knowledge_base": [{"campaign": "nope", "title": "x", "url": "https://x"}]},
            "tenants.t.knowledge_base[0].campaign",
            "unknown campaign 'nope'",
        ),
        (
            {"knowledge_base": [{"title": "x", "url": "wiki page"}]},
            "tenants.t.knowledge_base[0].url",
            "expected a URL such as 'https://wiki.example/a'",
        ),
        ({"repeat_caller_window_days": 0}, "tenants.t.repeat_caller_window_days", "0 is outside"),
        ({"campaigns": [{"numbers": ["1"]}]}, "tenants.t.campaigns[0].id", "missing"),
    ],
)
def test_config_mistakes_name_their_key(extra: dict[str, object], path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_tenant({**_BASE, **extra}, "t")
    assert caught.value.path == path
    assert caught.value.reason.startswith(reason)


def test_queue_option_mistakes_name_their_key() -> None:
    queue: dict[str, object] = {"id": "q", "skills": {"s": 1}, "dispositions": ["a", "a"]}
    with pytest.raises(ConfigError) as caught:
        parse_tenant({"skills": ["s"], "queues": [queue]}, "t")
    assert caught.value.path == "tenants.t.queues[0].dispositions[1]"
    queue = {"id": "q", "skills": {"s": 1}, "missed_callback_within_s": -1}
    with pytest.raises(ConfigError) as caught:
        parse_tenant({"skills": ["s"], "queues": [queue]}, "t")
    assert caught.value.path == "tenants.t.queues[0].missed_callback_within_s"


def test_the_options_survive_the_runtime_shape() -> None:
    tenant = config().tenants["store"]
    assert parse_tenant(tenant_raw(tenant), "store") == tenant
    assert tenant.contacts.campaign_of("+4980010 0200") == "radio"
    assert normalize_number("+49 (800) 100-200") == "+49800100200"
