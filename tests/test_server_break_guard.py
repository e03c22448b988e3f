"""The break guard through the gRPC API: a break refused (SetState and the Session stream) or
deferred while calls wait and no colleague is ready, started by the service once the line is
clear, kept across a restart; reasons that are not breaks, and supervisors, are not guarded."""

from __future__ import annotations

from pathlib import Path

import grpc

from acd.server.config import Config
from acd.v1 import agent_pb2, common_pb2, routing_pb2, supervision_pb2
from server_helpers import TEST_CONFIG, StreamReader, Stubs, error_of, make_config, md, running
from test_server_lifecycle import enqueue, login_ready, offer_of, state_is
from test_server_session import Session

T = 5.0
NOT_READY = agent_pb2.AVAILABILITY_NOT_READY


def guarded(mode: str, reasons: str = "", queue: str = "sales") -> Config:
    """The test config with ``queue`` guarded (sales: wrap-up 0.2 s; support: until done)."""
    options = f'break_guard = "{mode}"\n' + (f"break_reasons = {reasons}\n" if reasons else "")
    line = f'id = "{queue}"\n'
    text = TEST_CONFIG.replace(line, line + options, 1)
    return make_config(text)


def take_call(s: Stubs, anna: object, call_id: str) -> None:
    """``call_id`` is offered to anna and she accepts it."""
    offer = anna.until(offer_of).offer  # type: ignore[attr-defined]
    assert offer.offer.call_id == call_id
    accept = agent_pb2.AcceptOfferRequest(agent_id="anna", call_id=call_id)
    s.agent.AcceptOffer(accept, metadata=md("t-anna"), timeout=T)


def go_on_break(s: Stubs, reason: str = "break", agent: str = "anna") -> common_pb2.AgentStatus:
    request = agent_pb2.SetStateRequest(agent_id=agent, availability=NOT_READY, reason_code=reason)
    response = s.agent.SetState(request, metadata=md(f"t-{agent}"), timeout=T)
    status: common_pb2.AgentStatus = response.agent
    return status


def listed(s: Stubs, agent: str = "anna") -> common_pb2.AgentStatus:
    agents = s.supervision.ListAgents(
        supervision_pb2.ListAgentsRequest(), metadata=md("t-supervisor"), timeout=T
    ).agents
    return next(a for a in agents if a.agent_id == agent)


def started(stream: StreamReader) -> common_pb2.AgentStatus:
    """The agent's status once the service started its deferred break (the desktop is told:
    its pending break is gone)."""
    message = stream.until(
        lambda m: (
            m.HasField("state_changed")
            and not m.state_changed.agent.pending_break_reason
            and m.state_changed.agent.pending_not_ready
        )
    )
    status: common_pb2.AgentStatus = message.state_changed.agent
    return status


def cancel(s: Stubs, call_id: str) -> None:
    request = routing_pb2.CancelCallRequest(call_id=call_id)
    s.routing.CancelCall(request, metadata=md("t-adapter"), timeout=T)


def test_a_break_is_refused_while_calls_wait_and_nobody_is_ready(tmp_path: Path) -> None:
    with running(tmp_path, guarded("refuse", '["break", "lunch"]')) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "c1")
        take_call(s, anna, "c1")
        enqueue(s, "c2")
        enqueue(s, "c3")  # both wait: anna is busy, ben is logged out
        error = error_of(lambda: go_on_break(s))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "2 calls wait in queue 'sales'" in (error.details() or "")
        assert "no colleague is ready" in (error.details() or "")
        assert listed(s).state == common_pb2.AGENT_STATE_BUSY
        assert not listed(s).pending_not_ready

        # The Session stream shares the handler: the same refusal, naming the field.
        session = Session(s, "anna")
        session.event("snapshot")
        request = agent_pb2.SetStateRequest(availability=NOT_READY, reason_code="lunch")
        result = session.ask(set_state=request)
        assert result.error.code == common_pb2.ERROR_CODE_FAILED_PRECONDITION
        assert result.error.field == "set_state.availability"
        session.close()

        # A reason that is not a break for this queue is let through (pending: on a call).
        assert go_on_break(s, "training").pending_not_ready

        # With the line clear, a break is let through too.
        cancel(s, "c2")
        cancel(s, "c3")
        status = go_on_break(s, "lunch")
        assert status.pending_not_ready and not status.pending_break_reason


