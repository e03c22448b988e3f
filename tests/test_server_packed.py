"""Packed stream responses (AdapterStreamRequest.packed, SessionRequest.packed): messages
ready at the same moment share one stream message, the later ones in ``more``, each with its
own sequence, in the order an unpacked stream would give them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acd.v1 import agent_pb2, common_pb2, routing_pb2
from server_helpers import Stubs, md, running
from test_server_lifecycle import adapter_stream, login_ready
from test_server_session import Session

T = 5.0


def flat(message: Any) -> list[Any]:
    """A stream message and the ones packed into it, in order."""
    for follower in message.more:
        assert not follower.more, "a packed message's followers carry no more of their own"
    return [message, *message.more]


def burst(s: Stubs) -> list[str]:
    """Two calls in one batch while anna and ben are ready: both offers are published at once
    (one turn of the event loop), so a packed adapter stream gets them in one message."""
    calls = [common_pb2.Call(call_id=f"b{i}", queue_id="sales") for i in range(2)]
    request = routing_pb2.EnqueueCallsRequest(calls=calls)
    s.routing.EnqueueCalls(request, metadata=md("t-adapter"), timeout=T)
    return [c.call_id for c in calls]


def test_an_adapter_stream_asked_packed_gets_what_is_ready_in_one_message(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as (_, s):
        packed, packed_commands = adapter_stream(s)
        plain, plain_commands = adapter_stream(s)
        # The first command asks (or not); a refused one answers all the same.
        for commands, ask in ((packed_commands, True), (plain_commands, False)):
            cancel = routing_pb2.CancelCallRequest(call_id="nope")
            commands.put(routing_pb2.AdapterStreamRequest(cancel_call=cancel, packed=ask))
        streams = [login_ready(s, "anna"), login_ready(s, "ben")]
        offered = burst(s)

        def until_offers(reader: Any, packs: list[int]) -> list[Any]:
            seen: list[Any] = []
            while len([m for m in seen if m.HasField("offer")]) < len(offered):
                message = reader.next()
                packs.append(len(message.more))
                seen += flat(message)
            return seen

        packs: list[int] = []
        got = until_offers(packed, packs)
        plain_got = until_offers(plain, [])
        assert max(packs) >= 1  # the two offers (at least) came in one message
        assert [m.sequence for m in got] == list(range(1, len(got) + 1))  # no gaps
        assert [m.WhichOneof("message") for m in got] == [
            m.WhichOneof("message") for m in plain_got
        ]
        calls = [m.offer.call_id for m in got if m.HasField("offer")]
        assert calls == [m.offer.call_id for m in plain_got if m.HasField("offer")]
        assert sorted(calls) == offered
        for commands in (packed_commands, plain_commands):
            commands.put(None)
        for reader in (packed, plain, *streams):
            reader.close()


def test_a_packed_session_carries_a_whole_call(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        anna = Session(s, "anna", packed=True)
        assert anna.event("snapshot").snapshot.agent.state == common_pb2.AGENT_STATE_LOGGED_OUT
        assert not anna.ask(login=agent_pb2.LoginRequest()).HasField("error")
        ready = agent_pb2.SetStateRequest(availability=agent_pb2.AVAILABILITY_READY)
        assert anna.ask(set_state=ready).set_state.agent.state == common_pb2.AGENT_STATE_READY
        call = common_pb2.Call(call_id="c1", queue_id="sales")
        s.routing.EnqueueCall(
            routing_pb2.EnqueueCallRequest(call=call), metadata=md("t-adapter"), timeout=T
        )
        assert anna.event("offer").offer.offer.call_id == "c1"
        accepted = anna.ask(accept_offer=agent_pb2.AcceptOfferRequest(call_id="c1"))
        assert accepted.accept_offer.connected.call_id == "c1"
        end = routing_pb2.EndCallRequest(call_id="c1")
        s.routing.EndCall(end, metadata=md("t-adapter"), timeout=T)
        finish = agent_pb2.FinishWrapUpRequest(call_id="c1", disposition_code="sold")
        assert not anna.ask(finish_wrap_up=finish).HasField("error")
        anna.close()
        assert anna.sequences == list(range(1, len(anna.sequences) + 1))  # no gaps
        outbox = [e.sequence for e in anna.events]
        assert outbox == sorted(outbox)
