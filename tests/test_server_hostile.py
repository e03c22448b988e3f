"""Hostile input through the gRPC API: each is refused with a clear status naming the field,
changes nothing, and leaves the service SERVING.

- a message over ``server.max_message_bytes`` -> RESOURCE_EXHAUSTED (grpc refuses it unread);
- more than ``MAX_BATCH_CALLS`` calls in one EnqueueCalls -> INVALID_ARGUMENT ``calls``;
- control characters and over-long strings in ids, numbers and endpoints, negative or absurd
  numbers, unknown enum values -> INVALID_ARGUMENT naming the field;
- another tenant's queue, agent or call -> NOT_FOUND naming the field (it is simply unknown).

"Changes nothing" is checked as the fuzzer checks it (tests/fuzz/fuzz_world.py): each tenant's
router snapshot, config and live calls, the tenants and tokens are as before, and the journal
gained at most the clock movement of a refusal. The service clock is frozen here, so nothing
else moves them.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

from acd.server.clock import Clock
from acd.server.routing_service import MAX_BATCH_CALLS
from acd.v1 import (
    admin_pb2,
    agent_pb2,
    common_pb2,
    crm_pb2,
    platform_pb2,
    routing_pb2,
    supervision_pb2,
)
from journal_gate import JournalGate
from server_helpers import TEST_CONFIG, ServerThread, Stubs, error_of, make_config, md, running
from test_server_lifecycle import login_ready

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
from fuzz_world import fingerprint, journaled_since

T = 10.0
NOW_S = 1_780_000_000.0
ADAPTER, SUP = md("t-adapter"), md("t-supervisor")
BIG = TEST_CONFIG.replace("max_message_bytes = 65536", "max_message_bytes = 4194304")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[ServerThread, Stubs]]:
    """A server on a frozen clock with one call waiting in each tenant (``w1`` in sales, ``o1``
    in other-sales) and anna logged in; its routers' clocks already moved to now."""
    with running(tmp_path, make_config(BIG), clock=Clock(lambda: NOW_S)) as (server, s):
        s.routing.EnqueueCall(_enqueue(call_id="w1"), metadata=ADAPTER, timeout=T)
        other = _enqueue(call_id="o1", queue_id="other-sales")
        s.routing.EnqueueCall(other, metadata=md("t-other-adapter"), timeout=T)
        s.agent.Login(agent_pb2.LoginRequest(agent_id="anna"), metadata=md("t-anna"), timeout=T)
        yield server, s


def _enqueue(**fields: Any) -> routing_pb2.EnqueueCallRequest:
    call = common_pb2.Call(**{"call_id": "h1", "queue_id": "sales", **fields})
    return routing_pb2.EnqueueCallRequest(call=call)


def _serving(server: ServerThread) -> bool:
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(), timeout=T).status
        return bool(status == health_pb2.HealthCheckResponse.SERVING)


def _refused(server: ServerThread, fn: Callable[[], Any], code: grpc.StatusCode, field: str) -> str:
    """Runs ``fn``: refused with ``code``, the message starting with ``field``, nothing
    changed, still SERVING. Gives the message."""
    before = fingerprint(server)
    e = error_of(fn)
    details = e.details() or ""
    assert e.code() == code, details
    assert details.startswith(field), details
    assert fingerprint(server).state == before.state
    assert journaled_since(server, before.seqs) == []
    assert _serving(server)
    return details


def test_messages_over_the_limit_are_resource_exhausted(tmp_path: Path) -> None:
    with running(tmp_path, clock=Clock(lambda: NOW_S)) as (server, s):  # 64 KiB messages
        huge = _enqueue(attributes={"order": "x" * 70_000})
        _refused(
            server,
            lambda: s.routing.EnqueueCall(huge, metadata=ADAPTER, timeout=T),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "",
        )
        many = [common_pb2.Call(call_id=f"b{i}", queue_id="sales") for i in range(10_000)]
        batch = routing_pb2.EnqueueCallsRequest(calls=many)
        _refused(
            server,
            lambda: s.routing.EnqueueCalls(batch, metadata=ADAPTER, timeout=T),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "",
        )
        assert s.routing.EnqueueCall(_enqueue(), metadata=ADAPTER, timeout=T).position == 1