def test_a_ready_colleague_lets_the_break_through(tmp_path: Path) -> None:
    with running(tmp_path, guarded("refuse")) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "c1")
        take_call(s, anna, "c1")
        # c2 needs sales 8, which ben (sales 6) lacks: it waits while ben is ready for the
        # queue. A colleague ready for the queue is enough for the guard.
        enqueue(s, "c2", skills={"sales": 8})
        ben = login_ready(s, "ben")
        assert go_on_break(s).pending_not_ready
        ben.close()
        anna.close()


def test_a_supervisor_forcing_a_break_is_not_guarded(tmp_path: Path) -> None:
    with running(tmp_path, guarded("refuse")) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "c1")
        take_call(s, anna, "c1")
        enqueue(s, "c2")
        force = supervision_pb2.ForceAgentStateRequest(
            agent_id="anna", state=common_pb2.AGENT_STATE_NOT_READY, reason_code="break"
        )
        forced = s.supervision.ForceAgentState(force, metadata=md("t-supervisor"), timeout=T)
        assert forced.agent.pending_not_ready
        anna.close()


def test_a_deferred_break_starts_once_the_line_is_clear(tmp_path: Path) -> None:
    with running(tmp_path, guarded("defer")) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "c1")
        take_call(s, anna, "c1")
        enqueue(s, "c2")
        status = go_on_break(s, "lunch")
        assert status.pending_break_reason == "lunch"
        assert status.state == common_pb2.AGENT_STATE_BUSY and not status.pending_not_ready

        # She keeps taking calls: after c1's wrap-up, c2 is offered to her.
        s.routing.EndCall(routing_pb2.EndCallRequest(call_id="c1"), metadata=md("t-adapter"))
        take_call(s, anna, "c2")
        # No call waits any more: the service starts the break (on a call: pending in the
        # router until c2's wrap-up ends), then she goes not-ready "lunch".
        status = started(anna)
        assert status.pending_not_ready and status.state == common_pb2.AGENT_STATE_BUSY
        enqueue(s, "c3")  # waits; she is on her way to lunch, not back to ready
        s.routing.EndCall(routing_pb2.EndCallRequest(call_id="c2"), metadata=md("t-adapter"))
        on_break = anna.until(state_is(common_pb2.AGENT_STATE_NOT_READY)).state_changed.agent
        assert on_break.reason == "lunch"
        anna.close()


def test_going_ready_drops_a_deferred_break(tmp_path: Path) -> None:
    with running(tmp_path, guarded("defer", queue="support")) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "s1", queue="support")
        take_call(s, anna, "s1")
        enqueue(s, "s2", queue="support")
        assert go_on_break(s).pending_break_reason == "break"
        s.routing.EndCall(routing_pb2.EndCallRequest(call_id="s1"), metadata=md("t-adapter"))
        anna.until(state_is(common_pb2.AGENT_STATE_WRAP_UP))  # until done: she says when
        ready = agent_pb2.SetStateRequest(
            agent_id="anna", availability=agent_pb2.AVAILABILITY_READY
        )
        status = s.agent.SetState(ready, metadata=md("t-anna"), timeout=T).agent
        assert status.pending_break_reason == ""
        take_call(s, anna, "s2")  # the line is clear now, but no break is pending any more
        status = listed(s)
        assert status.state == common_pb2.AGENT_STATE_BUSY and not status.pending_not_ready
        anna.close()


def test_a_deferred_break_survives_a_restart(tmp_path: Path) -> None:
    config = guarded("defer")
    with running(tmp_path, config) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "c1")
        take_call(s, anna, "c1")
        enqueue(s, "c2")
        assert go_on_break(s).pending_break_reason == "break"
        anna.close()
    # The final snapshot covers the router; the pending break is journaled after it.
    with running(tmp_path, config) as (_, s):
        status = listed(s)
        assert (status.state, status.pending_break_reason) == (
            common_pb2.AGENT_STATE_BUSY,
            "break",
        )
        anna = StreamReader(
            s.agent.StreamOffers(
                agent_pb2.StreamOffersRequest(agent_id="anna"), metadata=md("t-anna")
            )
        )
        assert anna.next().HasField("snapshot")
        cancel(s, "c2")  # the line is clear: the break starts (pending until wrap-up ends)
        assert started(anna).pending_not_ready
        anna.close()
    with running(tmp_path, config) as (_, s):  # and it stays started
        assert listed(s).pending_not_ready and listed(s).pending_break_reason == ""
