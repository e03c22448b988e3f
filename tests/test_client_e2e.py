"""acd.client against the real service: ``acd serve`` in a subprocess on a loopback port.

One server for the module (a config written here: one tenant, hashed tokens, its journal in a
temporary directory); each test uses its own calls and agents so the order does not matter.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from acd.client import AcdClient, ServiceError, connect, make_call
from acd.server.auth import hash_token
from acd.v1 import agent_pb2, common_pb2

TOKENS = {
    "e2e-adapter": ("adapter", None),
    "e2e-supervisor": ("supervisor", None),
    "e2e-crm": ("crm", None),
    "e2e-anna": ("agent", "anna"),
    "e2e-ben": ("agent", "ben"),
    "e2e-carla": ("agent", "carla"),
}

CONFIG = """
mode = "production"
[server]
listen = ["127.0.0.1:{port}"]
log_level = "warning"
[server.rate_limit]
requests_per_second = 0
[storage]
data_dir = "{data_dir}"
[tenants.store]
skills = ["sales", "returns"]
[[tenants.store.queues]]
id = "sales"
skills = {{ sales = 1 }}
wrapup = "until-done"
offer_timeout_s = 120
[[tenants.store.queues]]
id = "returns"
skills = {{ returns = 1 }}
[[tenants.store.agents]]
id = "anna"
skills = {{ sales = 5 }}
endpoint = "sip:anna@pbx.example"
[[tenants.store.agents]]
id = "ben"
skills = {{ sales = 5 }}
[[tenants.store.agents]]
id = "carla"
skills = {{ sales = 5 }}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _wait_serving(process: subprocess.Popen[bytes], target: str) -> None:
    """Until grpc.health.v1 Check answers SERVING (``08 01``), bounded."""
    deadline = time.monotonic() + 60
    async with grpc.aio.insecure_channel(target) as channel:
        check: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            "/grpc.health.v1.Health/Check"
        )
        while time.monotonic() < deadline:
            assert process.poll() is None, "acd serve exited"
            try:
                if await check(b"", timeout=1) == b"\x08\x01":
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("acd serve did not become SERVING within 60 s")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("acd-e2e")
    port = _free_port()
    text = CONFIG.format(port=port, data_dir=directory / "data")
    for token, (role, agent) in TOKENS.items():
        text += f'[[tokens]]\nhash = "{hash_token(token)}"\ntenant = "store"\n'
        text += f'name = "{token}"\nrole = "{role}"\n'
        text += f'agent = "{agent}"\n' if agent else ""
    config = directory / "acd.toml"
    config.write_text(text)
    log = (directory / "serve.log").open("wb")
    argv = [sys.executable, "-m", "acd.cli", "serve", "--config", str(config)]
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        asyncio.run(_wait_serving(process, f"127.0.0.1:{port}"))
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)
        log.close()
    assert process.returncode == 0, Path(log.name).read_text()[-2000:]