def test_batches_over_the_limit_are_refused_whole(world: tuple[ServerThread, Stubs]) -> None:
    server, s = world
    many = [common_pb2.Call(call_id=f"b{i}", queue_id="sales") for i in range(10_000)]
    message = _refused(
        server,
        lambda: s.routing.EnqueueCalls(
            routing_pb2.EnqueueCallsRequest(calls=many), metadata=ADAPTER, timeout=T
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "calls:",
    )
    assert f"at most {MAX_BATCH_CALLS}" in message
    full = routing_pb2.EnqueueCallsRequest(calls=many[:MAX_BATCH_CALLS])
    results = s.routing.EnqueueCalls(full, metadata=ADAPTER, timeout=T).results
    assert len(results) == MAX_BATCH_CALLS
    assert not any(r.HasField("error") for r in results)


CONTROL = "a\x00b"
LONG = "x" * 300


def _hostile_strings(s: Stubs) -> list[tuple[Callable[[], Any], str]]:
    """Calls with a bad string, and the field their refusal must name."""
    enqueue, anna = s.routing.EnqueueCall, md("t-anna")
    not_ready = agent_pb2.AVAILABILITY_NOT_READY
    ready = common_pb2.AGENT_STATE_READY
    checks: list[tuple[Callable[[], Any], str]] = []
    cases: list[tuple[dict[str, Any], str]] = [
        ({"call_id": CONTROL}, "call.call_id"),
        ({"queue_id": "sales\n"}, "call.queue_id"),
        ({"call_id": LONG}, "call.call_id"),
        ({"caller_number": "+49\x1b[2J"}, "call.caller_number"),
        ({"caller_number": "9" * 5000}, "call.caller_number"),
        ({"dialled_number": "800\x07"}, "call.dialled_number"),
        ({"skills": {CONTROL: 3}}, "call.skills"),
    ]
    for fields, field in cases:
        call = functools.partial(enqueue, _enqueue(**fields), metadata=ADAPTER, timeout=T)
        checks.append((call, field))
    cancel = routing_pb2.CancelCallRequest(call_id="w1\r")
    login = agent_pb2.LoginRequest(agent_id="anna", endpoint="sip:a\x00@x")
    state = agent_pb2.SetStateRequest(
        agent_id="anna", availability=not_ready, reason_code="lunch\x00"
    )
    force = supervision_pb2.ForceAgentStateRequest(agent_id=LONG, state=ready)
    pop = crm_pb2.GetScreenPopRequest(caller_number="\x00")
    tenant = platform_pb2.CreateTenantRequest(tenant_id="x\x00")
    skill = admin_pb2.UpsertSkillRequest(skill=admin_pb2.Skill(skill_id="s\x7f"))
    return [
        *checks,
        (lambda: s.routing.CancelCall(cancel, metadata=ADAPTER, timeout=T), "call_id"),
        (lambda: s.agent.Login(login, metadata=anna, timeout=T), "endpoint"),
        (lambda: s.agent.SetState(state, metadata=anna, timeout=T), "reason_code"),
        (lambda: s.supervision.ForceAgentState(force, metadata=SUP, timeout=T), "agent_id"),
        (lambda: s.crm.GetScreenPop(pop, metadata=md("t-crm"), timeout=T), "caller_number"),
        (lambda: s.platform.CreateTenant(tenant, metadata=md("t-platform")), "tenant_id"),
        (lambda: s.admin.UpsertSkill(skill, metadata=md("t-admin")), "skill.skill_id"),
    ]


def test_control_characters_and_long_strings_name_the_field(
    world: tuple[ServerThread, Stubs],
) -> None:
    server, s = world
    for fn, field in _hostile_strings(s):
        _refused(server, fn, grpc.StatusCode.INVALID_ARGUMENT, field)


def test_negative_and_absurd_numbers_name_the_field(world: tuple[ServerThread, Stubs]) -> None:
    server, s = world
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    enqueue = s.routing.EnqueueCall
    cases: list[tuple[dict[str, Any], str]] = [
        ({"priority": -(2**31)}, "call.priority"),
        ({"priority": 2**31 - 1}, "call.priority"),
        ({"skills": {"sales": 0}}, "call.skills"),
        ({"skills": {"sales": 2**31 - 1}}, "call.skills"),
        ({"skills": {"sales": -5}}, "call.skills"),
        ({"preferred_agent_id": "anna", "preferred_wait_ms": -1}, "call.preferred_wait_ms"),
    ]
    for fields, field in cases:
        call = functools.partial(enqueue, _enqueue(**fields), metadata=ADAPTER, timeout=T)
        _refused(server, call, invalid, field)
    callback = routing_pb2.RequestCallbackRequest(
        callback=common_pb2.Call(call_id="cb", queue_id="sales", caller_number="+1")
    )
    callback.callback.skills["sales"] = 11
    _refused(
        server,
        lambda: s.routing.RequestCallback(callback, metadata=ADAPTER, timeout=T),
        invalid,
        "callback.skills",
    )
    batch = routing_pb2.EnqueueCallsRequest(calls=[_enqueue(preferred_wait_ms=-9).call])
    result = s.routing.EnqueueCalls(batch, metadata=ADAPTER, timeout=T).results[0]
    assert result.error.message.startswith("calls[0].preferred_wait_ms:")  # the batch's own way
    missed = supervision_pb2.ListMissedCallsRequest(since_ms=-(2**63), limit=2**32 - 1)
    _refused(
        server,
        lambda: s.supervision.ListMissedCalls(missed, metadata=SUP, timeout=T),
        invalid,
        "since_ms",
    )
    for request, field in [
        (supervision_pb2.StreamQueueStatsRequest(last_sequence=2**64 - 1), "last_sequence"),
        (supervision_pb2.StreamQueueStatsRequest(min_interval_ms=-1), "min_interval_ms"),
    ]:
        stats = s.supervision.StreamQueueStats(request, metadata=SUP, timeout=T)
        _refused(server, functools.partial(next, stats), invalid, field)
    alerts = supervision_pb2.StreamAlertsRequest(last_sequence=2**64 - 1)
    stream = s.supervision.StreamAlerts(alerts, metadata=SUP, timeout=T)
    _refused(server, lambda: next(stream), invalid, "last_sequence")


def test_unknown_enum_values_name_the_field(world: tuple[ServerThread, Stubs]) -> None:
    server, s = world
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    for channel in (99, -1):
        request = _enqueue(channel=channel)
        call = functools.partial(s.routing.EnqueueCall, request, metadata=ADAPTER, timeout=T)
        _refused(server, call, invalid, "call.channel")
    state = agent_pb2.SetStateRequest(agent_id="anna", availability=99)  # type: ignore[arg-type]
    _refused(
        server, lambda: s.agent.SetState(state, metadata=md("t-anna")), invalid, "availability"
    )
    force = supervision_pb2.ForceAgentStateRequest(agent_id="anna", state=42)  # type: ignore[arg-type]
    _refused(server, lambda: s.supervision.ForceAgentState(force, metadata=SUP), invalid, "state")
    alerts = supervision_pb2.StreamAlertsRequest(min_severity=77)  # type: ignore[arg-type]
    stream = s.supervision.StreamAlerts(alerts, metadata=SUP, timeout=T)
    _refused(server, lambda: next(stream), invalid, "min_severity")


def test_another_tenants_ids_are_not_found(world: tuple[ServerThread, Stubs]) -> None:
    server, s = world
    not_found = grpc.StatusCode.NOT_FOUND
    enqueue, cancel, status = s.routing.EnqueueCall, s.routing.CancelCall, s.routing.GetCallStatus
    other_queue = _enqueue(queue_id="other-sales")
    olga = _enqueue(preferred_agent_id="olga")
    force = supervision_pb2.ForceAgentStateRequest(
        agent_id="olga", state=common_pb2.AGENT_STATE_READY
    )
    waiting = supervision_pb2.ListWaitingCallsRequest(queue_ids=["other-sales"])
    pick = agent_pb2.PickCallRequest(agent_id="anna", call_id="o1")
    checks: list[tuple[Callable[[], Any], str]] = [
        (lambda: enqueue(other_queue, metadata=ADAPTER, timeout=T), "call.queue_id"),
        (lambda: enqueue(olga, metadata=ADAPTER, timeout=T), "call.preferred_agent_id"),
        (lambda: cancel(routing_pb2.CancelCallRequest(call_id="o1"), metadata=ADAPTER), "call_id"),
        (
            lambda: status(routing_pb2.GetCallStatusRequest(call_id="o1"), metadata=ADAPTER),
            "call_id",
        ),
        (lambda: s.supervision.ForceAgentState(force, metadata=SUP, timeout=T), "agent_id"),
        (lambda: s.supervision.ListWaitingCalls(waiting, metadata=SUP), "queue_ids[0]"),
        (lambda: s.agent.PickCall(pick, metadata=SUP, timeout=T), "call_id"),
    ]
    for fn, field in checks:
        _refused(server, fn, not_found, field)
    # The other tenant's call is still there, waiting, for its own adapter.
    theirs = s.routing.GetCallStatus(
        routing_pb2.GetCallStatusRequest(call_id="o1"), metadata=md("t-other-adapter"), timeout=T
    )
    assert (theirs.queue_id, theirs.position) == ("other-sales", 1)


def test_a_subscriber_that_never_reads_holds_one_update_per_queue(tmp_path: Path) -> None:
    """A queue-stats stream whose reader is stuck (here: it asked for an update an hour at the
    most) costs one pending update per queue however much changes; newer figures replace
    older ones and are counted, for the open streams and after they close."""
    with running(tmp_path, stats_period_s=0.01) as (server, s):
        slow = supervision_pb2.StreamQueueStatsRequest(min_interval_ms=3_600_000)
        stream = s.supervision.StreamQueueStats(slow, metadata=SUP)
        assert next(stream).stats.queue_id  # the first figures went out; it waits an hour now
        hub = server.server.tenants["store"].stats if server.server else None
        assert hub is not None

        async def counts() -> tuple[int, int, list[tuple[int, int]]]:
            feeds = [(f.pending, len(f.queues)) for f in hub.feeds()]
            return hub.published, hub.dropped, feeds

        for i in range(500):  # bounded: until newer figures replaced unread ones
            s.routing.EnqueueCall(_enqueue(call_id=f"s{i}"), metadata=ADAPTER, timeout=T)
            cancel = routing_pb2.CancelCallRequest(call_id=f"s{i}")
            s.routing.CancelCall(cancel, metadata=ADAPTER, timeout=T)
            published, dropped, feeds = server.call(counts)
            assert all(pending <= queues for pending, queues in feeds)
            if dropped > 1:
                break
        assert dropped > 1 and published > dropped
        stream.cancel()
        for _ in range(500):  # the stream leaves the hub once its cancel arrives
            published, closed, feeds = server.call(counts)
            if not feeds:
                break
            time.sleep(0.01)
        assert feeds == [] and closed >= dropped


def test_a_cancelled_request_does_not_hold_back_later_offers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that gives up on a request while its commit is pending (a deadline, a cancel,
    a stream closed under its commands): the commit stands, so its events go out, and so do
    those of every later request (they are published in command order)."""
    with running(tmp_path) as (server, s):
        anna = login_ready(s, "anna")
        gate = JournalGate(server, monkeypatch)
        held = s.routing.EnqueueCall.future(_enqueue(call_id="gone"), metadata=ADAPTER)
        gate.wait_applied("store", ["gone"])
        held.cancel()  # the adapter gave up before the commit
        gate.release()
        assert anna.until(lambda m: m.HasField("offer")).offer.offer.call_id == "gone"
        s.routing.CancelCall(routing_pb2.CancelCallRequest(call_id="gone"), metadata=ADAPTER)
        s.routing.EnqueueCall(_enqueue(call_id="next"), metadata=ADAPTER, timeout=T)
        assert anna.until(lambda m: m.HasField("offer")).offer.offer.call_id == "next"
        anna.close()
