"""AgentService.Session: the desktop's one bidirectional connection. Commands go in with a
correlation id and come back as results; the agent's events come out numbered as on
StreamOffers; a refused command is a result with an error naming the field, not the end of
the session."""

from __future__ import annotations

import contextlib
import queue
from pathlib import Path
from typing import Any

import grpc

from acd.v1 import agent_pb2, common_pb2, routing_pb2
from server_helpers import StreamReader, Stubs, md, running
from test_server_lifecycle import enqueue

T = 5.0
READY = agent_pb2.AVAILABILITY_READY


class Session:
    """An open session of ``agent`` fed from a queue; ``ask`` sends a command and returns its
    result, keeping the events seen meanwhile in ``events``."""

    def __init__(
        self, s: Stubs, agent: str, last_sequence: int = 0, token: str = "", packed: bool = False
    ) -> None:
        self.commands: queue.Queue[agent_pb2.SessionRequest | None] = queue.Queue()
        self.events: list[agent_pb2.StreamOffersResponse] = []
        self.sequences: list[int] = []
        self._ids = 0
        self._packed: list[agent_pb2.SessionResponse] = []  # followers not yet taken
        opened = agent_pb2.StreamOffersRequest(agent_id=agent, last_sequence=last_sequence)
        self.commands.put(agent_pb2.SessionRequest(open=opened, packed=packed))

        def requests() -> Any:
            while (item := self.commands.get()) is not None:
                yield item

        metadata = md(token or f"t-{agent}")
        self.reader = StreamReader(s.agent.Session(requests(), metadata=metadata))

    def next(self) -> agent_pb2.SessionResponse:
        """The next message, a packed one's followers taken one by one."""
        if self._packed:
            message = self._packed.pop(0)
        else:
            message = self.reader.next()
            self._packed = list(message.more)
        self.sequences.append(message.sequence)
        if message.HasField("event"):
            self.events.append(message.event)
        return message

    def event(self, kind: str) -> agent_pb2.StreamOffersResponse:
        for seen in self.events:
            if seen.WhichOneof("event") == kind:
                self.events.remove(seen)
                return seen
        for _ in range(100):
            message = self.next()
            if message.HasField("event") and message.event.WhichOneof("event") == kind:
                self.events.remove(message.event)
                return message.event
        raise AssertionError(f"no {kind} event")

    def ask(self, **command: Any) -> agent_pb2.SessionResult:
        self._ids += 1
        correlation = f"c{self._ids}"
        self.commands.put(agent_pb2.SessionRequest(correlation_id=correlation, **command))
        for _ in range(100):
            message = self.next()
            if message.HasField("result"):
                assert message.result.correlation_id == correlation
                return message.result
        raise AssertionError("no result")

    def close(self) -> None:
        self.commands.put(None)
        self.reader.close()


