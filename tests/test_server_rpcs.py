"""Each RPC's answer and its errors: fields named in INVALID_ARGUMENT, NOT_FOUND (also for another
tenant's ids), FAILED_PRECONDITION, UNAUTHENTICATED, limits (RESOURCE_EXHAUSTED), config views."""

from __future__ import annotations

import functools
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

from acd.v1 import (
    admin_pb2,
    agent_pb2,
    common_pb2,
    crm_pb2,
    platform_pb2,
    routing_pb2,
    supervision_pb2,
)
from server_helpers import (
    TEST_CONFIG,
    StreamReader,
    Stubs,
    code_of,
    error_of,
    make_config,
    md,
    running,
)
from test_server_lifecycle import adapter_stream, enqueue, login_ready, offer_of

T = 5.0
SUP = md("t-supervisor")


def waiting(s: Stubs) -> list[tuple[str, str]]:
    listed = s.supervision.ListWaitingCalls(
        supervision_pb2.ListWaitingCallsRequest(), metadata=SUP, timeout=T
    )
    return [(c.call_id, c.queue_id) for c in listed.calls]


def test_invalid_arguments_name_the_field(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        e = error_of(lambda: enqueue(s, ""))
        assert (e.code(), e.details()) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "call.call_id: required",
        )
        e = error_of(lambda: enqueue(s, "p1", priority=2_000_000))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (e.details() or "").startswith("call.priority:")
        bad_channel = common_pb2.Call(call_id="p1", queue_id="sales")
        bad_channel.channel = 99  # type: ignore[assignment]
        e = error_of(
            lambda: s.routing.EnqueueCall(
                routing_pb2.EnqueueCallRequest(call=bad_channel), metadata=md("t-adapter")
            )
        )
        assert (e.details() or "").startswith("call.channel:")
        bad_state = supervision_pb2.ForceAgentStateRequest(agent_id="anna")
        e = error_of(lambda: s.supervision.ForceAgentState(bad_state, metadata=SUP, timeout=T))
        assert (e.details() or "").startswith("state:")
        no_reason = agent_pb2.SetStateRequest(
            agent_id="anna", availability=agent_pb2.AVAILABILITY_NOT_READY
        )
        e = error_of(lambda: s.agent.SetState(no_reason, metadata=md("t-anna"), timeout=T))
        assert e.details() == "reason_code: required"
        no_target = routing_pb2.TransferCallRequest(call_id="x")
        e = error_of(lambda: s.routing.TransferCall(no_target, metadata=md("t-adapter")))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and (e.details() or "").startswith(
            "target:"
        )


