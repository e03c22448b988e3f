"""SessionOutput, what an agent's Session writes: a snapshot first (or, resuming, what the
desktop missed), then the outbox's messages as they are pushed, the desktop's command results
before events waiting with them, a fresh snapshot when the desktop fell out of the ring, and
the end when the desktop is done or the service stops. Driven here against a bare outbox."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from acd.server.agent_session import _END, SessionOutput
from acd.server.fanout import AgentOutbox
from acd.server.tenant import Tenant
from acd.v1 import agent_pb2, common_pb2


class FakeTenant:
    """What SessionOutput asks of a tenant."""

    def __init__(self, ring: int = 8) -> None:
        self.outboxes = {"anna": AgentOutbox(ring=ring)}
        self.open_offers: dict[str, Any] = {}
        self.closed_streams: list[str] = []
        self.views = 0

    def agent_status(self, agent_id: str) -> common_pb2.AgentStatus:
        return common_pb2.AgentStatus(agent_id=agent_id, state=common_pb2.AGENT_STATE_READY)

    async def committed_view(self) -> None:
        self.views += 1

    def stream_closed(self, agent_id: str) -> None:
        self.closed_streams.append(agent_id)


def revoked(call_id: str) -> agent_pb2.StreamOffersResponse:
    message = agent_pb2.StreamOffersResponse()
    message.revoked.call_id = call_id
    return message


def result(correlation_id: str) -> agent_pb2.SessionResponse:
    return agent_pb2.SessionResponse(result=agent_pb2.SessionResult(correlation_id=correlation_id))


def what(message: agent_pb2.SessionResponse | None) -> str:
    if message is None:
        return "end"
    if message.HasField("result"):
        return f"result {message.result.correlation_id}"
    event = message.event
    kind = event.WhichOneof("event")
    return f"{event.sequence} {event.revoked.call_id if kind == 'revoked' else kind}"


async def opened(ring: int = 8) -> tuple[FakeTenant, AgentOutbox, SessionOutput]:
    """A new session of agent anna on an empty outbox, its snapshot (number 1) taken."""
    tenant = FakeTenant(ring)
    output = SessionOutput(cast(Tenant, tenant), "anna", 0)
    assert what(await output.get()) == "1 snapshot"
    return tenant, tenant.outboxes["anna"], output


def run(scenario: Any) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_new_session_gets_a_snapshot_then_every_push_in_order() -> None:
    async def scenario() -> None:
        tenant = FakeTenant()
        outbox = tenant.outboxes["anna"]
        outbox.push(revoked("before"))  # 1: shown in the snapshot's state, not on its own
        output = SessionOutput(cast(Tenant, tenant), "anna", 0)
        assert outbox.streams == 1
        assert what(await output.get()) == "2 snapshot"
        assert tenant.views == 1  # shown once what it holds is committed
        waiting = asyncio.ensure_future(output.get())
        await asyncio.sleep(0)
        assert not waiting.done()
        outbox.push(revoked("a"))  # 3
        outbox.push(revoked("b"))  # 4
        assert what(await waiting) == "3 a"
        assert what(output.ready()) == "4 b"
        assert output.ready() is None
        output.close()
        assert (outbox.streams, tenant.closed_streams) == (0, ["anna"])

    run(scenario)


def test_a_resumed_session_gets_what_it_missed_and_no_snapshot() -> None:
    async def scenario() -> None:
        tenant = FakeTenant()
        outbox = tenant.outboxes["anna"]
        for call in ("a", "b", "c"):
            outbox.push(revoked(call))
        output = SessionOutput(cast(Tenant, tenant), "anna", 1)
        assert [what(await output.get()) for _ in range(2)] == ["2 b", "3 c"]
        assert tenant.views == 0
        output.close()

    run(scenario)


def test_results_go_before_the_events_waiting_with_them() -> None:
    async def scenario() -> None:
        _, outbox, output = await opened()
        outbox.push(revoked("a"))  # 2
        await output.put_result(result("c1"))
        assert [what(output.ready()) for _ in range(3)] == ["result c1", "2 a", "end"]
        await output.put_result(_END)  # the desktop is done
        assert what(await output.get()) == "end"
        output.close()

    run(scenario)


def test_a_desktop_that_fell_out_of_the_ring_starts_again_from_a_snapshot() -> None:
    async def scenario() -> None:
        _, outbox, output = await opened(ring=4)
        for i in range(10):  # 2..11, the ring holds 8..11: 2..7 are lost to this desktop
            outbox.push(revoked(f"m{i}"))
        assert output.ready() is None  # not a partial run of events
        assert what(await output.get()) == "12 snapshot"
        outbox.push(revoked("after"))  # 13
        assert what(await output.get()) == "13 after"
        output.close()

    run(scenario)


def test_a_snapshot_of_another_stream_leaves_a_gap_the_session_waits_past() -> None:
    async def scenario() -> None:
        _, outbox, output = await opened()
        outbox.push(revoked("a"))  # 2
        outbox.next_sequence()  # 3: another stream's snapshot, no message
        assert what(await output.get()) == "2 a"
        waiting = asyncio.ensure_future(output.get())
        for _ in range(5):
            await asyncio.sleep(0)  # it waits: a spin would never let this go on
        assert not waiting.done()
        outbox.push(revoked("b"))  # 4
        assert what(await waiting) == "4 b"
        output.close()

    run(scenario)


def test_the_output_ends_when_the_service_closes_the_outbox() -> None:
    async def scenario() -> None:
        _, outbox, output = await opened()
        waiting = asyncio.ensure_future(output.get())
        await asyncio.sleep(0)
        outbox.close()
        assert what(await waiting) == "end"
        output.close()
        assert outbox.listeners == set()

    run(scenario)
