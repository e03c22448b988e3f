"""AdminService.ReloadConfig against a live server started from an acd.toml file: dry run,
apply, warnings, mistakes named by key path, removals refused while they hold calls or agents,
tokens refreshed, a platform admin's reload adding and dropping tenants, and the result kept
across a restart."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc

from acd.server.config import load_config
from acd.v1 import admin_pb2, agent_pb2, crm_pb2, platform_pb2, routing_pb2, supervision_pb2
from server_helpers import TEST_CONFIG, StreamReader, Stubs, code_of, error_of, md, running
from test_server_lifecycle import enqueue, login_ready

T = 5.0
ADMIN = md("t-admin")
PLATFORM = md("t-platform")

BILLING = """
[[tenants.store.queues]]
id = "billing"
skills = { support = 9 }

[[tenants.store.hours]]
id = "store"
timezone = "Europe/Berlin"
mon = ["08:00-18:00"]
"""


@contextmanager
def served(tmp_path: Path, text: str = TEST_CONFIG) -> Iterator[tuple[Path, Stubs]]:
    path = tmp_path / "acd.toml"
    path.write_text(text)
    with running(tmp_path, load_config(path, environ={}), config_path=path) as (_, s):
        yield path, s


def reload(
    s: Stubs, dry_run: bool = False, token: str = "t-admin"
) -> admin_pb2.ReloadConfigResponse:
    request = admin_pb2.ReloadConfigRequest(dry_run=dry_run)
    response: admin_pb2.ReloadConfigResponse = s.admin.ReloadConfig(
        request, metadata=md(token), timeout=T
    )
    return response


def queues(s: Stubs, token: str = "t-admin") -> tuple[list[str], int]:
    listed = s.admin.ListQueues(admin_pb2.ListQueuesRequest(), metadata=md(token), timeout=T)
    return [q.queue_id for q in listed.queues], int(listed.config_version)


def cut(text: str, start: str, end: str) -> str:
    """``text`` without the part from ``start`` up to (not including) ``end``."""
    i = text.index(start)
    return text[:i] + text[text.index(end, i + 1) :]


def test_reload_needs_the_file_the_service_started_with(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        e = error_of(lambda: reload(s))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "--config" in (e.details() or "")


def test_dry_run_changes_nothing_then_reload_applies(tmp_path: Path) -> None:
    with served(tmp_path) as (path, s):
        path.write_text(TEST_CONFIG.replace("[tenants.other]", BILLING + "\n[tenants.other]"))
        dry = reload(s, dry_run=True)
        assert (dry.config_version, dict(dry.tenant_versions)) == (1, {"store": 1})
        assert any("queues[3] (billing): no agent can serve it" in w for w in dry.warnings)
        assert any("hours[0] (store): no queue uses it" in w for w in dry.warnings)
        assert queues(s) == (["sales", "support", "quick"], 1)
        done = reload(s)
        assert (done.config_version, dict(done.tenant_versions)) == (2, {"store": 2})
        assert list(done.warnings) == list(dry.warnings)
        assert queues(s) == (["sales", "support", "quick", "billing"], 2)
        assert not enqueue(s, "b1", "billing").duplicate
        assert reload(s).config_version == 2  # nothing new: no new version


def test_a_mistake_is_named_by_its_key_path_and_changes_nothing(tmp_path: Path) -> None:
    with served(tmp_path) as (path, s):
        path.write_text(TEST_CONFIG.replace("skills = { sales = 3 }", "skills = { sales = 11 }"))
        e = error_of(lambda: reload(s))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (e.details() or "").startswith("tenants.store.queues[0].skills.sales: level 11")
        path.write_text(TEST_CONFIG.replace("skills = { sales = 1 }", "skills = { sales = 0 }"))
        e = error_of(lambda: reload(s))  # in another tenant's section: no details for store
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "outside tenant 'store'" in (e.details() or "")
        assert "other" not in (e.details() or "").replace("outside", "")
        e = error_of(lambda: reload(s, token="t-platform"))
        assert (e.details() or "").startswith("tenants.other.queues[0].skills.sales")
        path.write_text(TEST_CONFIG.replace("[tenants.store]", "[tenants.store]\nseed = 9"))
        e = error_of(lambda: reload(s))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (e.details() or "").startswith("tenants.store.seed: a running tenant keeps")
        path.write_text("not toml [")
        assert code_of(lambda: reload(s)) == grpc.StatusCode.INVALID_ARGUMENT
        assert queues(s) == (["sales", "support", "quick"], 1)


def test_removing_a_queue_with_calls_or_a_logged_in_agent_waits(tmp_path: Path) -> None:
    without_quick = cut(TEST_CONFIG, '[[tenants.store.queues]]\nid = "quick"', "[[tenants.store.a")
    with served(tmp_path) as (path, s):
        stats = StreamReader(
            s.supervision.StreamQueueStats(
                supervision_pb2.StreamQueueStatsRequest(), metadata=md("t-supervisor")
            )
        )
        enqueue(s, "q1", "quick")
        path.write_text(without_quick)
        e = error_of(lambda: reload(s))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert (e.details() or "").startswith("tenants.store.queues: queue 'quick'")
        assert queues(s)[1] == 1
        cancel = routing_pb2.CancelCallRequest(call_id="q1")
        s.routing.CancelCall(cancel, metadata=md("t-adapter"), timeout=T)
        assert reload(s).config_version == 2
        assert queues(s) == (["sales", "support"], 2)
        enqueue(s, "s1")  # the stats stream lives on after its queue went away
        stats.until(lambda m: m.stats.queue_id == "sales" and m.stats.waiting == 1)
        stats.close()

        anna = login_ready(s, "anna")
        without_anna = cut(without_quick, '[[tenants.store.agents]]\nid = "anna"', "[[tenants.s")
        without_anna = cut(without_anna, '[[dev.demo_tokens]]\ntoken = "t-anna"', "[[dev.demo")
        path.write_text(without_anna)
        e = error_of(lambda: reload(s))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "tenants.store.agents: agent 'anna'" in (e.details() or "")
        logout = agent_pb2.LogoutRequest(agent_id="anna")
        s.agent.Logout(logout, metadata=md("t-anna"), timeout=T)
        assert reload(s).config_version == 3
        anna.close()
        assert code_of(lambda: s.agent.Logout(logout, metadata=md("t-anna"))) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
        agents = s.admin.ListAgents(admin_pb2.AdminServiceListAgentsRequest(), metadata=ADMIN)
        assert [a.agent_id for a in agents.agents] == ["ben"]


def test_reload_refreshes_the_tokens(tmp_path: Path) -> None:
    new_crm = (
        '[[dev.demo_tokens]]\ntoken = "t-crm2"\ntenant = "store"\nname = "crm2"\nrole = "crm"\n'
    )
    with served(tmp_path) as (path, s):
        text = cut(TEST_CONFIG, '[[dev.demo_tokens]]\ntoken = "t-crm"', "[[dev.demo_tokens]]")
        path.write_text(text + "\n" + new_crm)
        screen_pop = s.crm.GetScreenPop
        request = crm_pb2.GetScreenPopRequest(caller_number="+1")
        assert code_of(lambda: screen_pop(request, metadata=md("t-crm2"))) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
        reload(s)
        assert code_of(lambda: screen_pop(request, metadata=md("t-crm2"), timeout=T)) is None
        assert code_of(lambda: screen_pop(request, metadata=md("t-crm"))) == (
            grpc.StatusCode.UNAUTHENTICATED
        )


def test_a_tenant_admin_reload_changes_only_its_tenant(tmp_path: Path) -> None:
    other_queue = '\n[[tenants.other.queues]]\nid = "other-2"\nskills = { sales = 1 }\n'
    text = TEST_CONFIG.replace("[tenants.other]", BILLING + "\n[tenants.other]")
    text = text.replace("[[tenants.other.agents]]", other_queue + "\n[[tenants.other.agents]]")
    waiting = supervision_pb2.ListWaitingCallsRequest(queue_ids=["other-2"])
    with served(tmp_path) as (path, s):
        path.write_text(text)
        assert dict(reload(s).tenant_versions) == {"store": 2}
        sup = md("t-other-supervisor")
        e = error_of(lambda: s.supervision.ListWaitingCalls(waiting, metadata=sup, timeout=T))
        assert e.code() == grpc.StatusCode.NOT_FOUND  # other's section is not applied yet
        done = reload(s, token="t-platform")
        assert dict(done.tenant_versions) == {"other": 2, "store": 2}
        assert done.config_version == 0
        assert code_of(lambda: s.supervision.ListWaitingCalls(waiting, metadata=sup)) is None


def test_a_platform_reload_adds_and_drops_tenants(tmp_path: Path) -> None:
    third = (
        '\n[tenants.third]\nskills = ["sales"]\n[[tenants.third.queues]]\nid = "q"\n'
        '\n[[dev.demo_tokens]]\ntoken = "t-third"\ntenant = "third"\nname = "adm"\nrole = "admin"\n'
    )
    with served(tmp_path) as (path, s):
        path.write_text(TEST_CONFIG + third)
        e = error_of(lambda: queues(s, "t-third"))
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED
        done = reload(s, token="t-platform")
        assert dict(done.tenant_versions) == {"other": 1, "store": 1, "third": 1}
        assert queues(s, "t-third") == (["q"], 1)
        listed = s.platform.ListTenants(platform_pb2.ListTenantsRequest(), metadata=PLATFORM)
        assert [(t.tenant_id, t.declared_in_config) for t in listed.tenants] == [
            ("other", True),
            ("store", True),
            ("third", True),
        ]
        delete = platform_pb2.DeleteTenantRequest(tenant_id="other")
        assert code_of(lambda: s.platform.DeleteTenant(delete, metadata=PLATFORM)) == (
            grpc.StatusCode.FAILED_PRECONDITION
        )
        without_other = cut(TEST_CONFIG + third, "[tenants.other]", "[[dev.demo_tokens]]")
        without_other = cut(without_other, '[[dev.demo_tokens]]\ntoken = "t-other-adapter"', "\n[t")
        path.write_text(without_other)
        done = reload(s, token="t-platform")
        assert any("tenants.other: no longer in acd.toml" in w for w in done.warnings)
        deleted = s.platform.DeleteTenant(delete, metadata=PLATFORM, timeout=T)
        assert deleted.tenant.tenant_id == "other" and deleted.tenant.declared_in_config is False


def test_a_runtime_tenant_is_not_reloaded_from_the_file(tmp_path: Path) -> None:
    with served(tmp_path) as (_, s):
        created = s.platform.CreateTenant(
            platform_pb2.CreateTenantRequest(tenant_id="kiosk"), metadata=PLATFORM, timeout=T
        )
        e = error_of(lambda: reload(s, token=created.admin_token))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "created through the API" in (e.details() or "")


def test_a_reloaded_configuration_survives_a_restart(tmp_path: Path) -> None:
    with served(tmp_path) as (path, s):
        path.write_text(TEST_CONFIG.replace("[tenants.other]", BILLING + "\n[tenants.other]"))
        reload(s)
    # Started again from the old text: the stored version wins until the next reload.
    with served(tmp_path) as (_, s):
        assert queues(s) == (["sales", "support", "quick", "billing"], 2)
        assert reload(s).config_version == 3
        assert queues(s) == (["sales", "support", "quick"], 3)