def test_not_found_and_failed_precondition(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        e = error_of(lambda: enqueue(s, "n1", queue="nope"))
        assert (e.code(), e.details()) == (
            grpc.StatusCode.NOT_FOUND,
            "call.queue_id 'nope': unknown queue",
        )
        # Another tenant's queue and agent are simply unknown here.
        assert code_of(lambda: enqueue(s, "n2", queue="other-sales")) == grpc.StatusCode.NOT_FOUND
        force = supervision_pb2.ForceAgentStateRequest(
            agent_id="olga", state=common_pb2.AGENT_STATE_READY
        )
        assert (
            code_of(lambda: s.supervision.ForceAgentState(force, metadata=SUP, timeout=T))
            == grpc.StatusCode.NOT_FOUND
        )
        cancel = routing_pb2.CancelCallRequest(call_id="ghost")
        assert (
            code_of(lambda: s.routing.CancelCall(cancel, metadata=md("t-adapter"), timeout=T))
            == grpc.StatusCode.NOT_FOUND
        )
        ready = agent_pb2.SetStateRequest(
            agent_id="anna", availability=agent_pb2.AVAILABILITY_READY
        )
        e = error_of(lambda: s.agent.SetState(ready, metadata=md("t-anna"), timeout=T))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION  # logged out
        enqueue(s, "w1")
        end = routing_pb2.EndCallRequest(call_id="w1")
        e = error_of(lambda: s.routing.EndCall(end, metadata=md("t-adapter"), timeout=T))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION  # waiting, not connected
        # The other tenant's supervisor sees none of store's calls.
        listed = s.supervision.ListWaitingCalls(
            supervision_pb2.ListWaitingCallsRequest(), metadata=md("t-other-supervisor")
        )
        assert list(listed.calls) == []
        assert waiting(s) == [("w1", "sales")]


def test_authentication(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        basic: tuple[tuple[str, str | bytes], ...] = (("authorization", "Basic t-adapter"),)
        for metadata in ((), md("wrong"), basic):
            e = error_of(functools.partial(enqueue_with, s, metadata))
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED


def enqueue_with(s: Stubs, metadata: tuple[tuple[str, str | bytes], ...]) -> object:
    request = routing_pb2.EnqueueCallRequest(call=common_pb2.Call(call_id="a", queue_id="sales"))
    return s.routing.EnqueueCall(request, metadata=metadata, timeout=T)


def test_agent_own_objects(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "own1", caller_number="+49301", attributes={"order": "42"})
        anna.until(offer_of)
        login = agent_pb2.LoginRequest(agent_id="anna")
        e = error_of(lambda: s.agent.Login(login, metadata=md("t-ben"), timeout=T))
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED
        pop = crm_pb2.GetScreenPopRequest(call_id="own1")
        got = s.crm.GetScreenPop(pop, metadata=md("t-anna"), timeout=T).screen_pop
        assert (got.caller_number, dict(got.attributes)) == ("+49301", {"order": "42"})
        e = error_of(lambda: s.crm.GetScreenPop(pop, metadata=md("t-ben"), timeout=T))
        assert e.code() == grpc.StatusCode.NOT_FOUND  # not ben's call
        got = s.crm.GetScreenPop(pop, metadata=md("t-crm"), timeout=T).screen_pop
        assert got.call_id == "own1"
        accept = agent_pb2.AcceptOfferRequest(agent_id="ben", call_id="own1")
        e = error_of(lambda: s.agent.AcceptOffer(accept, metadata=md("t-ben"), timeout=T))
        assert e.code() == grpc.StatusCode.NOT_FOUND
        anna.close()


def test_transfer_pick_callback_and_supervision(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        adapter, commands = adapter_stream(s)
        anna = login_ready(s, "anna")
        enqueue(s, "t1")
        anna.until(offer_of)
        accept = agent_pb2.AcceptOfferRequest(agent_id="anna", call_id="t1")
        s.agent.AcceptOffer(accept, metadata=md("t-anna"), timeout=T)
        out = routing_pb2.TransferCallRequest(call_id="t1", destination="sip:x@pbx.test")
        got = s.routing.TransferCall(out, metadata=md("t-adapter"), timeout=T)
        assert got.outcome == common_pb2.CALL_OUTCOME_TRANSFERRED_OUT
        finished = adapter.until(lambda m: m.HasField("finished")).finished
        assert (finished.call_id, finished.destination) == ("t1", "sip:x@pbx.test")
        assert finished.outcome == common_pb2.CALL_OUTCOME_TRANSFERRED_OUT

        # anna is in wrap-up (0.2 s); a supervisor picks a waiting call for her after it.
        anna.until(
            lambda m: (
                m.HasField("state_changed")
                and m.state_changed.agent.state == common_pb2.AGENT_STATE_READY
            )
        )
        notready = supervision_pb2.ForceAgentStateRequest(
            agent_id="anna", state=common_pb2.AGENT_STATE_NOT_READY, reason_code="coaching"
        )
        agent = s.supervision.ForceAgentState(notready, metadata=SUP, timeout=T).agent
        assert (agent.state, agent.reason) == (common_pb2.AGENT_STATE_NOT_READY, "coaching")
        enqueue(s, "k1", queue="support", caller_number="+1")
        callback = routing_pb2.RequestCallbackRequest(
            callback=common_pb2.Call(call_id="cb1", queue_id="support", caller_number="+1"),
            original_call_id="k1",
        )
        assert not s.routing.RequestCallback(callback, metadata=md("t-adapter")).duplicate
        assert waiting(s) == [("cb1", "support")]
        ready = supervision_pb2.ForceAgentStateRequest(
            agent_id="anna", state=common_pb2.AGENT_STATE_READY
        )
        s.supervision.ForceAgentState(ready, metadata=SUP, timeout=T)
        offer = anna.until(offer_of).offer.offer
        assert (offer.call_id, offer.channel) == ("cb1", common_pb2.CHANNEL_CALLBACK)

        agents = s.supervision.ListAgents(
            supervision_pb2.ListAgentsRequest(states=[common_pb2.AGENT_STATE_RESERVED]),
            metadata=SUP,
            timeout=T,
        ).agents
        assert [(a.agent_id, list(a.call_ids)) for a in agents] == [("anna", ["cb1"])]
        agents = s.supervision.ListAgents(
            supervision_pb2.ListAgentsRequest(queue_ids=["sales"], group_id="managers"),
            metadata=SUP,
        ).agents
        assert [a.agent_id for a in agents] == ["anna", "ben"]
        commands.put(None)
        adapter.close()
        anna.close()


def test_pick_call(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        ben = login_ready(s, "ben")  # ben has no support skill: nothing is offered to him
        enqueue(s, "pk1", queue="support")
        enqueue(s, "pk2", queue="support")
        pick = agent_pb2.PickCallRequest(agent_id="ben", call_id="pk2")
        offer = s.agent.PickCall(pick, metadata=md("t-ben"), timeout=T).offer
        assert (offer.call_id, offer.agent_id, offer.rule) == ("pk2", "ben", "pick")
        assert ben.until(offer_of).offer.offer.call_id == "pk2"
        again = agent_pb2.PickCallRequest(agent_id="ben", call_id="pk1")
        e = error_of(lambda: s.agent.PickCall(again, metadata=SUP, timeout=T))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION  # ben is reserved now
        ben.close()


def test_queue_stats_stream_and_alerts(tmp_path: Path) -> None:
    with running(tmp_path, stats_period_s=0.05) as (_, s):
        stream = StreamReader(
            s.supervision.StreamQueueStats(
                supervision_pb2.StreamQueueStatsRequest(queue_ids=["sales"], last_sequence=10),
                metadata=SUP,
            )
        )
        first = stream.next()
        assert (first.sequence, first.stats.queue_id, first.stats.waiting) == (11, "sales", 0)
        enqueue(s, "qs1")
        update = stream.until(lambda m: m.stats.waiting == 1)
        assert update.sequence > 11
        stream.close()
        unknown = supervision_pb2.StreamQueueStatsRequest(queue_ids=["nope"])
        e = error_of(lambda: next(iter(s.supervision.StreamQueueStats(unknown, metadata=SUP))))
        assert e.code() == grpc.StatusCode.NOT_FOUND
        alerts = s.supervision.StreamAlerts(
            supervision_pb2.StreamAlertsRequest(), metadata=SUP, timeout=0.2
        )
        e = error_of(lambda: next(iter(alerts)))
        assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # open and quiet


def test_config_views_and_seats(tmp_path: Path) -> None:
    admin = md("t-admin")
    with running(tmp_path) as (_, s):
        queues = s.admin.ListQueues(admin_pb2.ListQueuesRequest(), metadata=admin).queues
        assert [q.queue_id for q in queues] == ["sales", "support", "quick"]
        assert queues[1].wrapup_until_done
        skills = s.admin.ListSkills(admin_pb2.ListSkillsRequest(), metadata=admin).skills
        assert [k.skill_id for k in skills] == ["quick", "sales", "support"]
        agents = s.admin.ListAgents(admin_pb2.AdminServiceListAgentsRequest(), metadata=admin)
        assert (agents.agents[0].agent_id, agents.agents[0].endpoint) == (
            "anna",
            "sip:anna@pbx.test",
        )
        groups = s.admin.ListGroups(admin_pb2.ListGroupsRequest(), metadata=admin).groups
        assert [(g.group_id, g.tier) for g in groups] == [("managers", 1)]
        assert list(s.admin.ListHours(admin_pb2.ListHoursRequest(), metadata=admin).hours) == []
        seats = s.admin.SeatReport(admin_pb2.SeatReportRequest(), metadata=admin).tenants
        assert [t.tenant_id for t in seats] == ["store"]
        counts = {r.role: r.accounts for r in seats[0].seats}
        assert counts[admin_pb2.ROLE_AGENT] == 2
        every = s.admin.SeatReport(admin_pb2.SeatReportRequest(), metadata=md("t-platform"))
        assert [t.tenant_id for t in every.tenants] == ["other", "store"]
        tenants = s.platform.ListTenants(
            platform_pb2.ListTenantsRequest(), metadata=md("t-platform")
        )
        assert [t.tenant_id for t in tenants.tenants] == ["other", "store"]
        e = error_of(lambda: s.admin.UpsertQueue(admin_pb2.UpsertQueueRequest(), metadata=admin))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT  # tests/test_server_admin.py
        assert (e.details() or "").startswith("queue.queue_id: ")


def test_oversized_message_and_health(tmp_path: Path) -> None:
    with running(tmp_path) as (srv, s):
        health = health_pb2_grpc.HealthStub(grpc.insecure_channel(srv.address))
        check = health_pb2.HealthCheckRequest()
        big = common_pb2.Call(call_id="big", queue_id="sales", attributes={"blob": "x" * 100_000})
        e = error_of(
            lambda: s.routing.EnqueueCall(
                routing_pb2.EnqueueCallRequest(call=big), metadata=md("t-adapter"), timeout=T
            )
        )
        assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert health.Check(check, timeout=T).status == health_pb2.HealthCheckResponse.SERVING
        assert not enqueue(s, "after-big").duplicate


def test_rate_limit(tmp_path: Path) -> None:
    limited = TEST_CONFIG.replace(
        "requests_per_second = 0", "requests_per_second = 0.001\nburst = 2"
    )
    with running(tmp_path, make_config(limited)) as (_, s):
        assert code_of(lambda: enqueue(s, "r1")) is None
        assert code_of(lambda: enqueue(s, "r2")) is None
        assert code_of(lambda: enqueue(s, "r3")) == grpc.StatusCode.RESOURCE_EXHAUSTED
        # Another identity has its own bucket.
        assert code_of(lambda: waiting(s)) is None
