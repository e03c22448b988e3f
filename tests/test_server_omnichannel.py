"""Omnichannel through the service (issue 4): chats and voice calls in one line per queue, and
per-agent channel capacities ("1 voice or 3 chats") deciding who gets what."""

from __future__ import annotations

from pathlib import Path

from acd.v1 import agent_pb2, common_pb2, routing_pb2, supervision_pb2
from server_helpers import TEST_CONFIG, StreamReader, Stubs, make_config, md, running
from test_server_lifecycle import enqueue, login_ready, offer_of

T = 5.0
CHAT = common_pb2.CHANNEL_CHAT
# ben takes up to three chats at once, or one voice call (and nothing beside it).
CONFIG = TEST_CONFIG.replace(
    "skills = { sales = 6 }\n", "skills = { sales = 6 }\ncapacity = { voice = 1, chat = 3 }\n", 1
)


def _line(s: Stubs) -> list[tuple[str, int]]:
    listed = s.supervision.ListWaitingCalls(
        supervision_pb2.ListWaitingCallsRequest(queue_ids=["sales"]),
        metadata=md("t-supervisor"),
        timeout=T,
    )
    waiting = common_pb2.CALL_STATE_WAITING
    return [(c.call_id, c.channel) for c in listed.calls if c.state == waiting]


def _take(s: Stubs, stream: StreamReader, call_id: str) -> None:
    offer = stream.until(offer_of).offer.offer
    assert offer.call_id == call_id
    accept = agent_pb2.AcceptOfferRequest(agent_id="ben", call_id=call_id)
    s.agent.AcceptOffer(accept, metadata=md("t-ben"), timeout=T)


def _end(s: Stubs, call_id: str) -> None:
    end = routing_pb2.EndCallRequest(call_id=call_id)
    s.routing.EndCall(end, metadata=md("t-adapter"), timeout=T)


def test_an_agent_holds_three_chats_or_one_voice_call_from_one_line(tmp_path: Path) -> None:
    config = make_config(CONFIG)
    ben_config = next(a for a in config.tenants["store"].agents if a.id == "ben")
    assert dict(ben_config.capacity) == {"voice": 1, "chat": 3}
    with running(tmp_path, config) as (_, s):
        ben = login_ready(s, "ben")
        for n in range(1, 5):
            enqueue(s, f"ch{n}", channel=CHAT)
        for n in range(1, 4):  # three chats at once; the fourth waits for a free slot
            _take(s, ben, f"ch{n}")
        enqueue(s, "v1")  # a voice call needs ben free of any other work
        assert _line(s) == [("ch4", CHAT), ("v1", common_pb2.CHANNEL_VOICE)]
        agents = s.supervision.ListAgents(
            supervision_pb2.ListAgentsRequest(), metadata=md("t-supervisor"), timeout=T
        ).agents
        status = next(a for a in agents if a.agent_id == "ben")
        assert sorted(status.call_ids) == ["ch1", "ch2", "ch3"]

        _end(s, "ch1")  # a chat slot frees up (after the queue's 0.2 s wrap-up): ch4 goes in
        _take(s, ben, "ch4")
        assert _line(s) == [("v1", common_pb2.CHANNEL_VOICE)]
        for n in (2, 3, 4):
            _end(s, f"ch{n}")
        _take(s, ben, "v1")  # only now: no chat left beside it
        assert _line(s) == []
        enqueue(s, "ch5", channel=CHAT)  # while on the voice call, no chat either
        assert _line(s) == [("ch5", CHAT)]
        _end(s, "v1")
        _take(s, ben, "ch5")
        ben.close()
