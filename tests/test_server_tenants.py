"""PlatformService against a live server: tenants created at runtime (with their one-time admin
token), tokens issued and revoked through AdminService, delete and recreate, restarts, and
tenants never seeing each other's objects."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from acd.server.auth import hash_token
from acd.v1 import admin_pb2, agent_pb2, platform_pb2, routing_pb2, supervision_pb2
from server_helpers import StreamReader, Stubs, code_of, error_of, md, running

T = 5.0
PLATFORM = md("t-platform")


def create(s: Stubs, tenant_id: str, name: str = "") -> platform_pb2.CreateTenantResponse:
    request = platform_pb2.CreateTenantRequest(tenant_id=tenant_id, display_name=name)
    created: platform_pb2.CreateTenantResponse = s.platform.CreateTenant(
        request, metadata=PLATFORM, timeout=T
    )
    return created


def delete(s: Stubs, tenant_id: str) -> platform_pb2.DeleteTenantResponse:
    deleted: platform_pb2.DeleteTenantResponse = s.platform.DeleteTenant(
        platform_pb2.DeleteTenantRequest(tenant_id=tenant_id), metadata=PLATFORM, timeout=T
    )
    return deleted


def tenants(s: Stubs) -> dict[str, platform_pb2.Tenant]:
    listed = s.platform.ListTenants(platform_pb2.ListTenantsRequest(), metadata=PLATFORM)
    return {t.tenant_id: t for t in listed.tenants}


def issue(
    s: Stubs, admin_token: str, name: str, role: int, agent_id: str = ""
) -> admin_pb2.IssueTokenResponse:
    request = admin_pb2.IssueTokenRequest(name=name, role=role, agent_id=agent_id)  # type: ignore[arg-type]
    issued: admin_pb2.IssueTokenResponse = s.admin.IssueToken(
        request, metadata=md(admin_token), timeout=T
    )
    return issued


def list_queues(s: Stubs, token: str) -> admin_pb2.ListQueuesResponse:
    listed: admin_pb2.ListQueuesResponse = s.admin.ListQueues(
        admin_pb2.ListQueuesRequest(), metadata=md(token), timeout=T
    )
    return listed


def test_create_lists_both_kinds_and_the_admin_token_works(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        created = create(s, "kiosk", "Kiosk GmbH")
        assert created.tenant.tenant_id == "kiosk"
        assert created.tenant.display_name == "Kiosk GmbH"
        assert created.tenant.created_at_ms > 0
        assert not created.tenant.declared_in_config
        assert created.admin_token.startswith("acd_")
        listed = tenants(s)
        assert sorted(listed) == ["kiosk", "other", "store"]
        assert listed["store"].declared_in_config and listed["store"].created_at_ms > 0
        assert listed["kiosk"] == created.tenant
        empty = list_queues(s, created.admin_token)
        assert (list(empty.queues), empty.config_version) == ([], 1)
        assert create(s, "bare").tenant.display_name == "bare"  # the id when no name is given


@pytest.mark.parametrize(
    ("tenant_id", "name", "code", "field"),
    [
        ("", "", grpc.StatusCode.INVALID_ARGUMENT, "tenant_id"),
        ("Kiosk", "", grpc.StatusCode.INVALID_ARGUMENT, "tenant_id"),
        ("-kiosk", "", grpc.StatusCode.INVALID_ARGUMENT, "tenant_id"),
        ("k" * 64, "", grpc.StatusCode.INVALID_ARGUMENT, "tenant_id"),
        ("kiosk", "bad\nname", grpc.StatusCode.INVALID_ARGUMENT, "display_name"),
        ("store", "", grpc.StatusCode.ALREADY_EXISTS, "tenant_id"),
    ],
)
def test_create_refusals(
    tmp_path: Path, tenant_id: str, name: str, code: grpc.StatusCode, field: str
) -> None:
    with running(tmp_path) as (_, s):
        e = error_of(lambda: create(s, tenant_id, name))
        assert e.code() == code
        assert (e.details() or "").startswith(field)
        assert sorted(tenants(s)) == ["other", "store"]


def test_create_twice_is_already_exists(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        create(s, "kiosk")
        assert code_of(lambda: create(s, "kiosk")) == grpc.StatusCode.ALREADY_EXISTS


def test_issue_and_revoke_tokens(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        admin = create(s, "kiosk").admin_token
        pbx = issue(s, admin, "pbx", admin_pb2.ROLE_ADAPTER)
        assert pbx.token_hash == hash_token(pbx.token)
        enqueue = routing_pb2.EnqueueCallRequest()
        enqueue.call.call_id, enqueue.call.queue_id = "c1", "nope"
        e = error_of(lambda: s.routing.EnqueueCall(enqueue, metadata=md(pbx.token), timeout=T))
        assert e.code() == grpc.StatusCode.NOT_FOUND  # the token works: no such queue
        # A second token for the same identity (a rotation) is fine.
        again = issue(s, admin, "pbx", admin_pb2.ROLE_ADAPTER)
        assert again.token != pbx.token
        seats = s.admin.SeatReport(admin_pb2.SeatReportRequest(), metadata=md(admin)).tenants
        counts = {r.role: r.accounts for r in seats[0].seats}
        assert (seats[0].tenant_id, counts[admin_pb2.ROLE_ADAPTER]) == ("kiosk", 1)
        assert counts[admin_pb2.ROLE_ADMIN] == 1
        revoke = admin_pb2.RevokeTokensRequest(name="pbx")
        assert s.admin.RevokeTokens(revoke, metadata=md(admin), timeout=T).revoked == 2
        for token in (pbx.token, again.token):
            assert (
                code_of(
                    lambda t=token: s.routing.EnqueueCall(enqueue, metadata=md(t), timeout=T)  # type: ignore[misc]
                )
                == grpc.StatusCode.UNAUTHENTICATED
            )
        e = error_of(lambda: s.admin.RevokeTokens(revoke, metadata=md(admin), timeout=T))
        assert e.code() == grpc.StatusCode.NOT_FOUND
        # The admin token is an issued one too: revoked, it stops working.
        revoke_admin = admin_pb2.RevokeTokensRequest(name="admin")
        assert s.admin.RevokeTokens(revoke_admin, metadata=md(admin), timeout=T).revoked == 1
        assert code_of(lambda: list_queues(s, admin)) == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("name", "role", "agent", "code", "field"),
    [
        ("", admin_pb2.ROLE_ADAPTER, "", grpc.StatusCode.INVALID_ARGUMENT, "name"),
        ("x", admin_pb2.ROLE_UNSPECIFIED, "", grpc.StatusCode.INVALID_ARGUMENT, "role"),
        ("x", admin_pb2.ROLE_PLATFORM_ADMIN, "", grpc.StatusCode.INVALID_ARGUMENT, "role"),
        ("x", admin_pb2.ROLE_AGENT, "", grpc.StatusCode.INVALID_ARGUMENT, "agent_id"),
        ("x", admin_pb2.ROLE_AGENT, "olga", grpc.StatusCode.NOT_FOUND, "agent_id"),
        ("x", admin_pb2.ROLE_CRM, "anna", grpc.StatusCode.INVALID_ARGUMENT, "agent_id"),
        ("pbx", admin_pb2.ROLE_CRM, "", grpc.StatusCode.ALREADY_EXISTS, "name"),
        ("anna", admin_pb2.ROLE_AGENT, "ben", grpc.StatusCode.ALREADY_EXISTS, "name"),
    ],
)
def test_issue_token_refusals(
    tmp_path: Path, name: str, role: int, agent: str, code: grpc.StatusCode, field: str
) -> None:
    with running(tmp_path) as (_, s):
        e = error_of(lambda: issue(s, "t-admin", name, role, agent))
        assert e.code() == code
        assert (e.details() or "").startswith(field)


def test_issue_token_for_an_acd_toml_identity_and_agent(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        anna = issue(s, "t-admin", "anna", admin_pb2.ROLE_AGENT, "anna")  # same identity
        listed = s.supervision.ListAgents(
            supervision_pb2.ListAgentsRequest(), metadata=md("t-admin")
        )
        assert [a.agent_id for a in listed.agents] == ["anna", "ben"]
        # The new token acts as anna, and only as anna.
        login = s.agent.Login
        login(agent_pb2.LoginRequest(agent_id="anna"), metadata=md(anna.token), timeout=T)
        e = error_of(lambda: login(agent_pb2.LoginRequest(agent_id="ben"), metadata=md(anna.token)))
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED
        e = error_of(
            lambda: s.admin.RevokeTokens(
                admin_pb2.RevokeTokensRequest(name="pbx"), metadata=md("t-admin"), timeout=T
            )
        )
        assert e.code() == grpc.StatusCode.NOT_FOUND and "acd.toml" in (e.details() or "")


def test_delete_refusals(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        e = error_of(lambda: delete(s, "store"))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "acd.toml" in (e.details() or "") and "next start" in (e.details() or "")
        assert code_of(lambda: delete(s, "nope")) == grpc.StatusCode.NOT_FOUND
        assert code_of(lambda: delete(s, "")) == grpc.StatusCode.INVALID_ARGUMENT
        assert sorted(tenants(s)) == ["other", "store"]


def test_create_use_delete_recreate(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        first = create(s, "kiosk", "First")
        pbx = issue(s, first.admin_token, "pbx", admin_pb2.ROLE_ADAPTER).token
        feed = StreamReader(s.routing.AdapterStream(iter(()), metadata=md(pbx)))
        stats = StreamReader(
            s.supervision.StreamQueueStats(
                supervision_pb2.StreamQueueStatsRequest(), metadata=md(first.admin_token)
            )
        )
        deleted = delete(s, "kiosk")
        assert deleted.tenant == first.tenant
        for stream in (feed, stats):  # its streams end
            with pytest.raises(EOFError):
                stream.until(lambda _: False)
        assert code_of(lambda: list_queues(s, first.admin_token)) == grpc.StatusCode.UNAUTHENTICATED
        assert code_of(lambda: issue(s, pbx, "x", admin_pb2.ROLE_CRM)) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
        assert sorted(tenants(s)) == ["other", "store"]
        assert code_of(lambda: delete(s, "kiosk")) == grpc.StatusCode.NOT_FOUND
        second = create(s, "kiosk", "Second")
        assert second.tenant.display_name == "Second"
        assert list_queues(s, second.admin_token).config_version == 1
        assert code_of(lambda: list_queues(s, first.admin_token)) == grpc.StatusCode.UNAUTHENTICATED


def test_runtime_tenants_and_tokens_survive_a_restart(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        kiosk = create(s, "kiosk", "Kiosk")
        gone = create(s, "gone")
        delete(s, "gone")
        pbx = issue(s, kiosk.admin_token, "pbx", admin_pb2.ROLE_ADAPTER).token
        before = tenants(s)
    with running(tmp_path) as (_, s):
        assert tenants(s) == before
        assert list_queues(s, kiosk.admin_token).config_version == 1
        assert code_of(lambda: list_queues(s, gone.admin_token)) == grpc.StatusCode.UNAUTHENTICATED
        enqueue = routing_pb2.EnqueueCallRequest()
        enqueue.call.call_id, enqueue.call.queue_id = "c1", "nope"
        e = error_of(lambda: s.routing.EnqueueCall(enqueue, metadata=md(pbx), timeout=T))
        assert e.code() == grpc.StatusCode.NOT_FOUND


def test_tenants_do_not_see_each_other(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        kiosk = create(s, "kiosk").admin_token
        # The store's queues are not the kiosk's, and the other way round.
        assert [q.queue_id for q in list_queues(s, "t-admin").queues] == [
            "sales",
            "support",
            "quick",
        ]
        assert list(list_queues(s, kiosk).queues) == []
        # Another tenant's agent is unknown; its accounts are not this tenant's.
        e = error_of(lambda: issue(s, kiosk, "anna", admin_pb2.ROLE_AGENT, "anna"))
        assert e.code() == grpc.StatusCode.NOT_FOUND
        assert code_of(lambda: issue(s, kiosk, "pbx", admin_pb2.ROLE_CRM)) is None
        e = error_of(
            lambda: s.admin.RevokeTokens(
                admin_pb2.RevokeTokensRequest(name="pbx"), metadata=md("t-admin"), timeout=T
            )
        )
        assert e.code() == grpc.StatusCode.NOT_FOUND  # the kiosk's pbx is not the store's
        seats = s.admin.SeatReport(admin_pb2.SeatReportRequest(), metadata=md(kiosk)).tenants
        assert [t.tenant_id for t in seats] == ["kiosk"]
        every = s.admin.SeatReport(admin_pb2.SeatReportRequest(), metadata=PLATFORM).tenants
        assert [t.tenant_id for t in every] == ["kiosk", "other", "store"]
        # Tenant tokens cannot manage tenants.
        for token in ("t-admin", kiosk):
            e = error_of(
                lambda t=token: s.platform.DeleteTenant(  # type: ignore[misc]
                    platform_pb2.DeleteTenantRequest(tenant_id="kiosk"), metadata=md(t)
                )
            )
            assert e.code() == grpc.StatusCode.PERMISSION_DENIED


def test_delete_waits_until_no_call_is_live(tmp_path: Path) -> None:
    from test_server_admin import upsert

    with running(tmp_path) as (_, s):
        admin = create(s, "kiosk").admin_token
        upsert(s, "skill", admin, skill_id="sales")
        upsert(s, "queue", admin, queue_id="sales", skills={"sales": 1})
        pbx = issue(s, admin, "pbx", admin_pb2.ROLE_ADAPTER).token
        enqueue = routing_pb2.EnqueueCallRequest()
        enqueue.call.call_id, enqueue.call.queue_id = "k1", "sales"
        s.routing.EnqueueCall(enqueue, metadata=md(pbx), timeout=T)
        e = error_of(lambda: delete(s, "kiosk"))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "1 live call" in (e.details() or "")
        assert list_queues(s, admin).config_version == 3  # still there, untouched
        cancel = routing_pb2.CancelCallRequest(call_id="k1")
        s.routing.CancelCall(cancel, metadata=md(pbx), timeout=T)
        delete(s, "kiosk")
        again = create(s, "kiosk").admin_token  # its journal data went with it
        assert (list(list_queues(s, again).queues), list_queues(s, again).config_version) == (
            [],
            1,
        )
