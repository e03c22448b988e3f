"""acd.server.auth: token hashing and authentication, the role matrix, the seat report."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import acd.v1
from acd.server.auth import (
    OWN_ONLY,
    POLICY,
    Identity,
    Role,
    TokenEntry,
    TokenTable,
    authorize,
    bearer_token,
    hash_token,
    new_token,
    seat_report,
)
from acd.server.config import load_bundled_config, parse_config

A, G, S, C, D, P = (
    Role.ADAPTER,
    Role.AGENT,
    Role.SUPERVISOR,
    Role.CRM,
    Role.ADMIN,
    Role.PLATFORM_ADMIN,
)

# The documented matrix (auth.py's docstring), written out again method by method so that a
# change to POLICY has to be made twice, on purpose.
EXPECTED: dict[str, set[Role]] = {
    "/acd.v1.RoutingService/EnqueueCall": {A},
    "/acd.v1.RoutingService/EnqueueCalls": {A},
    "/acd.v1.RoutingService/CancelCall": {A},
    "/acd.v1.RoutingService/EndCall": {A},
    "/acd.v1.RoutingService/TransferCall": {A},
    "/acd.v1.RoutingService/RequestCallback": {A},
    "/acd.v1.RoutingService/GetCallStatus": {A},
    "/acd.v1.RoutingService/AdapterStream": {A},
    "/acd.v1.AgentService/Login": {G},
    "/acd.v1.AgentService/Logout": {G},
    "/acd.v1.AgentService/SetState": {G},
    "/acd.v1.AgentService/StreamOffers": {G},
    "/acd.v1.AgentService/Session": {G},
    "/acd.v1.AgentService/AcceptOffer": {G},
    "/acd.v1.AgentService/RejectOffer": {G},
    "/acd.v1.AgentService/FinishWrapUp": {G},
    "/acd.v1.AgentService/PickCall": {G, S},
    "/acd.v1.SupervisionService/StreamQueueStats": {S, D},
    "/acd.v1.SupervisionService/ListWaitingCalls": {S, D},
    "/acd.v1.SupervisionService/ListAgents": {S, D},
    "/acd.v1.SupervisionService/ForceAgentState": {S},
    "/acd.v1.SupervisionService/StreamAlerts": {S},
    "/acd.v1.SupervisionService/ListMissedCalls": {S},
    "/acd.v1.CrmService/GetScreenPop": {C, S, G},
    "/acd.v1.AdminService/UpsertQueue": {D},
    "/acd.v1.AdminService/ListQueues": {D},
    "/acd.v1.AdminService/UpsertSkill": {D},
    "/acd.v1.AdminService/ListSkills": {D},
    "/acd.v1.AdminService/UpsertAgent": {D},
    "/acd.v1.AdminService/ListAgents": {D},
    "/acd.v1.AdminService/UpsertGroup": {D},
    "/acd.v1.AdminService/ListGroups": {D},
    "/acd.v1.AdminService/UpsertHours": {D},
    "/acd.v1.AdminService/ListHours": {D},
    "/acd.v1.AdminService/ReloadConfig": {D, P},
    "/acd.v1.AdminService/IssueToken": {D},
    "/acd.v1.AdminService/RevokeTokens": {D},
    "/acd.v1.AdminService/SeatReport": {D, P},
    "/acd.v1.AdminService/ListAuditRecords": {D},
    "/acd.v1.PlatformService/CreateTenant": {P},
    "/acd.v1.PlatformService/DeleteTenant": {P},
    "/acd.v1.PlatformService/ListTenants": {P},
    "/acd.v1.ReportService/QueueReport": {S, D},
    "/acd.v1.ReportService/CampaignReport": {S, D},
    "/acd.v1.ReportService/AgentReport": {S, D},
    "/acd.v1.ReportService/Heatmap": {S, D},
    "/acd.v1.ReportService/ExportCdrs": {S, D},
    "/acd.v1.ReportService/QualityReport": {S, D},
    "/acd.v1.QualityService/AttachRecording": {A},
    "/acd.v1.QualityService/ListRecordings": {S, G},
    "/acd.v1.QualityService/GetRecording": {S, G},
    "/acd.v1.QualityService/ListEvaluations": {S, G},
    "/acd.v1.QualityService/GetEvaluation": {S, G},
    "/acd.v1.QualityService/ListScorecards": {S, G, D},
    "/acd.v1.QualityService/CreateEvaluation": {S},
    "/acd.v1.OutboundService/UpsertWorkList": {D, S},
    "/acd.v1.OutboundService/AddEntries": {D, S},
    "/acd.v1.OutboundService/PauseWorkList": {D, S},
    "/acd.v1.OutboundService/ResumeWorkList": {D, S},
    "/acd.v1.OutboundService/ListWorkLists": {D, S},
    "/acd.v1.OutboundService/GetWorkList": {D, S},
    "/acd.v1.OutboundService/RecordOutcome": {G, S},
}
HEALTH = ["/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"]
REFLECTION = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
UNKNOWN = [
    "",
    "/acd.v1.AdminService/DropEverything",
    "/acd.v1.RoutingService/enqueuecall",
    "/acd.v2.RoutingService/EnqueueCall",
    "acd.v1.RoutingService/EnqueueCall",
    "/acd.v1.RoutingService/EnqueueCall/",
    "/grpc.health.v1.Health/Unknown",
]


def identity(role: Role) -> Identity:
    if role is Role.PLATFORM_ADMIN:
        return Identity(None, "ops", role)
    return Identity("store", f"someone-{role}", role, "anna" if role is Role.AGENT else None)


def test_policy_is_the_documented_matrix() -> None:
    assert {m: set(r) for m, r in POLICY.items()} == EXPECTED


@pytest.mark.parametrize("method", sorted(EXPECTED))
@pytest.mark.parametrize("role", list(Role))
def test_every_role_on_every_method(method: str, role: Role) -> None:
    assert authorize(identity(role), method) is (role in EXPECTED[method])


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_no_token_no_method(method: str) -> None:
    assert not authorize(None, method)


@pytest.mark.parametrize("method", UNKNOWN)
@pytest.mark.parametrize("role", [*Role, None])
def test_unknown_methods_are_denied(method: str, role: Role | None) -> None:
    assert not authorize(identity(role) if role else None, method)


@pytest.mark.parametrize("role", [*Role, None])
def test_health_is_open_and_reflection_needs_a_token(role: Role | None) -> None:
    caller = identity(role) if role else None
    assert all(authorize(caller, m) for m in HEALTH)
    assert authorize(caller, REFLECTION) is (caller is not None)


# Agent methods that name no one's objects: the tenant's scorecards are the same for all.
SHARED_WITH_AGENTS = {"/acd.v1.QualityService/ListScorecards"}


def test_own_only_marks_the_agent_methods_the_service_must_scope() -> None:
    agent_methods = {m for m, roles in EXPECTED.items() if G in roles} - SHARED_WITH_AGENTS
    assert {(m, G) for m in agent_methods} == OWN_ONLY


def _v1_methods() -> set[str]:
    """Every method of every service in the generated acd.v1 package."""
    methods = set()
    for module_info in pkgutil.iter_modules(acd.v1.__path__):
        if not module_info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"acd.v1.{module_info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            methods |= {f"/{service.full_name}/{m.name}" for m in service.methods}
    return methods


def test_policy_covers_exactly_the_proto_methods() -> None:
    methods = _v1_methods()
    assert methods, "acd.v1 holds no services"
    assert methods - set(POLICY) == set(), "methods without a rule (denied to everyone)"
    assert set(POLICY) - methods == set(), "rules for methods the proto does not have"


def test_hash_token_is_sha256_hex() -> None:
    assert hash_token("abc") == (
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_new_token_is_random_and_its_line_is_its_hash() -> None:
    token, line = new_token()
    other, _ = new_token()
    assert token != other
    assert len(token) >= 40, "256 random bits"
    match = re.fullmatch(r'hash = "(sha256:[0-9a-f]{64})"', line)
    assert match is not None and match[1] == hash_token(token)


def test_token_table_authenticates_by_hash() -> None:
    anna = Identity("store", "anna", Role.AGENT, "anna")
    ops = Identity(None, "ops", Role.PLATFORM_ADMIN)
    table = TokenTable([TokenEntry(hash_token("tok-anna"), anna), TokenEntry(hash_token("o"), ops)])
    assert len(table) == 2
    assert table.authenticate("tok-anna") == anna
    assert table.authenticate("o") == ops
    for wrong in ("tok-ann", "tok-anna ", "TOK-ANNA", hash_token("tok-anna"), "", None, "x" * 5000):
        assert table.authenticate(wrong) is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_bundled_config_tokens_authenticate() -> None:
    config = load_bundled_config("acd-dev.toml", environ={})
    table = config.token_table()
    admin = table.authenticate("dev-admin")
    assert admin == Identity("store", "demo-admin", Role.ADMIN)
    assert authorize(admin, "/acd.v1.AdminService/UpsertQueue")
    assert not authorize(admin, "/acd.v1.PlatformService/CreateTenant")
    anna = table.authenticate("dev-agent-anna")
    assert anna is not None and anna.agent_id == "anna"
    assert table.authenticate("dev-nobody") is None


SEATS = """
[tenants.a]
skills = ["s"]
agents = [{ id = "x" }, { id = "y" }, { id = "z" }]
[tenants.b]
[[tokens]]
hash = "%s"
tenant = "a"
name = "x"
role = "agent"
agent = "x"
[[tokens]]  # the same identity with a second token: a rotation
hash = "%s"
tenant = "a"
name = "x"
role = "agent"
agent = "x"
[[tokens]]
hash = "%s"
tenant = "a"
name = "boss"
role = "supervisor"
[[tokens]]
hash = "%s"
tenant = "b"
name = "pbx"
role = "adapter"
[[tokens]]
hash = "%s"
name = "ops"
role = "platform-admin"
"""


def test_seat_report_counts_identities_per_role_per_tenant() -> None:
    text = SEATS % tuple(hash_token(str(i)) for i in range(5))
    report = seat_report(parse_config(text, environ={}))
    assert [r.tenant for r in report] == [None, "a", "b"]
    platform, a, b = report
    assert platform.accounts[P] == 1 and sum(platform.accounts.values()) == 1
    assert platform.tokens == 1 and platform.agents == 0
    assert a.accounts == {A: 0, G: 1, S: 1, C: 0, D: 0, P: 0}
    assert a.tokens == 3 and a.agents == 3
    assert b.accounts[A] == 1 and b.tokens == 1 and b.agents == 0
