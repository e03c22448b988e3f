"""Pick from queue (issue 4): a supervisor, or an agent allowed to (``can_pick`` on the agent
or its group), takes a specific waiting call out of the line; it is offered at once. The error
paths: a call just answered, an unknown call, an agent not allowed."""

from __future__ import annotations

from pathlib import Path

import grpc

from acd.v1 import admin_pb2, agent_pb2, common_pb2, supervision_pb2
from server_helpers import TEST_CONFIG, Stubs, error_of, make_config, md, running
from test_server_lifecycle import enqueue, login_ready, offer_of

T = 5.0
SUP = md("t-supervisor")


def _waiting(s: Stubs) -> list[str]:
    listed = s.supervision.ListWaitingCalls(
        supervision_pb2.ListWaitingCallsRequest(queue_ids=["support"]), metadata=SUP, timeout=T
    )
    return [c.call_id for c in listed.calls if c.state == common_pb2.CALL_STATE_WAITING]


def _pick(s: Stubs, agent: str, call: str, token: str) -> agent_pb2.PickCallResponse:
    request = agent_pb2.PickCallRequest(agent_id=agent, call_id=call)
    response: agent_pb2.PickCallResponse = s.agent.PickCall(request, metadata=md(token), timeout=T)
    return response


def test_a_picked_call_is_offered_at_once_and_an_answered_one_cannot_be_picked(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as (_, s):
        ben = login_ready(s, "ben")  # no support skill: the line's calls are never his
        for call in ("p1", "p2", "p3"):
            enqueue(s, call, queue="support")
        offer = _pick(s, "ben", "p3", "t-ben").offer  # a known regular, from the back
        assert (offer.call_id, offer.rule) == ("p3", "pick")
        assert ben.until(offer_of).offer.offer.call_id == "p3"
        assert _waiting(s) == ["p1", "p2"]  # the others keep their places
        anna = login_ready(s, "anna")
        assert anna.until(offer_of).offer.offer.call_id == "p1"
        accept = agent_pb2.AcceptOfferRequest(agent_id="anna", call_id="p1")
        s.agent.AcceptOffer(accept, metadata=md("t-anna"), timeout=T)
        # The supervisor tries to hand p1 to ben, but anna has just answered it.
        e = error_of(lambda: _pick(s, "ben", "p1", "t-supervisor"))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
        e = error_of(lambda: _pick(s, "ben", "no-such-call", "t-supervisor"))
        assert e.code() == grpc.StatusCode.NOT_FOUND
        assert "call_id" in (e.details() or "")
        ben.close()
        anna.close()


def test_only_allowed_agents_pick_for_themselves(tmp_path: Path) -> None:
    text = TEST_CONFIG.replace('id = "ben"\n', 'id = "ben"\ncan_pick = false\n', 1)
    with running(tmp_path, make_config(text)) as (_, s):
        ben = login_ready(s, "ben")
        enqueue(s, "p1", queue="support")
        e = error_of(lambda: _pick(s, "ben", "p1", "t-ben"))
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "can_pick" in (e.details() or "") and "agent_id" in (e.details() or "")
        assert _waiting(s) == ["p1"]  # refused: nothing changed
        # A supervisor may still hand ben the call.
        assert _pick(s, "ben", "p1", "t-supervisor").offer.call_id == "p1"
        assert ben.until(offer_of).offer.offer.call_id == "p1"
        ben.close()
        # The admin API shows the effective permission and can change it.
        admin = md("t-admin")
        agents = s.admin.ListAgents(admin_pb2.AdminServiceListAgentsRequest(), metadata=admin)
        allowed = {a.agent_id: a.can_pick for a in agents.agents}
        assert allowed == {"anna": True, "ben": False}  # anna: her group's
