"""Restart from the journal: the same calls and agents, and offers that were open at the stop
come back as waiting calls in their place (withdrawn with reason "restart")."""

from __future__ import annotations

from pathlib import Path

from acd.v1 import agent_pb2, common_pb2, routing_pb2, supervision_pb2
from server_helpers import StreamReader, Stubs, md, running
from test_server_lifecycle import enqueue, login_ready, offer_of

T = 5.0
SUP = md("t-supervisor")


def calls(s: Stubs) -> list[tuple[str, int, int]]:
    listed = s.supervision.ListWaitingCalls(
        supervision_pb2.ListWaitingCallsRequest(queue_ids=["sales"]), metadata=SUP, timeout=T
    )
    return [(c.call_id, c.position, c.state) for c in listed.calls]


def agents(s: Stubs) -> dict[str, tuple[int, str]]:
    listed = s.supervision.ListAgents(supervision_pb2.ListAgentsRequest(), metadata=SUP)
    return {a.agent_id: (a.state, a.reason) for a in listed.agents}


def test_restart_keeps_calls_agents_and_snapshots(tmp_path: Path) -> None:
    W = common_pb2.CALL_STATE_WAITING
    many = [common_pb2.Call(call_id=f"m{i}", queue_id="sales") for i in range(30)]
    with running(tmp_path) as (server, s):
        s.routing.EnqueueCalls(
            routing_pb2.EnqueueCallsRequest(calls=many), metadata=md("t-adapter"), timeout=T
        )
        # Sent at once: the ones applied in one turn of the server's loop share an entry.
        at_once = [
            s.routing.EnqueueCall.future(
                routing_pb2.EnqueueCallRequest(
                    call=common_pb2.Call(call_id=f"m{i}", queue_id="sales")
                ),
                metadata=md("t-adapter"),
                timeout=T,
            )
            for i in range(30, 60)
        ]
        assert not any(f.result(T).duplicate for f in at_once)
        s.agent.Login(agent_pb2.LoginRequest(agent_id="ben"), metadata=md("t-ben"), timeout=T)
        for i in range(5):
            cancel = routing_pb2.CancelCallRequest(call_id=f"m{i}")
            s.routing.CancelCall(cancel, metadata=md("t-adapter"), timeout=T)
        for _ in range(25):  # one entry each: a snapshot on the way (every 50 entries)
            s.agent.Logout(agent_pb2.LogoutRequest(agent_id="ben"), metadata=md("t-ben"), timeout=T)
            s.agent.Login(agent_pb2.LoginRequest(agent_id="ben"), metadata=md("t-ben"), timeout=T)
        before = (calls(s), agents(s))
        assert server.server is not None
        journal = server.server.journal
    assert len(journal.snapshot_seqs("store")) >= 2  # periodic and final snapshots
    assert any(entry[0] == "batch" for _, entry in journal.entries("store"))
    with running(tmp_path) as (_, s):
        assert (calls(s), agents(s)) == before
        names = [c[0] for c in before[0]]
        assert names[:25] == [f"m{i}" for i in range(5, 30)]
        # The concurrent ones arrive in whatever order the transport hands them over.
        assert sorted(names[25:]) == sorted(f"m{i}" for i in range(30, 60))
        assert all(state == W for _, _, state in before[0])
        assert before[1]["ben"] == (common_pb2.AGENT_STATE_NOT_READY, "login")
        assert enqueue(s, "m59").duplicate
        assert enqueue(s, "m0").duplicate  # finished, still within the dedup window


def test_restart_withdraws_open_offers_back_to_their_place(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        enqueue(s, "o1")
        enqueue(s, "o2")
        anna = login_ready(s, "anna")
        assert anna.until(offer_of).offer.offer.call_id == "o1"
        anna.close()
    with running(tmp_path) as (_, s):
        assert calls(s) == [
            ("o1", 1, common_pb2.CALL_STATE_WAITING),
            ("o2", 2, common_pb2.CALL_STATE_WAITING),
        ]
        assert agents(s)["anna"] == (common_pb2.AGENT_STATE_NOT_READY, "restart")
        anna = login_ready_again(s)
        assert anna.until(offer_of).offer.offer.call_id == "o1"
        anna.close()


def login_ready_again(s: Stubs) -> StreamReader:
    stream = StreamReader(
        s.agent.StreamOffers(agent_pb2.StreamOffersRequest(agent_id="anna"), metadata=md("t-anna"))
    )
    ready = agent_pb2.SetStateRequest(agent_id="anna", availability=agent_pb2.AVAILABILITY_READY)
    s.agent.SetState(ready, metadata=md("t-anna"), timeout=T)
    return stream
