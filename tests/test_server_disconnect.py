"""An agent's desktop goes away while an offer rings at it (its offer stream ends).

Within the tenant's ``disconnect_grace_s`` nothing happens: a desktop that resumes its stream
keeps its offer and is not sent it again. After the grace the service withdraws the offer
(REVOKE_REASON_WITHDRAWN; the agent becomes not ready "disconnected") and the call goes back to
its place in line, ahead of calls that arrived after it, to be offered to the next Ready agent.

Two agents disconnect one after the other with the same grace; only ben stays away. Ben's
withdrawal therefore comes after anna's grace has run out, which is how the test knows, without
timing anything, that anna's reconnect was honoured.
"""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

from acd.v1 import agent_pb2, common_pb2, routing_pb2, supervision_pb2
from server_helpers import StreamReader, Stubs, md, running
from test_server_lifecycle import adapter_stream, enqueue, login_ready, offer_of, state_is

T = 5.0
GRACE_S = 1.0  # long enough for a reconnect; the production default stays as it is
SUP = md("t-supervisor")


def _close(stream: StreamReader) -> int:
    """Closes a desktop's stream; gives the last sequence it had received."""
    stream.close()
    last = 0
    while True:
        try:
            item = stream.items.get_nowait()
        except queue.Empty:
            return last
        if item is not None:
            last = max(last, item.sequence)


def _resume(s: Stubs, agent: str, last_sequence: int) -> StreamReader:
    request = agent_pb2.StreamOffersRequest(agent_id=agent, last_sequence=last_sequence)
    return StreamReader(s.agent.StreamOffers(request, metadata=md(f"t-{agent}")))


def _agents(s: Stubs) -> dict[str, tuple[int, str]]:
    listed = s.supervision.ListAgents(supervision_pb2.ListAgentsRequest(), metadata=SUP)
    return {a.agent_id: (a.state, a.reason) for a in listed.agents}


def _line(s: Stubs) -> list[tuple[str, int, int]]:
    listed = s.supervision.ListWaitingCalls(
        supervision_pb2.ListWaitingCallsRequest(queue_ids=["sales"]), metadata=SUP, timeout=T
    )
    return [(c.call_id, c.position, c.state) for c in listed.calls]


def _is(kind: str, call_id: str) -> Any:
    return lambda m: m.WhichOneof("message") == kind and getattr(m, kind).call_id == call_id


def test_offer_withdrawn_after_the_grace_kept_on_reconnect(tmp_path: Path) -> None:
    with running(tmp_path) as (server, s):
        assert server.server is not None
        server.server.tenants["store"].disconnect_grace_s = GRACE_S
        adapter, commands = adapter_stream(s)
        anna = login_ready(s, "anna")
        ben = login_ready(s, "ben")
        enqueue(s, "k1")
        enqueue(s, "k2")
        kept = anna.until(offer_of).offer.offer.call_id
        lost = ben.until(offer_of).offer.offer.call_id
        assert {kept, lost} == {"k1", "k2"}
        enqueue(s, "k3")  # waits behind both
        adapter.until(_is("offer", kept))
        adapter.until(_is("offer", lost))

        # anna's desktop drops and resumes at once; ben's drops for good, just after.
        anna_resumed = _resume(s, "anna", _close(anna))
        _close(ben)

        revoked = adapter.until(_is("revoked", lost))
        assert revoked.revoked.agent_id == "ben"
        assert revoked.revoked.reason == common_pb2.REVOKE_REASON_WITHDRAWN
        agents = _agents(s)
        assert agents["ben"] == (common_pb2.AGENT_STATE_NOT_READY, "disconnected")
        assert agents["anna"][0] == common_pb2.AGENT_STATE_RESERVED  # still ringing at anna
        # Back in its place: ahead of k3, which arrived after it.
        states = {kept: common_pb2.CALL_STATE_OFFERED, lost: common_pb2.CALL_STATE_WAITING}
        states["k3"] = common_pb2.CALL_STATE_WAITING
        assert _line(s) == [(c, i, states[c]) for i, c in enumerate(["k1", "k2", "k3"], 1)]

        # anna's offer survived her reconnect and is not sent again.
        accept = agent_pb2.AcceptOfferRequest(agent_id="anna", call_id=kept)
        s.agent.AcceptOffer(accept, metadata=md("t-anna"), timeout=T)
        between = []
        for _ in range(100):
            message = anna_resumed.next()
            if state_is(common_pb2.AGENT_STATE_BUSY)(message):
                break
            between.append(message.WhichOneof("event"))
        else:
            raise AssertionError("anna never went busy")
        assert "offer" not in between and "snapshot" not in between
        assert "revoked" not in between
        # Nor did the adapter hear of any revocation of it.
        for _ in range(100):
            message = adapter.next()
            assert not _is("revoked", kept)(message)
            if _is("connected", kept)(message):
                break
        else:
            raise AssertionError("the adapter never heard of the connection")

        # The withdrawn call goes to the next Ready agent: anna, once her call and wrap-up end.
        s.routing.EndCall(
            routing_pb2.EndCallRequest(call_id=kept), metadata=md("t-adapter"), timeout=T
        )
        assert anna_resumed.until(offer_of).offer.offer.call_id == lost
        assert adapter.until(lambda m: m.WhichOneof("message") == "offer").offer.call_id == lost
        commands.put(None)
        adapter.close()
        anna_resumed.close()
