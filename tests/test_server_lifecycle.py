"""A call's whole life through the real service: adapter and agent streams, accept, end,
wrap-up, the next offer; reject, timeout, abandon while waiting and while offered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from acd.v1 import agent_pb2, common_pb2, routing_pb2, supervision_pb2
from server_helpers import StreamReader, Stubs, md, running

T = 5.0


def enqueue(s: Stubs, call_id: str, queue: str = "sales", **fields: Any) -> Any:
    call = common_pb2.Call(call_id=call_id, queue_id=queue, **fields)
    request = routing_pb2.EnqueueCallRequest(call=call)
    return s.routing.EnqueueCall(request, metadata=md("t-adapter"), timeout=T)


def login_ready(s: Stubs, agent: str) -> StreamReader:
    token = f"t-{agent}"
    s.agent.Login(agent_pb2.LoginRequest(agent_id=agent), metadata=md(token), timeout=T)
    stream = StreamReader(
        s.agent.StreamOffers(agent_pb2.StreamOffersRequest(agent_id=agent), metadata=md(token))
    )
    assert stream.next().HasField("snapshot")
    ready = agent_pb2.SetStateRequest(agent_id=agent, availability=agent_pb2.AVAILABILITY_READY)
    s.agent.SetState(ready, metadata=md(token), timeout=T)
    return stream


def adapter_stream(s: Stubs) -> tuple[StreamReader, Any]:
    """An adapter stream with a command queue the test can feed (None ends it)."""
    import queue

    commands: queue.Queue[routing_pb2.AdapterStreamRequest | None] = queue.Queue()

    def requests() -> Any:
        while (item := commands.get()) is not None:
            yield item

    return StreamReader(s.routing.AdapterStream(requests(), metadata=md("t-adapter"))), commands


def offer_of(m: Any) -> bool:
    return bool(m.HasField("offer"))


def state_is(state: int) -> Any:
    return lambda m: m.HasField("state_changed") and m.state_changed.agent.state == state


def test_enqueue_offer_accept_end_wrapup_next_offer(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        anna = login_ready(s, "anna")
        adapter, commands = adapter_stream(s)
        enqueue(s, "c1", caller_number="+4930123", dialled_number="800-1", attributes={"o": "7"})
        offer = anna.until(offer_of).offer
        assert (offer.offer.call_id, offer.offer.agent_id) == ("c1", "anna")
        assert offer.offer.endpoint == "sip:anna@pbx.test"
        assert offer.screen_pop.caller_number == "+4930123"
        assert offer.screen_pop.dialled_number == "800-1"
        assert dict(offer.screen_pop.attributes) == {"o": "7"}
        decision = adapter.until(offer_of).offer
        assert (decision.call_id, decision.agent_id, decision.endpoint) == (
            "c1",
            "anna",
            "sip:anna@pbx.test",
        )

        accept = agent_pb2.AcceptOfferRequest(agent_id="anna", call_id="c1")
        connected = s.agent.AcceptOffer(accept, metadata=md("t-anna"), timeout=T).connected
        assert (connected.call_id, connected.queue_id) == ("c1", "sales")
        assert adapter.until(lambda m: m.HasField("connected")).connected.agent_id == "anna"
        anna.until(state_is(common_pb2.AGENT_STATE_BUSY))

        enqueue(s, "c2")  # waits: anna is busy, ben is not logged in
        end = routing_pb2.EndCallRequest(call_id="c1")
        out = s.routing.EndCall(end, metadata=md("t-adapter"), timeout=T)
        assert out.outcome == common_pb2.CALL_OUTCOME_COMPLETED
        finished = adapter.until(lambda m: m.HasField("finished")).finished
        assert (finished.call_id, finished.agent_id) == ("c1", "anna")
        assert finished.outcome == common_pb2.CALL_OUTCOME_COMPLETED
        anna.until(state_is(common_pb2.AGENT_STATE_WRAP_UP))
        # The wrap-up timer (0.2 s) ends it; the waiting call is offered next.
        assert anna.until(offer_of).offer.offer.call_id == "c2"

        # Adapter stream commands are acknowledged with their correlation id.
        cancel = routing_pb2.CancelCallRequest(call_id="c2")
        commands.put(routing_pb2.AdapterStreamRequest(correlation_id="k1", cancel_call=cancel))
        ack = adapter.until(lambda m: m.HasField("ack")).ack
        assert ack.correlation_id == "k1"
        commands.put(routing_pb2.AdapterStreamRequest(correlation_id="k2", cancel_call=cancel))
        rejected = adapter.until(lambda m: m.HasField("rejected")).rejected
        assert rejected.correlation_id == "k2"
        assert rejected.error.code == common_pb2.ERROR_CODE_NOT_FOUND
        commands.put(None)
        adapter.close()
        anna.close()


def test_reject_returns_the_call_and_timeout_pauses_the_agent(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "r1", queue="support")
        assert anna.until(offer_of).offer.offer.call_id == "r1"
        reject = agent_pb2.RejectOfferRequest(agent_id="anna", call_id="r1")
        s.agent.RejectOffer(reject, metadata=md("t-anna"), timeout=T)
        revoked = anna.until(lambda m: m.HasField("revoked")).revoked
        assert revoked.reason == common_pb2.REVOKE_REASON_REJECTED
        # anna is the only agent and Ready again at once: the call comes back to her.
        assert anna.until(offer_of).offer.offer.call_id == "r1"
        s.routing.CancelCall(routing_pb2.CancelCallRequest(call_id="r1"), metadata=md("t-adapter"))
        revoked = anna.until(lambda m: m.HasField("revoked")).revoked
        assert revoked.reason == common_pb2.REVOKE_REASON_ABANDONED  # abandon while offered

        enqueue(s, "q1", queue="quick")  # offer timeout 0.3 s, max_misses 1
        assert anna.until(offer_of).offer.offer.call_id == "q1"
        revoked = anna.until(lambda m: m.HasField("revoked")).revoked
        assert (revoked.call_id, revoked.reason) == ("q1", common_pb2.REVOKE_REASON_TIMED_OUT)
        paused = anna.until(state_is(common_pb2.AGENT_STATE_NOT_READY)).state_changed.agent
        assert paused.reason == "missed"
        listed = s.supervision.ListWaitingCalls(
            supervision_pb2.ListWaitingCallsRequest(), metadata=md("t-supervisor"), timeout=T
        )
        assert [(c.call_id, c.state) for c in listed.calls] == [
            ("q1", common_pb2.CALL_STATE_WAITING)
        ]
        anna.close()


def test_abandon_while_waiting_and_duplicates(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        adapter, commands = adapter_stream(s)
        assert not enqueue(s, "w1", caller_number="+1").duplicate
        assert enqueue(s, "w1").duplicate
        listed = s.supervision.ListWaitingCalls(
            supervision_pb2.ListWaitingCallsRequest(queue_ids=["sales"]),
            metadata=md("t-supervisor"),
            timeout=T,
        )
        assert [(c.call_id, c.position, c.caller_number) for c in listed.calls] == [("w1", 1, "+1")]
        out = s.routing.CancelCall(
            routing_pb2.CancelCallRequest(call_id="w1"), metadata=md("t-adapter"), timeout=T
        )
        assert out.outcome == common_pb2.CALL_OUTCOME_ABANDONED
        finished = adapter.until(lambda m: m.HasField("finished")).finished
        assert (finished.call_id, finished.outcome) == ("w1", common_pb2.CALL_OUTCOME_ABANDONED)
        assert enqueue(s, "w1").duplicate  # finished within the dedup window
        listed = s.supervision.ListWaitingCalls(
            supervision_pb2.ListWaitingCallsRequest(), metadata=md("t-supervisor"), timeout=T
        )
        assert list(listed.calls) == []

        batch = routing_pb2.EnqueueCallsRequest(
            calls=[
                common_pb2.Call(call_id="b1", queue_id="sales"),
                common_pb2.Call(call_id="b2", queue_id="nope"),
                common_pb2.Call(call_id="", queue_id="sales"),
                common_pb2.Call(call_id="b1", queue_id="sales"),
            ]
        )
        results = s.routing.EnqueueCalls(batch, metadata=md("t-adapter"), timeout=T).results
        assert [(r.call_id, r.duplicate, r.error.code) for r in results] == [
            ("b1", False, 0),
            ("b2", False, common_pb2.ERROR_CODE_NOT_FOUND),
            ("", False, common_pb2.ERROR_CODE_INVALID_ARGUMENT),
            ("b1", True, 0),
        ]
        assert results[1].error.field == "calls[1].queue_id"
        assert results[2].error.field == "calls[2].call_id"
        commands.put(None)
        adapter.close()


def test_rpc_error_codes_reach_the_client(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        try:
            s.agent.AcceptOffer(
                agent_pb2.AcceptOfferRequest(agent_id="ben", call_id="x"),
                metadata=md("t-ben"),
                timeout=T,
            )
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.NOT_FOUND  # not a call of ben's
        else:
            raise AssertionError("accept of an unknown call succeeded")


def test_offer_stream_resumes_from_its_last_sequence(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "s1", queue="support")
        first = anna.until(offer_of)
        anna.close()
        s.routing.CancelCall(routing_pb2.CancelCallRequest(call_id="s1"), metadata=md("t-adapter"))

        def reopen(last: int) -> StreamReader:
            request = agent_pb2.StreamOffersRequest(agent_id="anna", last_sequence=last)
            return StreamReader(s.agent.StreamOffers(request, metadata=md("t-anna")))

        resumed = reopen(first.sequence)
        after = resumed.next()  # exactly what came after, no snapshot
        assert after.sequence == first.sequence + 1 and not after.HasField("snapshot")
        missed = resumed.until(lambda m: m.HasField("revoked"))
        assert missed.revoked.reason == common_pb2.REVOKE_REASON_ABANDONED
        resumed.close()
        fresh = reopen(10_000)  # not in the ring: start again from a snapshot
        snapshot = fresh.next()
        assert snapshot.HasField("snapshot") and snapshot.sequence > missed.sequence
        assert snapshot.snapshot.agent.state == common_pb2.AGENT_STATE_READY
        assert list(snapshot.snapshot.open_offers) == []
        fresh.close()
