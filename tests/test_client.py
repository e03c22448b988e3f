"""acd.client against a tiny fake service on loopback: metadata, errors, streams.

The fake implements RoutingService and AgentService just far enough to answer what each test
asks (grpc.aio servicers on 127.0.0.1, a free port); the real service is exercised by
tests/test_client_e2e.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import grpc
import pytest

from acd.client import AcdClient, ServiceError, connect, make_call
from acd.client.calls import transfer_request
from acd.v1 import agent_pb2, agent_pb2_grpc, common_pb2, routing_pb2, routing_pb2_grpc

TOKEN = "good-token"
Context = grpc.aio.ServicerContext[object, object]


def _authorization(context: Context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode()
    return ""


async def _check_token(context: Context, seen: list[str]) -> None:
    authorization = _authorization(context)
    seen.append(authorization)
    if authorization != f"Bearer {TOKEN}":
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown token")


class FakeRouting(routing_pb2_grpc.RoutingServiceServicer):
    def __init__(self) -> None:
        self.authorizations: list[str] = []
        self.calls: list[common_pb2.Call] = []
        self.fail_stream_after: int | None = None

    async def EnqueueCall(
        self, request: routing_pb2.EnqueueCallRequest, context: Context
    ) -> routing_pb2.EnqueueCallResponse:
        await _check_token(context, self.authorizations)
        call = request.call
        if call.queue_id == "nope":
            await context.abort(grpc.StatusCode.NOT_FOUND, "call.queue_id 'nope': unknown queue")
        if not -1_000_000 <= call.priority <= 1_000_000:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "call.priority: out of range")
        duplicate = any(c.call_id == call.call_id for c in self.calls)
        self.calls.append(call)
        return routing_pb2.EnqueueCallResponse(duplicate=duplicate, enqueued_at_ms=1_000)

    async def EnqueueCalls(
        self, request: routing_pb2.EnqueueCallsRequest, context: Context
    ) -> routing_pb2.EnqueueCallsResponse:
        await _check_token(context, self.authorizations)
        results = []
        for call in request.calls:
            result = routing_pb2.EnqueueResult(call_id=call.call_id)
            if call.queue_id == "nope":
                result.error.CopyFrom(_unknown_queue())
            results.append(result)
        return routing_pb2.EnqueueCallsResponse(results=results, enqueued_at_ms=2_000)

    async def AdapterStream(
        self,
        request_iterator: AsyncIterator[routing_pb2.AdapterStreamRequest],
        context: Context,
    ) -> AsyncIterator[routing_pb2.AdapterStreamResponse]:
        await _check_token(context, self.authorizations)
        sequence = 0

        def reply(**message: object) -> routing_pb2.AdapterStreamResponse:
            nonlocal sequence
            sequence += 1
            return routing_pb2.AdapterStreamResponse(sequence=sequence, **message)  # type: ignore[arg-type]

        commands = 0
        async for request in request_iterator:
            commands += 1
            if self.fail_stream_after is not None and commands > self.fail_stream_after:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "router failing over")
            correlation = request.correlation_id
            kind = request.WhichOneof("command")
            if kind == "enqueue_call" and request.enqueue_call.call.queue_id == "nope":
                yield reply(
                    rejected=routing_pb2.CommandRejected(
                        correlation_id=correlation, error=_unknown_queue()
                    )
                )
                continue
            yield reply(ack=routing_pb2.CommandAck(correlation_id=correlation))
            if kind == "enqueue_call":
                call_id = request.enqueue_call.call.call_id
                yield reply(offer=common_pb2.Offer(call_id=call_id, agent_id="anna"))


def _unknown_queue() -> common_pb2.CommandError:
    return common_pb2.CommandError(
        code=common_pb2.ERROR_CODE_NOT_FOUND,
        message="queue_id 'nope': unknown queue",
        field="call.queue_id",
    )


class FakeAgents(agent_pb2_grpc.AgentServiceServicer):
    """StreamOffers holds an outbox of five messages. The first stream sends 1..3 and then
    fails UNAVAILABLE; a resumed stream repeats the last one it was told of, then the rest."""

    def __init__(self) -> None:
        self.authorizations: list[str] = []
        self.opened_with: list[int] = []

    async def Login(
        self, request: agent_pb2.LoginRequest, context: Context
    ) -> agent_pb2.LoginResponse:
        await _check_token(context, self.authorizations)
        if request.agent_id != "anna":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "agent_id: not your agent")
        status = common_pb2.AgentStatus(
            agent_id="anna", state=common_pb2.AGENT_STATE_NOT_READY, reason="login"
        )
        return agent_pb2.LoginResponse(agent=status)

    async def StreamOffers(
        self, request: agent_pb2.StreamOffersRequest, context: Context
    ) -> AsyncIterator[agent_pb2.StreamOffersResponse]:
        await _check_token(context, self.authorizations)
        self.opened_with.append(request.last_sequence)
        first = max(request.last_sequence, 1)
        last = 3 if request.last_sequence == 0 else 5
        for sequence in range(first, last + 1):
            offer = common_pb2.Offer(call_id=f"c{sequence}", agent_id=request.agent_id)
            yield agent_pb2.StreamOffersResponse(
                sequence=sequence, offer=agent_pb2.AgentOffer(offer=offer)
            )
        if request.last_sequence == 0:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "server restarting")


@asynccontextmanager
async def fake_service() -> AsyncIterator[tuple[str, FakeRouting, FakeAgents]]:
    # The fakes implement only what these tests call; the generated base classes answer the
    # rest with UNIMPLEMENTED (their stubs declare them abstract, hence the ignores).
    routing, agents = FakeRouting(), FakeAgents()  # type: ignore[abstract]
    server = grpc.aio.server()
    routing_pb2_grpc.add_RoutingServiceServicer_to_server(routing, server)
    agent_pb2_grpc.add_AgentServiceServicer_to_server(agents, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", routing, agents
    finally:
        await server.stop(None)


def run_with_service(
    scenario: Callable[[AcdClient, FakeRouting, FakeAgents], Awaitable[None]],
    token: str = TOKEN,
) -> None:
    async def main() -> None:
        async with (
            fake_service() as (target, routing, agents),
            connect(target, token, timeout_s=5) as client,
        ):
            await asyncio.wait_for(scenario(client, routing, agents), 20)

    asyncio.run(main())


def test_token_rides_on_unary_and_stream_calls_as_bearer_metadata() -> None:
    async def scenario(client: AcdClient, routing: FakeRouting, agents: FakeAgents) -> None:
        await client.enqueue_call("c1", "sales")
        await client.login("anna")
        async with client.stream_offers("anna") as offers:
            async for _ in offers:
                break
        async with client.adapter_stream() as stream:
            await stream.end_call("c1")
        assert routing.authorizations == [f"Bearer {TOKEN}"] * 2
        assert agents.authorizations == [f"Bearer {TOKEN}"] * 2

    run_with_service(scenario)


def test_enqueue_call_keyword_arguments_fill_the_call_message() -> None:
    async def scenario(client: AcdClient, routing: FakeRouting, agents: FakeAgents) -> None:
        first = await client.enqueue_call(
            "c1",
            "sales",
            channel="chat",
            priority=5,
            skills={"german": 6},
            caller="+4930123",
            dialled="800-1",
            preferred_agent="anna",
            preferred_wait_ms=20_000,
            attributes={"order": "A-17"},
        )
        again = await client.enqueue_call("c1", "sales")
        assert (first.duplicate, again.duplicate, first.enqueued_at_ms) == (False, True, 1_000)
        call = routing.calls[0]
        assert call.channel == common_pb2.CHANNEL_CHAT
        assert (call.priority, dict(call.skills), dict(call.attributes)) == (
            5,
            {"german": 6},
            {"order": "A-17"},
        )
        assert (call.caller_number, call.dialled_number) == ("+4930123", "800-1")
        assert (call.preferred_agent_id, call.preferred_wait_ms) == ("anna", 20_000)
        assert routing.calls[1].channel == common_pb2.CHANNEL_VOICE

    run_with_service(scenario)


def test_status_codes_become_one_error_type_with_code_and_details() -> None:
    async def scenario(client: AcdClient, routing: FakeRouting, agents: FakeAgents) -> None:
        with pytest.raises(ServiceError) as not_found:
            await client.enqueue_call("c1", "nope")
        assert not_found.value.code is grpc.StatusCode.NOT_FOUND
        assert not_found.value.details == "call.queue_id 'nope': unknown queue"
        with pytest.raises(ServiceError) as invalid:
            await client.enqueue_call("c2", "sales", priority=2_000_000)
        assert invalid.value.code is grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(ServiceError) as denied:
            await client.login("ben")
        assert denied.value.code is grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(ServiceError) as unimplemented:
            await client.list_agents()  # the fake has no SupervisionService
        assert unimplemented.value.code is grpc.StatusCode.UNIMPLEMENTED

    run_with_service(scenario)


def test_a_wrong_token_is_unauthenticated_and_with_token_switches_identity() -> None:
    async def scenario(client: AcdClient, routing: FakeRouting, agents: FakeAgents) -> None:
        with pytest.raises(ServiceError) as err:
            await client.enqueue_call("c1", "sales")
        assert err.value.code is grpc.StatusCode.UNAUTHENTICATED
        good = client.with_token(TOKEN)
        assert good.channel is client.channel
        await good.enqueue_call("c1", "sales")
        await good.close()  # does not close the shared channel
        await client.with_token(TOKEN).enqueue_call("c2", "sales")
        assert routing.authorizations[-2:] == [f"Bearer {TOKEN}"] * 2

    run_with_service(scenario, token="wrong-token")


def test_batch_results_carry_per_call_errors() -> None:
    async def scenario(client: AcdClient, routing: FakeRouting, agents: FakeAgents) -> None:
        response = await client.enqueue_calls(
            [make_call("c1", "sales"), make_call("c2", "nope"), make_call("c3", "sales")]
        )
        assert [r.call_id for r in response.results] == ["c1", "c2", "c3"]
        assert [r.HasField("error") for r in response.results] == [False, True, False]
        err = ServiceError.from_command_error(response.results[1].error)
        assert (err.code, err.field) == (grpc.StatusCode.NOT_FOUND, "call.queue_id")

    run_with_service(scenario)


def test_adapter_stream_matches_acks_to_commands_and_hands_out_decisions() -> None:
    async def scenario(client: AcdClient, routing: FakeRouting, agents: FakeAgents) -> None:
        async with client.adapter_stream() as stream:
            acks = await asyncio.gather(
                *(stream.enqueue_call(f"c{i}", "sales", caller="+49") for i in range(20))
            )
            assert sorted(int(a.correlation_id) for a in acks) == list(range(1, 21))
            with pytest.raises(ServiceError) as rejected:
                await stream.enqueue_call("bad", "nope")
            assert rejected.value.code is grpc.StatusCode.NOT_FOUND
            assert rejected.value.field == "call.queue_id"
            await stream.end_call("c0")  # the stream goes on after a rejection
            offered = []
            async for decision in stream.decisions():
                assert decision.WhichOneof("message") == "offer"
                offered.append(decision.offer.call_id)
                if len(offered) == 20:
                    break
            assert sorted(offered) == sorted(f"c{i}" for i in range(20))
            # acks, rejection and offers are numbered without gaps
            assert stream.last_sequence == 20 + 1 + 1 + 20
            # this fake never packs: one gRPC message per command and per answer or decision
            assert (stream.messages_sent, stream.messages_received) == (22, 42)

    run_with_service(scenario)


def test_adapter_stream_failing_fails_pending_commands_and_decisions() -> None:
    async def scenario(client: AcdClient, routing: FakeRouting, agents: FakeAgents) -> None:
        routing.fail_stream_after = 1
        async with client.adapter_stream() as stream:
            await stream.enqueue_call("c1", "sales")
            with pytest.raises(ServiceError) as failed:
                await stream.enqueue_call("c2", "sales")
            assert failed.value.code is grpc.StatusCode.UNAVAILABLE
            received = []
            with pytest.raises(ServiceError) as ended:
                async for decision in stream.decisions():
                    received.append(decision.offer.call_id)
            assert received == ["c1"]  # decisions before the failure still come out
            assert ended.value.code is grpc.StatusCode.UNAVAILABLE
            with pytest.raises(ServiceError):
                await stream.end_call("c1")

    run_with_service(scenario)


def test_offer_stream_resumes_after_unavailable_without_repeats() -> None:
    async def scenario(client: AcdClient, routing: FakeRouting, agents: FakeAgents) -> None:
        offers = client.stream_offers("anna", reconnect=True)
        sequences = [message.sequence async for message in offers]
        assert sequences == [1, 2, 3, 4, 5]
        assert [m for m in agents.opened_with] == [0, 3]
        assert (offers.last_sequence, offers.reconnects) == (5, 1)

    run_with_service(scenario)


def test_offer_stream_without_reconnect_raises_and_can_be_resumed_by_hand() -> None:
    async def scenario(client: AcdClient, routing: FakeRouting, agents: FakeAgents) -> None:
        offers = client.stream_offers("anna")
        seen = []
        with pytest.raises(ServiceError) as err:
            async for message in offers:
                seen.append(message.offer.offer.call_id)
        assert err.value.code is grpc.StatusCode.UNAVAILABLE
        assert seen == ["c1", "c2", "c3"]
        resumed = client.stream_offers("anna", last_sequence=offers.last_sequence)
        assert [m.sequence async for m in resumed] == [4, 5]

    run_with_service(scenario)


def test_cancelling_a_stream_ends_the_iteration_quietly() -> None:
    async def scenario(client: AcdClient, routing: FakeRouting, agents: FakeAgents) -> None:
        offers = client.stream_offers("anna")
        seen = []
        async for message in offers:
            seen.append(message.sequence)
            offers.cancel()
        assert seen == [1]

    run_with_service(scenario)


def test_an_unreachable_server_is_unavailable() -> None:
    async def main() -> None:
        async with fake_service() as (target, _, _):
            pass  # stopped: nothing listens on the port any more
        async with connect(target, TOKEN, timeout_s=2) as client:
            with pytest.raises(ServiceError) as err:
                await client.enqueue_call("c1", "sales")
        assert err.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

    asyncio.run(main())


def test_error_codes_in_messages_map_to_the_same_status_codes() -> None:
    for code in grpc.StatusCode:
        if code is grpc.StatusCode.OK:
            continue
        number = code.value[0]
        error = common_pb2.CommandError(code=number, message="m", field="f")
        assert ServiceError.from_command_error(error).code is code
        assert common_pb2.ErrorCode.Name(number).removeprefix("ERROR_CODE_") == code.name


def test_call_and_transfer_builders_refuse_what_the_service_would() -> None:
    assert make_call("c", "q", channel=common_pb2.CHANNEL_EMAIL).channel == 3
    with pytest.raises(ValueError, match="channel 'fax'"):
        make_call("c", "q", channel="fax")  # type: ignore[arg-type]
    assert transfer_request("c", None, "ben", None).WhichOneof("target") == "agent_id"
    with pytest.raises(ValueError, match="exactly one"):
        transfer_request("c", "sales", "ben", None)
    with pytest.raises(ValueError, match="token"):
        connect("127.0.0.1:1", "")
