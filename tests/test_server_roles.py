"""Every RPC of acd.v1 x every kind of caller, against the documented policy (auth.POLICY).

An identity is *allowed* when the handler ran, whatever it answered (OK, NOT_FOUND,
INVALID_ARGUMENT, UNIMPLEMENTED, or a stream deadline); *denied* is PERMISSION_DENIED, and no
token at all is UNAUTHENTICATED. Agent B naming agent A's objects is denied (auth.OWN_ONLY).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from acd.server.auth import POLICY, Role
from acd.v1 import (
    admin_pb2,
    agent_pb2,
    common_pb2,
    crm_pb2,
    outbound_pb2,
    platform_pb2,
    quality_pb2,
    reports_pb2,
    routing_pb2,
    supervision_pb2,
)
from server_helpers import Stubs, md, running

# token -> (role, tenant, agent)
CALLERS: dict[str | None, tuple[Role | None, str | None]] = {
    None: (None, None),
    "t-adapter": (Role.ADAPTER, None),
    "t-anna": (Role.AGENT, "anna"),
    "t-ben": (Role.AGENT, "ben"),
    "t-supervisor": (Role.SUPERVISOR, None),
    "t-crm": (Role.CRM, None),
    "t-admin": (Role.ADMIN, None),
    "t-platform": (Role.PLATFORM_ADMIN, None),
    "t-other-supervisor": (Role.SUPERVISOR, None),
}
STREAM_S = 0.3


def _first(stream: Any) -> None:
    """Reads one message of a server stream; a deadline means the handler ran."""
    try:
        next(iter(stream))
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
    except StopIteration:
        pass
    finally:
        stream.cancel()


def _calls(s: Stubs) -> dict[str, Callable[[Any], object]]:
    """Full method path -> a call with metadata ``m`` (requests name store's agent anna)."""
    anna = "anna"
    x = "no-such-call"
    r, a, v, c, d, p = s.routing, s.agent, s.supervision, s.crm, s.admin, s.platform
    q = s.quality
    T = 5.0

    def adapter_stream(m: Any) -> None:
        _first(r.AdapterStream(iter(()), metadata=m, timeout=STREAM_S))

    return {
        "/acd.v1.RoutingService/EnqueueCall": lambda m: r.EnqueueCall(
            routing_pb2.EnqueueCallRequest(call=common_pb2.Call(call_id="m", queue_id="nope")),
            metadata=m,
            timeout=T,
        ),
        "/acd.v1.RoutingService/EnqueueCalls": lambda m: r.EnqueueCalls(
            routing_pb2.EnqueueCallsRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.RoutingService/CancelCall": lambda m: r.CancelCall(
            routing_pb2.CancelCallRequest(call_id=x), metadata=m, timeout=T
        ),
        "/acd.v1.RoutingService/EndCall": lambda m: r.EndCall(
            routing_pb2.EndCallRequest(call_id=x), metadata=m, timeout=T
        ),
        "/acd.v1.RoutingService/TransferCall": lambda m: r.TransferCall(
            routing_pb2.TransferCallRequest(call_id=x, queue_id="sales"), metadata=m, timeout=T
        ),
        "/acd.v1.RoutingService/RequestCallback": lambda m: r.RequestCallback(
            routing_pb2.RequestCallbackRequest(
                callback=common_pb2.Call(call_id="cb", queue_id="nope", caller_number="+1")
            ),
            metadata=m,
            timeout=T,
        ),
        "/acd.v1.RoutingService/GetCallStatus": lambda m: r.GetCallStatus(
            routing_pb2.GetCallStatusRequest(call_id=x), metadata=m, timeout=T
        ),
        "/acd.v1.RoutingService/AdapterStream": adapter_stream,
        "/acd.v1.AgentService/Login": lambda m: a.Login(
            agent_pb2.LoginRequest(agent_id=anna), metadata=m, timeout=T
        ),
        "/acd.v1.AgentService/Logout": lambda m: a.Logout(
            agent_pb2.LogoutRequest(agent_id=anna), metadata=m, timeout=T
        ),
        "/acd.v1.AgentService/SetState": lambda m: a.SetState(
            agent_pb2.SetStateRequest(agent_id=anna), metadata=m, timeout=T
        ),
        "/acd.v1.AgentService/StreamOffers": lambda m: _first(
            a.StreamOffers(
                agent_pb2.StreamOffersRequest(agent_id=anna), metadata=m, timeout=STREAM_S
            )
        ),
        "/acd.v1.AgentService/Session": lambda m: _first(
            a.Session(
                iter([agent_pb2.SessionRequest(open=agent_pb2.StreamOffersRequest(agent_id=anna))]),
                metadata=m,
                timeout=STREAM_S,
            )
        ),
        "/acd.v1.AgentService/AcceptOffer": lambda m: a.AcceptOffer(
            agent_pb2.AcceptOfferRequest(agent_id=anna, call_id=x), metadata=m, timeout=T
        ),
        "/acd.v1.AgentService/RejectOffer": lambda m: a.RejectOffer(
            agent_pb2.RejectOfferRequest(agent_id=anna, call_id=x), metadata=m, timeout=T
        ),
        "/acd.v1.AgentService/FinishWrapUp": lambda m: a.FinishWrapUp(
            agent_pb2.FinishWrapUpRequest(agent_id=anna, call_id=x), metadata=m, timeout=T
        ),
        "/acd.v1.AgentService/PickCall": lambda m: a.PickCall(
            agent_pb2.PickCallRequest(agent_id=anna, call_id=x), metadata=m, timeout=T
        ),
        "/acd.v1.SupervisionService/StreamQueueStats": lambda m: _first(
            v.StreamQueueStats(
                supervision_pb2.StreamQueueStatsRequest(), metadata=m, timeout=STREAM_S
            )
        ),
        "/acd.v1.SupervisionService/ListWaitingCalls": lambda m: v.ListWaitingCalls(
            supervision_pb2.ListWaitingCallsRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.SupervisionService/ListAgents": lambda m: v.ListAgents(
            supervision_pb2.ListAgentsRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.SupervisionService/ForceAgentState": lambda m: v.ForceAgentState(
            supervision_pb2.ForceAgentStateRequest(agent_id=anna), metadata=m, timeout=T
        ),
        "/acd.v1.SupervisionService/ListMissedCalls": lambda m: v.ListMissedCalls(
            supervision_pb2.ListMissedCallsRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.SupervisionService/StreamAlerts": lambda m: _first(
            v.StreamAlerts(supervision_pb2.StreamAlertsRequest(), metadata=m, timeout=STREAM_S)
        ),
        "/acd.v1.CrmService/GetScreenPop": lambda m: c.GetScreenPop(
            crm_pb2.GetScreenPopRequest(call_id=x), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/UpsertQueue": lambda m: d.UpsertQueue(
            admin_pb2.UpsertQueueRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/ListQueues": lambda m: d.ListQueues(
            admin_pb2.ListQueuesRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/UpsertSkill": lambda m: d.UpsertSkill(
            admin_pb2.UpsertSkillRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/ListSkills": lambda m: d.ListSkills(
            admin_pb2.ListSkillsRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/UpsertAgent": lambda m: d.UpsertAgent(
            admin_pb2.UpsertAgentRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/ListAgents": lambda m: d.ListAgents(
            admin_pb2.AdminServiceListAgentsRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/UpsertGroup": lambda m: d.UpsertGroup(
            admin_pb2.UpsertGroupRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/ListGroups": lambda m: d.ListGroups(
            admin_pb2.ListGroupsRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/UpsertHours": lambda m: d.UpsertHours(
            admin_pb2.UpsertHoursRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/ListHours": lambda m: d.ListHours(
            admin_pb2.ListHoursRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/ReloadConfig": lambda m: d.ReloadConfig(
            admin_pb2.ReloadConfigRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/IssueToken": lambda m: d.IssueToken(
            admin_pb2.IssueTokenRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/RevokeTokens": lambda m: d.RevokeTokens(
            admin_pb2.RevokeTokensRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/SeatReport": lambda m: d.SeatReport(
            admin_pb2.SeatReportRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.AdminService/ListAuditRecords": lambda m: d.ListAuditRecords(
            admin_pb2.ListAuditRecordsRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.PlatformService/CreateTenant": lambda m: p.CreateTenant(
            platform_pb2.CreateTenantRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.PlatformService/DeleteTenant": lambda m: p.DeleteTenant(
            platform_pb2.DeleteTenantRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.PlatformService/ListTenants": lambda m: p.ListTenants(
            platform_pb2.ListTenantsRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.ReportService/QueueReport": lambda m: s.reports.QueueReport(
            reports_pb2.QueueReportRequest(from_ms=0, to_ms=1), metadata=m, timeout=T
        ),
        "/acd.v1.ReportService/AgentReport": lambda m: s.reports.AgentReport(
            reports_pb2.AgentReportRequest(from_ms=0, to_ms=1), metadata=m, timeout=T
        ),
        "/acd.v1.ReportService/CampaignReport": lambda m: s.reports.CampaignReport(
            reports_pb2.CampaignReportRequest(from_ms=0, to_ms=1), metadata=m, timeout=T
        ),
        "/acd.v1.ReportService/Heatmap": lambda m: s.reports.Heatmap(
            reports_pb2.HeatmapRequest(from_ms=0, to_ms=1), metadata=m, timeout=T
        ),
        "/acd.v1.OutboundService/UpsertWorkList": lambda m: s.outbound.UpsertWorkList(
            outbound_pb2.UpsertWorkListRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.OutboundService/AddEntries": lambda m: s.outbound.AddEntries(
            outbound_pb2.AddEntriesRequest(list_id="nope"), metadata=m, timeout=T
        ),
        "/acd.v1.OutboundService/PauseWorkList": lambda m: s.outbound.PauseWorkList(
            outbound_pb2.PauseWorkListRequest(list_id="nope"), metadata=m, timeout=T
        ),
        "/acd.v1.OutboundService/ResumeWorkList": lambda m: s.outbound.ResumeWorkList(
            outbound_pb2.ResumeWorkListRequest(list_id="nope"), metadata=m, timeout=T
        ),
        "/acd.v1.OutboundService/ListWorkLists": lambda m: s.outbound.ListWorkLists(
            outbound_pb2.ListWorkListsRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.OutboundService/GetWorkList": lambda m: s.outbound.GetWorkList(
            outbound_pb2.GetWorkListRequest(list_id="nope"), metadata=m, timeout=T
        ),
        "/acd.v1.OutboundService/RecordOutcome": lambda m: s.outbound.RecordOutcome(
            outbound_pb2.RecordOutcomeRequest(agent_id=anna, call_id=x), metadata=m, timeout=T
        ),
        "/acd.v1.ReportService/ExportCdrs": lambda m: _first(
            s.reports.ExportCdrs(
                reports_pb2.ExportCdrsRequest(from_ms=0, to_ms=1), metadata=m, timeout=STREAM_S
            )
        ),
        "/acd.v1.ReportService/QualityReport": lambda m: s.reports.QualityReport(
            reports_pb2.QualityReportRequest(from_ms=0, to_ms=1), metadata=m, timeout=T
        ),
        "/acd.v1.QualityService/AttachRecording": lambda m: q.AttachRecording(
            quality_pb2.AttachRecordingRequest(call_id=x, reference="/r.wav"), metadata=m, timeout=T
        ),
        "/acd.v1.QualityService/ListRecordings": lambda m: q.ListRecordings(
            quality_pb2.ListRecordingsRequest(from_ms=0, to_ms=1), metadata=m, timeout=T
        ),
        "/acd.v1.QualityService/GetRecording": lambda m: q.GetRecording(
            quality_pb2.GetRecordingRequest(call_id=x), metadata=m, timeout=T
        ),
        "/acd.v1.QualityService/ListScorecards": lambda m: q.ListScorecards(
            quality_pb2.ListScorecardsRequest(), metadata=m, timeout=T
        ),
        "/acd.v1.QualityService/CreateEvaluation": lambda m: q.CreateEvaluation(
            quality_pb2.CreateEvaluationRequest(call_id=x), metadata=m, timeout=T
        ),
        "/acd.v1.QualityService/ListEvaluations": lambda m: q.ListEvaluations(
            quality_pb2.ListEvaluationsRequest(from_ms=0, to_ms=1), metadata=m, timeout=T
        ),
        "/acd.v1.QualityService/GetEvaluation": lambda m: q.GetEvaluation(
            quality_pb2.GetEvaluationRequest(evaluation_id="nope"), metadata=m, timeout=T
        ),
    }


def _expected(method: str, token: str | None) -> str:
    role, agent = CALLERS[token]
    if role is None:
        return "UNAUTHENTICATED"
    if role not in POLICY[method]:
        return "PERMISSION_DENIED"
    own = method.startswith("/acd.v1.AgentService/") or method.endswith("/RecordOutcome")
    if role is Role.AGENT and agent != "anna" and own:
        return "PERMISSION_DENIED"  # ben acting for anna
    return "allowed"


def test_every_method_of_the_contract_is_in_the_matrix(tmp_path: Path) -> None:
    from google.protobuf import descriptor_pool

    from acd.server.app import SERVICE_NAMES
    from acd.v1 import (  # noqa: F401 - registers every file in the default pool
        admin_pb2,
        agent_pb2,
        crm_pb2,
        platform_pb2,
        quality_pb2,
        routing_pb2,
        supervision_pb2,
    )

    pool = descriptor_pool.Default()
    methods = {
        f"/{name}/{m.name}" for name in SERVICE_NAMES for m in pool.FindServiceByName(name).methods
    }
    with running(tmp_path) as (_, s):
        assert set(_calls(s)) == methods == set(POLICY)


def test_role_matrix(tmp_path: Path) -> None:
    mismatches = []
    with running(tmp_path) as (_, s):
        for method, call in _calls(s).items():
            for token in CALLERS:
                try:
                    call(md(token))
                    got = "allowed"
                except grpc.RpcError as e:
                    name = e.code().name
                    got = name if name in ("UNAUTHENTICATED", "PERMISSION_DENIED") else "allowed"
                want = _expected(method, token)
                if got != want:
                    mismatches.append(f"{method} as {token}: got {got}, want {want}")
    assert mismatches == []