def test_a_whole_call_through_one_session(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        anna = Session(s, "anna")
        snapshot = anna.event("snapshot")
        assert snapshot.snapshot.agent.state == common_pb2.AGENT_STATE_LOGGED_OUT
        login = anna.ask(login=agent_pb2.LoginRequest())  # agent_id: the session's
        assert not login.HasField("error")
        assert login.login.agent.state == common_pb2.AGENT_STATE_NOT_READY
        ready = anna.ask(set_state=agent_pb2.SetStateRequest(availability=READY))
        assert ready.set_state.agent.state == common_pb2.AGENT_STATE_READY

        enqueue(s, "c1", caller_number="+4930123")
        offer = anna.event("offer").offer
        assert (offer.offer.call_id, offer.screen_pop.caller_number) == ("c1", "+4930123")
        accepted = anna.ask(accept_offer=agent_pb2.AcceptOfferRequest(call_id="c1"))
        assert accepted.accept_offer.connected.call_id == "c1"
        end = routing_pb2.EndCallRequest(call_id="c1")
        s.routing.EndCall(end, metadata=md("t-adapter"), timeout=T)
        done = anna.ask(
            finish_wrap_up=agent_pb2.FinishWrapUpRequest(call_id="c1", disposition_code="sold")
        )
        assert not done.HasField("error")
        anna.close()
        assert anna.sequences == list(range(1, len(anna.sequences) + 1))  # no gaps
        outbox = [e.sequence for e in anna.events]
        assert outbox == sorted(outbox)


def test_refused_commands_are_results_naming_the_field(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        anna = Session(s, "anna")
        anna.event("snapshot")
        cases: list[tuple[dict[str, Any], int, str]] = [
            (
                {"accept_offer": agent_pb2.AcceptOfferRequest(call_id="nope")},
                common_pb2.ERROR_CODE_NOT_FOUND,
                "accept_offer.call_id",
            ),
            (
                {"login": agent_pb2.LoginRequest(agent_id="ben")},
                common_pb2.ERROR_CODE_INVALID_ARGUMENT,
                "login.agent_id",
            ),
            (
                {"set_state": agent_pb2.SetStateRequest(availability=READY)},
                common_pb2.ERROR_CODE_FAILED_PRECONDITION,  # logged out
                "set_state",
            ),
            (
                {"open": agent_pb2.StreamOffersRequest(agent_id="anna")},
                common_pb2.ERROR_CODE_INVALID_ARGUMENT,
                "open",
            ),
            ({}, common_pb2.ERROR_CODE_INVALID_ARGUMENT, "command"),
        ]
        for command, code, field in cases:
            result = anna.ask(**command)
            assert (result.error.code, result.error.field) == (code, field), command
        # The session is still open and works.
        assert anna.ask(login=agent_pb2.LoginRequest()).login.agent.state == (
            common_pb2.AGENT_STATE_NOT_READY
        )
        anna.close()


def test_a_session_must_open_first_and_only_for_its_own_agent(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        login = agent_pb2.SessionRequest(login=agent_pb2.LoginRequest(agent_id="anna"))
        stream = StreamReader(s.agent.Session(iter([login]), metadata=md("t-anna")))
        with contextlib.suppress(EOFError):
            stream.next()
        assert stream.error is not None
        assert stream.error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "open" in (stream.error.details() or "")

        ben = Session(s, "ben", token="t-anna")
        with contextlib.suppress(EOFError):
            ben.next()
        assert ben.reader.error is not None
        assert ben.reader.error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_session_resumes_after_the_last_event_seen(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        anna = Session(s, "anna")
        anna.event("snapshot")
        anna.ask(login=agent_pb2.LoginRequest())
        last = anna.event("state_changed").sequence
        anna.close()
        # Missed while no session was open: the state change to ready.
        ready = agent_pb2.SetStateRequest(agent_id="anna", availability=READY)
        s.agent.SetState(ready, metadata=md("t-anna"), timeout=T)

        again = Session(s, "anna", last_sequence=last)
        missed = again.event("state_changed")
        assert missed.sequence == last + 1
        assert missed.state_changed.agent.state == common_pb2.AGENT_STATE_READY
        assert [e for e in again.events if e.HasField("snapshot")] == []
        again.close()


def test_a_second_stream_of_the_agent_does_not_stall_the_first(tmp_path: Path) -> None:
    """Opening a stream takes a snapshot, and a snapshot takes a sequence of the agent's outbox
    that no message fills. The streams already open (a desktop reconnecting before its old
    connection is gone, a plug-in beside the desktop) still get the agent's next messages
    (tests/test_fanout_outbox.py makes the gap come at the worst moment)."""
    with running(tmp_path) as (_, s):
        anna = Session(s, "anna")
        anna.event("snapshot")
        anna.ask(login=agent_pb2.LoginRequest())
        anna.ask(set_state=agent_pb2.SetStateRequest(availability=READY))
        second = Session(s, "anna")  # its snapshot takes a sequence
        assert second.event("snapshot").snapshot.agent.state == common_pb2.AGENT_STATE_READY
        offers = StreamReader(
            s.agent.StreamOffers(
                agent_pb2.StreamOffersRequest(agent_id="anna"), metadata=md("t-anna"), timeout=T
            )
        )
        assert offers.next().WhichOneof("event") == "snapshot"  # a third: another gap
        enqueue(s, "c1")
        for stream in (anna, second):
            assert stream.event("offer").offer.offer.call_id == "c1"
        assert offers.until(lambda m: m.HasField("offer")).offer.offer.call_id == "c1"
        offers.close()
        for stream in (anna, second):
            stream.close()
