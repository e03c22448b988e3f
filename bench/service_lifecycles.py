"""The lifecycle engine of bench/service_vs_echo.py: agents each on their own Session taking
every offer, the adapter on its AdapterStream ending each call, and the two phases built on it:
closed-loop lifecycles per second, and open-loop offer latency at a given rate."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from acd.client import AcdClient, AdapterStream, AgentSession, ServiceError
from service_measure import Meter, Plan, Row, percentile
from service_servers import ROUTED_QUEUE, Process, agent_id, agent_token


@dataclass(slots=True)
class Lifecycles:
    """Agents on their own offer streams: accept every offer, have the adapter end the call,
    finish wrap-up. Records when each call's enqueue was acknowledged and its offer arrived."""

    service: AcdClient
    adapter: AdapterStream
    sent_at: dict[str, float] = field(default_factory=dict)
    acked_at: dict[str, float] = field(default_factory=dict)
    offered_at: dict[str, float] = field(default_factory=dict)
    completed: int = 0
    errors: int = 0
    desktops: list[AgentSession] = field(default_factory=list)
    on_complete: Callable[[], None] | None = None
    streaming: int = 0  # agents whose stream is open (and who are ready, if answering)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def enqueue(self, call_id: str) -> None:
        self.sent_at[call_id] = time.perf_counter()
        try:
            await self.adapter.enqueue_call(call_id, ROUTED_QUEUE, caller="+4930000")
        except ServiceError:
            self.errors += 1
            return
        self.acked_at[call_id] = time.perf_counter()

    async def start_agents(
        self, first: int, count: int, *, answer: bool, parallel: int = 100
    ) -> None:
        """Opens each agent's stream; with ``answer``, logs it in first and sets it ready once
        the stream is open, so that it takes calls. Returns once every stream is open."""
        gate = asyncio.Semaphore(parallel)
        target = self.streaming + count
        for i in range(first, first + count):
            self.tasks.append(asyncio.create_task(self._agent(i, gate, answer)))
        deadline = time.monotonic() + 120
        while self.streaming < target:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.streaming} of {target} agent streams opened")
            if any(t.done() and t.exception() for t in self.tasks):
                await next(t for t in self.tasks if t.done() and t.exception())
            await asyncio.sleep(0.05)

    async def stop_agents(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()

    async def _agent(self, i: int, gate: asyncio.Semaphore, answer: bool) -> None:
        # The gate is held until the stream's first message: a server has a bounded queue of
        # calls not yet taken up by a handler (grpc's max pending requests) and cancels the
        # calls beyond it, so thousands of streams are opened a bounded number at a time.
        me = agent_id(i)
        client = self.service.with_token(agent_token(i))
        await gate.acquire()
        held = True
        try:
            if answer:  # a desktop: commands and events on one Session
                async with client.agent_session(me) as desktop:
                    self.desktops.append(desktop)
                    await desktop.login()
                    async for event in desktop.events():
                        kind = event.WhichOneof("event")
                        if kind == "snapshot" and held:
                            await desktop.set_ready()
                            self.streaming += 1
                            gate.release()
                            held = False
                        elif kind == "offer":
                            await self._handle(desktop, event.offer.offer.call_id)
                return
            async with client.stream_offers(me) as messages:  # only holds its offer stream
                async for message in messages:
                    if message.WhichOneof("event") == "snapshot":
                        self.streaming += 1
                        gate.release()
                        held = False
        finally:
            if held:
                gate.release()

    async def _handle(self, desktop: AgentSession, call_id: str) -> None:
        self.offered_at.setdefault(call_id, time.perf_counter())
        try:
            await desktop.accept_offer(call_id)
            await self.adapter.end_call(call_id)
            await desktop.finish_wrap_up(call_id, disposition="bench")
        except ServiceError:
            self.errors += 1
            return
        self.completed += 1
        if self.on_complete is not None:
            self.on_complete()

    def messages(self) -> int:
        """gRPC messages so far, both ways, on the adapter's stream and the desktops'."""
        streams: list[AdapterStream | AgentSession] = [self.adapter, *self.desktops]
        return sum(s.messages_sent + s.messages_received for s in streams)

    def latencies_ms(self, call_ids: list[str]) -> tuple[list[float], list[float], int]:
        """Per offered call: ack -> offer (0 where the offer overtook the ack, counted in
        the third value) and send -> offer, in ms."""
        from_ack, from_send, early = [], [], 0
        for c in call_ids:
            if c in self.offered_at and c in self.acked_at:
                delta = self.offered_at[c] - self.acked_at[c]
                early += delta < 0
                from_ack.append(max(0.0, delta) * 1000)
                from_send.append((self.offered_at[c] - self.sent_at[c]) * 1000)
        return from_ack, from_send, early


async def wait_until(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def lifecycle_phase(engine: Lifecycles, plan: Plan, server: Process) -> Row:
    """Closed loop: a fixed number of calls in flight, a new one for each one completed."""
    ids = iter(range(10**9))
    running = True
    pending: set[asyncio.Task[None]] = set()

    def enqueue_next() -> None:
        if running:
            task = asyncio.create_task(engine.enqueue(f"life-{next(ids)}"))
            pending.add(task)
            task.add_done_callback(pending.discard)

    engine.on_complete = enqueue_next
    for _ in range(plan.lifecycle_agents * plan.backlog_per_agent):
        enqueue_next()
    await asyncio.sleep(min(1.0, plan.seconds / 3))  # warm up: every agent busy
    start, messages = engine.completed, engine.messages()
    with Meter(server) as meter:
        await asyncio.sleep(plan.seconds)
        done = engine.completed - start
        messages = engine.messages() - messages
    running = False
    enqueued = next(ids)
    drained = await wait_until(lambda: engine.completed >= enqueued, 30)
    engine.on_complete = None
    note = (
        f"{plan.lifecycle_agents} agents, {plan.backlog_per_agent} calls each in flight;"
        f" {messages / max(done, 1):.1f} gRPC messages a lifecycle"
    )
    row = Row(
        "lifecycles (enqueue..wrap-up)", done, meter, note + ("" if drained else "; NOT drained")
    )
    row.messages = messages
    return row


async def latency_phase(
    engine: Lifecycles, rate: float, seconds: float, tag: str, server: Process
) -> tuple[Row, dict[str, float]]:
    """Open loop at ``rate`` calls/s: the row, and p99 send -> offer and ack -> offer (ms)."""
    count = max(1, int(rate * seconds))
    call_ids = [f"{tag}-{k}" for k in range(count)]
    tasks = []
    with Meter(server) as meter:
        t0 = time.perf_counter()
        for k, call_id in enumerate(call_ids):
            delay = t0 + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(engine.enqueue(call_id)))
        await asyncio.gather(*tasks)
        await wait_until(lambda: all(c in engine.offered_at for c in call_ids), 30)
    from_ack, from_send, early = engine.latencies_ms(call_ids)
    nan = float("nan")
    stats = {
        "from_send_p50": percentile(from_send, 50) if from_send else nan,
        "from_send_p99": percentile(from_send, 99) if from_send else nan,
        "from_ack_p99": percentile(from_ack, 99) if from_ack else nan,
        "before_ack": early / len(from_ack) if from_ack else nan,
    }
    note = (
        f"at {rate:,.0f}/s: send->offer p50 {stats['from_send_p50']:.2f} ms,"
        f" p99 {stats['from_send_p99']:.2f} ms; ack->offer p99 {stats['from_ack_p99']:.2f} ms"
        f" ({early} of {len(from_ack)} offers came before their ack: 0)"
    )
    if len(from_ack) < count:
        note += f"; {count - len(from_ack)} never offered"
    return Row(f"offer latency ({tag})", len(from_ack), meter, note), stats


async def answering(adapter: AcdClient, stream: AdapterStream, agents: int) -> Lifecycles:
    """An engine whose first ``agents`` agents are logged in, ready and on their streams (the
    adapter on ``stream``), with this process's collector settled (``settle_collector``)."""
    engine = Lifecycles(adapter, stream)
    await engine.start_agents(0, agents, answer=True)
    settle_collector()
    return engine


def settle_collector() -> None:
    """This load generator's own garbage-collector pauses must not count as the service's
    latency: with 5,000 agent streams open here too, a full collection stopped this process
    for 100-385 ms at a time, in the middle of the latency phases. What exists now (the streams
    and their tasks) lives to the end of the run: freeze it, out of every later collection."""
    gc.collect()
    gc.freeze()