def run(target: str, scenario: Callable[[AcdClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with connect(target, "e2e-adapter") as adapter:
            await asyncio.wait_for(scenario(adapter), 30)

    asyncio.run(main())


async def next_event(
    messages: AsyncIterator[agent_pb2.StreamOffersResponse], kind: str
) -> agent_pb2.StreamOffersResponse:
    """The next message of ``kind`` on an agent's stream (others are skipped)."""
    async for message in messages:
        if message.WhichOneof("event") == kind:
            return message
    raise AssertionError(f"stream ended before a {kind}")


def test_a_call_goes_through_its_whole_lifecycle(target: str) -> None:
    async def scenario(adapter: AcdClient) -> None:
        anna = adapter.with_token("e2e-anna")
        status = await anna.login("anna")
        assert (status.state, status.reason) == (common_pb2.AGENT_STATE_NOT_READY, "login")
        async with anna.stream_offers("anna") as stream:
            messages = aiter(stream)
            snapshot = await next_event(messages, "snapshot")
            assert snapshot.snapshot.agent.agent_id == "anna"
            ready = await anna.set_ready("anna")
            assert ready.state == common_pb2.AGENT_STATE_READY
            enqueued = await adapter.enqueue_call(
                "life-1", "sales", caller="+4930111", dialled="800-1", attributes={"o": "A-1"}
            )
            assert not enqueued.duplicate
            offer = (await next_event(messages, "offer")).offer
            assert (offer.offer.call_id, offer.offer.agent_id) == ("life-1", "anna")
            assert offer.offer.endpoint == "sip:anna@pbx.example"
            assert offer.screen_pop.caller_number == "+4930111"
            connected = await anna.accept_offer("anna", "life-1")
            assert (connected.call_id, connected.agent_id) == ("life-1", "anna")
            assert await adapter.end_call("life-1") == common_pb2.CALL_OUTCOME_COMPLETED
            after = await anna.finish_wrap_up("anna", "life-1", disposition="sale")
            assert after.state == common_pb2.AGENT_STATE_READY
            again = await adapter.enqueue_call("life-1", "sales")
            assert again.duplicate  # within the dedup window: nothing changed
        assert (await anna.logout("anna")).state == common_pb2.AGENT_STATE_LOGGED_OUT

    run(target, scenario)


def test_adapter_stream_acks_commands_and_reports_decisions(target: str) -> None:
    async def scenario(adapter: AcdClient) -> None:
        ben = adapter.with_token("e2e-ben")
        await ben.login("ben")
        async with ben.stream_offers("ben") as stream, adapter.adapter_stream() as commands:
            messages = aiter(stream)
            await next_event(messages, "snapshot")
            await ben.set_ready("ben")
            ack = await commands.enqueue_call("stream-1", "sales", channel="voice")
            assert not ack.duplicate
            offer = await next_event(messages, "offer")
            await ben.accept_offer("ben", offer.offer.offer.call_id)
            await commands.end_call("stream-1")
            seen: dict[str, Any] = {}
            async for decision in commands.decisions():
                kind = decision.WhichOneof("message") or ""
                seen[kind] = getattr(decision, kind)
                if kind == "finished":
                    break
            assert seen["offer"].agent_id == "ben"
            assert seen["connected"].call_id == "stream-1"
            assert seen["finished"].outcome == common_pb2.CALL_OUTCOME_COMPLETED
            with pytest.raises(ServiceError) as refused:
                await commands.enqueue_call("stream-2", "no-such-queue")
            assert refused.value.code is grpc.StatusCode.NOT_FOUND
            await ben.finish_wrap_up("ben", "stream-1")
        await ben.logout("ben")

    run(target, scenario)


def test_an_agent_session_carries_commands_and_events_on_one_stream(target: str) -> None:
    async def scenario(adapter: AcdClient) -> None:
        ben = adapter.with_token("e2e-ben")
        async with ben.agent_session("ben") as desktop:
            events = aiter(desktop.events())
            assert (await next_event(events, "snapshot")).snapshot.agent.agent_id == "ben"
            assert (await desktop.login()).state == common_pb2.AGENT_STATE_NOT_READY
            assert (await desktop.set_ready()).state == common_pb2.AGENT_STATE_READY
            await adapter.enqueue_call("session-1", "sales", caller="+4930222")
            offer = (await next_event(events, "offer")).offer
            assert offer.screen_pop.caller_number == "+4930222"
            connected = await desktop.accept_offer("session-1")
            assert (connected.call_id, connected.agent_id) == ("session-1", "ben")
            with pytest.raises(ServiceError) as refused:
                await desktop.accept_offer("session-1")  # already connected
            assert refused.value.code is grpc.StatusCode.FAILED_PRECONDITION
            await adapter.end_call("session-1")
            after = await desktop.finish_wrap_up("session-1", disposition="sale")
            assert after.state == common_pb2.AGENT_STATE_READY
            assert (await desktop.logout()).state == common_pb2.AGENT_STATE_LOGGED_OUT
            last = desktop.last_sequence
            # open and six commands; each result, the snapshot and the offer came in a message
            # of their own (each was awaited before the next command went out)
            assert desktop.messages_sent == 7
            assert desktop.messages_received >= 8
        # A second session resumes after the last event the first one saw: nothing missed.
        async with ben.agent_session("ben", last_sequence=last) as again:
            await again.login()
            resumed = await next_event(aiter(again.events()), "state_changed")
            assert resumed.sequence == last + 1
            await again.logout()

    run(target, scenario)


def test_refusals_surface_as_service_errors_with_their_status(target: str) -> None:
    async def scenario(adapter: AcdClient) -> None:
        anna = adapter.with_token("e2e-anna")
        cases: list[tuple[Callable[[], Awaitable[object]], grpc.StatusCode]] = [
            (lambda: adapter.enqueue_call("bad-1", "no-such-queue"), grpc.StatusCode.NOT_FOUND),
            (lambda: anna.login("ben"), grpc.StatusCode.PERMISSION_DENIED),
            (lambda: adapter.login("anna"), grpc.StatusCode.PERMISSION_DENIED),
            (
                lambda: adapter.with_token("nobody").list_agents(),
                grpc.StatusCode.UNAUTHENTICATED,
            ),
            (lambda: adapter.end_call("never-enqueued"), grpc.StatusCode.NOT_FOUND),
        ]
        for call, code in cases:
            with pytest.raises(ServiceError) as err:
                await call()
            assert err.value.code is code, err.value
        with pytest.raises(ServiceError) as invalid:
            await adapter.enqueue_call("", "sales")
        assert invalid.value.code is grpc.StatusCode.INVALID_ARGUMENT
        assert "call_id" in invalid.value.details

    run(target, scenario)


def test_batches_supervisor_lists_and_screen_pops(target: str) -> None:
    async def scenario(adapter: AcdClient) -> None:
        batch = await adapter.enqueue_calls(
            [
                make_call("wait-1", "returns", caller="+4930999"),
                make_call("wait-2", "no-such-queue"),
                make_call("wait-3", "returns"),
            ]
        )
        assert [r.HasField("error") for r in batch.results] == [False, True, False]
        assert batch.results[1].error.code == common_pb2.ERROR_CODE_NOT_FOUND
        supervisor = adapter.with_token("e2e-supervisor")
        waiting = await supervisor.list_waiting_calls(["returns"])
        assert [c.call_id for c in waiting][:2] == ["wait-1", "wait-3"]
        assert waiting[0].caller_number == "+4930999"
        agents = await supervisor.list_agents()
        assert [a.agent_id for a in agents] == ["anna", "ben", "carla"]
        pop = await adapter.with_token("e2e-crm").get_screen_pop(call_id="wait-1")
        assert pop.caller_number == "+4930999"
        assert await adapter.cancel_call("wait-1") == common_pb2.CALL_OUTCOME_ABANDONED

    run(target, scenario)


def test_an_offer_stream_resumes_after_its_last_sequence(target: str) -> None:
    async def scenario(adapter: AcdClient) -> None:
        carla = adapter.with_token("e2e-carla")
        await carla.login("carla")
        first = carla.stream_offers("carla")
        async with first:
            await next_event(aiter(first), "snapshot")
        await carla.set_not_ready("carla", "break")  # while no stream is open
        resumed = carla.stream_offers("carla", last_sequence=first.last_sequence)
        async with resumed:
            message = await anext(aiter(resumed))
        assert message.sequence > first.last_sequence
        assert message.WhichOneof("event") == "state_changed"
        assert message.state_changed.agent.reason == "break"
        await carla.logout("carla")

    run(target, scenario)
