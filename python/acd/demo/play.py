"""The demo on asyncio: callers and agents through ``acd.client``, and the live report.

Time: the demo's clock is the time of day, ``speed`` times faster than the wall clock. Callers
arrive, wait at most their patience and talk for their handle time in day time; agents answer
an offer after ``ring_s`` and finish after-call work after ``wrapup_s``. The waits the KPIs are
computed from (``acd.sim.kpi``) are day time too, measured from the enqueue to the connect the
adapter stream reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc

from acd.client import AcdClient, ServiceError, connect
from acd.demo.plan import DemoCaller, DemoPlan, demo_callers
from acd.sim.kpi import CallRecord, Kpis, compute_kpis
from acd.v1 import common_pb2

CONNECT_S = 3.0  # bound on reaching the service (loopback, usually)
READY_WAIT_S = 10.0  # bound on the agents' first steps (login, stream, ready)
DRAIN_S = 10.0  # bound on the callers still talking when the window ends
STATE_NAMES = {
    common_pb2.AGENT_STATE_LOGGED_OUT: "logged out",
    common_pb2.AGENT_STATE_NOT_READY: "not ready",
    common_pb2.AGENT_STATE_READY: "ready",
    common_pb2.AGENT_STATE_RESERVED: "ringing",
    common_pb2.AGENT_STATE_BUSY: "busy",
    common_pb2.AGENT_STATE_WRAP_UP: "wrap-up",
}


class DemoError(RuntimeError):
    """The demo could not run (no service, a token refused); a message for the command line."""


@dataclass
class DemoResult:
    kpis: Kpis
    answered_by: dict[str, int]
    refused: list[str] = field(default_factory=list)  # enqueues the service refused
    lines: int = 0  # live lines printed


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _clock(ms: int) -> str:
    minutes = ms // 60_000
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


class Demo:
    def __init__(
        self, plan: DemoPlan, callers: list[DemoCaller], out: Callable[[str], None]
    ) -> None:
        self.plan = plan
        self.callers = callers
        self.out = out
        self.records: dict[str, CallRecord] = {}
        self.connected: dict[str, asyncio.Event] = {}
        self.offered: set[str] = set()  # calls ringing at an agent now
        self.statuses: dict[str, common_pb2.AgentStatus] = {}
        self.refused: list[str] = []
        self.lines = 0
        self._t0 = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._adapter: AcdClient | None = None

    # ---- time -----------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The time of day now."""
        elapsed = asyncio.get_running_loop().time() - self._t0
        return self.plan.start_ms + round(elapsed * 1000 * self.plan.speed)

    def wall_s(self, day_ms: float) -> float:
        """Day milliseconds as wall seconds."""
        return day_ms / 1000 / self.plan.speed

    def left_s(self) -> float:
        """Wall seconds until the window ends."""
        return self.plan.wall_s - (asyncio.get_running_loop().time() - self._t0)

    async def sleep_until(self, day_ms: int) -> None:
        elapsed = asyncio.get_running_loop().time() - self._t0
        await asyncio.sleep(max(0.0, self.wall_s(day_ms - self.plan.start_ms) - elapsed))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def adapter(self) -> AcdClient:
        assert self._adapter is not None
        return self._adapter

    # ---- the run --------------------------------------------------------------------------

    async def run(self) -> DemoResult:
        plan = self.plan
        async with connect(plan.target, plan.adapter_token) as adapter:
            self._adapter = adapter
            try:
                await adapter.wait_ready(CONNECT_S)
            except TimeoutError:
                raise DemoError(
                    f"no service at {plan.target} (start one with `make run`)"
                ) from None
            background = [asyncio.create_task(self.watch(), name="decisions")]
            ready = {a: asyncio.Event() for a in plan.agent_tokens}
            for agent_id, token in plan.agent_tokens.items():
                playing = self.agent(agent_id, token, ready[agent_id])
                background.append(asyncio.create_task(playing, name=f"agent {agent_id}"))
            try:
                await self._started(ready, background)
                self.out(self._header())
                self._t0 = asyncio.get_running_loop().time()
                background.append(asyncio.create_task(self.report(), name="report"))
                for caller in self.callers:
                    await self.sleep_until(caller.arrival_ms)
                    self.spawn(self.caller(caller))
                await asyncio.sleep(max(0.0, self.left_s()))
                if self._tasks:  # callers hang up or end their calls now
                    await asyncio.wait(set(self._tasks), timeout=DRAIN_S)
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, *self._tasks, return_exceptions=True)
                await self.log_out()
        return self._summary()

    async def _started(
        self, ready: dict[str, asyncio.Event], tasks: list[asyncio.Task[None]]
    ) -> None:
        """Until every agent is logged in and ready; a task that fails first says why."""

        async def all_set() -> None:
            for event in ready.values():
                await event.wait()

        all_ready = asyncio.create_task(all_set(), name="ready")
        try:
            done, _ = await asyncio.wait(
                [all_ready, *tasks], timeout=READY_WAIT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            all_ready.cancel()
        for task in done:
            if task is not all_ready and not task.cancelled() and task.exception() is not None:
                raise DemoError(f"{task.get_name()}: {task.exception()}")
        if all_ready not in done:
            raise DemoError(f"the agents were not ready within {READY_WAIT_S:g} s")

    # ---- callers --------------------------------------------------------------------------

    async def caller(self, c: DemoCaller) -> None:
        record = CallRecord(c.call_id, self.now_ms())
        connected = self.connected[c.call_id] = asyncio.Event()
        self.records[c.call_id] = record
        try:
            await self.adapter.enqueue_call(c.call_id, c.queue_id, caller=c.caller_number)
        except ServiceError as e:
            del self.records[c.call_id]
            self.refused.append(f"{c.call_id}: {e}")
            return
        patience_s = math.inf if c.patience_ms is None else self.wall_s(c.patience_ms)
        left_s = self.left_s()
        try:
            await asyncio.wait_for(connected.wait(), max(0.0, min(patience_s, left_s)))
        except TimeoutError:
            try:
                await self.adapter.cancel_call(c.call_id)
            except ServiceError:  # answered meanwhile: the connect is on its way
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(connected.wait(), READY_WAIT_S)
            else:
                if patience_s < left_s:  # hung up; not merely cut off by the demo's end
                    record.left_ms, record.outcome = self.now_ms(), "abandoned"
                return
        await asyncio.sleep(max(0.0, min(self.wall_s(c.handle_ms), self.left_s())))
        with contextlib.suppress(ServiceError):
            await self.adapter.end_call(c.call_id)
            record.ended_ms = self.now_ms()

    async def watch(self) -> None:
        """The routing decisions of the demo's calls: offers ringing, calls connected."""
        stream = self.adapter.adapter_stream()
        try:
            async for decision in stream.decisions():
                kind = decision.WhichOneof("message")
                if kind == "offer" and (r := self.records.get(decision.offer.call_id)):
                    self.offered.add(r.call_id)
                    if r.first_offer_ms is None:
                        r.first_offer_ms = self.now_ms()
                elif kind == "revoked":
                    self.offered.discard(decision.revoked.call_id)
                elif kind == "connected" and (r := self.records.get(decision.connected.call_id)):
                    self.offered.discard(r.call_id)
                    r.answered_ms, r.agent_id = self.now_ms(), decision.connected.agent_id
                    self.connected[r.call_id].set()
        finally:
            await stream.close()  # the server ends the stream once its commands are answered

    # ---- agents ---------------------------------------------------------------------------

    async def agent(self, agent_id: str, token: str, ready: asyncio.Event) -> None:
        me = self.adapter.with_token(token)
        try:
            await me.login(agent_id)
        except ServiceError as e:
            if e.code is not grpc.StatusCode.FAILED_PRECONDITION:  # logged in already
                raise
        async with me.stream_offers(agent_id) as stream:
            async for message in stream:
                kind = message.WhichOneof("event")
                if kind == "snapshot":
                    self.statuses[agent_id] = message.snapshot.agent
                    for offer in message.snapshot.open_offers:
                        self.spawn(self.answer(me, offer.offer))
                    await self.get_ready(me, message.snapshot.agent)
                    ready.set()
                elif kind == "offer":
                    self.spawn(self.answer(me, message.offer.offer))
                elif kind == "state_changed":
                    status = self.statuses[agent_id] = message.state_changed.agent
                    if status.state == common_pb2.AGENT_STATE_WRAP_UP:
                        self.spawn(self.after_call(me, status))
                    elif status.state == common_pb2.AGENT_STATE_NOT_READY and ready.is_set():
                        await self.get_ready(me, status)  # paused by the service: back

    async def get_ready(self, me: AcdClient, status: common_pb2.AgentStatus) -> None:
        if status.state in (common_pb2.AGENT_STATE_NOT_READY, common_pb2.AGENT_STATE_WRAP_UP):
            await me.set_ready(status.agent_id)

    async def answer(self, me: AcdClient, offer: common_pb2.Offer) -> None:
        await asyncio.sleep(self.wall_s(self.plan.ring_s * 1000))
        with contextlib.suppress(ServiceError):  # the caller hung up while it rang
            await me.accept_offer(offer.agent_id, offer.call_id)

    async def after_call(self, me: AcdClient, status: common_pb2.AgentStatus) -> None:
        await asyncio.sleep(self.wall_s(self.plan.wrapup_s * 1000))
        with contextlib.suppress(ServiceError):  # a timed wrap-up may have ended first
            if status.call_ids:
                await me.finish_wrap_up(status.agent_id, status.call_ids[0], disposition="demo")
            else:
                await me.set_ready(status.agent_id)

    async def log_out(self) -> None:
        """The demo's agents leave: after-call work done, logged out (errors ignored)."""
        for agent_id, token in self.plan.agent_tokens.items():
            me = self.adapter.with_token(token)
            with contextlib.suppress(ServiceError):
                status = self.statuses.get(agent_id)
                if status is not None and status.state == common_pb2.AGENT_STATE_WRAP_UP:
                    await me.set_ready(agent_id)
                await me.logout(agent_id)

    # ---- the report -----------------------------------------------------------------------

    def kpis(self) -> Kpis:
        p = self.plan
        records = self.records.values()
        return compute_kpis(records, round(p.threshold_s * 1000), round(p.short_abandon_s * 1000))

    async def report(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.out(self._line())
            self.lines += 1

    def _header(self) -> str:
        p = self.plan
        end = p.start_ms + round(p.minutes * 60_000)
        return (
            f"acd demo: {_clock(p.start_ms)}-{_clock(end)} of the sample day at {p.speed:g}x"
            f" ({p.wall_s:.0f} s), {len(self.callers)} callers ({p.load:.0%} of the day's) into"
            f" {', '.join(p.queues)}; agents {', '.join(p.agent_tokens)}; service {p.target}"
        )

    def _line(self) -> str:
        k = self.kpis()
        waiting = sum(
            1 for r in self.records.values() if r.answered_ms is None and r.left_ms is None
        )
        agents = ", ".join(
            f"{a} {STATE_NAMES.get(s.state, '?')}" for a, s in sorted(self.statuses.items())
        )
        return (
            f"{_clock(min(self.now_ms(), self.plan.start_ms + round(self.plan.minutes * 60_000)))}"
            f"  waiting {waiting:3d}  offered {len(self.offered):2d}  answered {k.answered:4d}"
            f"  abandoned {k.abandoned:4d}  SL {_percent(k.sl_offered):>4}  | {agents}"
        )

    def _summary(self) -> DemoResult:
        k = self.kpis()
        by: dict[str, int] = dict.fromkeys(self.plan.agent_tokens, 0)
        for r in self.records.values():
            if r.agent_id is not None and r.answered_ms is not None:
                by[r.agent_id] = by.get(r.agent_id, 0) + 1
        asa = "-" if k.asa is None else f"{k.asa:.1f} s"
        self.out(
            f"acd demo: done. {k.offered} calls: {k.answered} answered (ASA {asa}),"
            f" {k.abandoned} abandoned ({k.short_abandoned} within"
            f" {self.plan.short_abandon_s:g} s), {k.waiting} still waiting at the end"
        )
        self.out(
            f"  service level {_percent(k.sl_offered)} (answered within"
            f" {self.plan.threshold_s:g} s of day time / answered + abandoned after"
            f" {self.plan.short_abandon_s:g} s); abandon rate {_percent(k.abandon_rate)}"
        )
        self.out("  answered by: " + ", ".join(f"{a} {n}" for a, n in by.items()))
        if self.refused:
            self.out(f"  {len(self.refused)} enqueues refused, the first: {self.refused[0]}")
        return DemoResult(k, by, self.refused, self.lines)


def run_demo(
    plan: DemoPlan,
    *,
    out: Callable[[str], None] = lambda line: print(line, flush=True),
    run_id: str | None = None,
) -> DemoResult:
    """Runs the demo to its end (``plan.wall_s`` plus a bounded drain); prints as it goes."""
    demo = Demo(plan, demo_callers(plan, run_id), out)
    result = asyncio.run(demo.run())
    if demo.callers and len(result.refused) == len(demo.callers):
        raise DemoError(f"the service refused every call, e.g. {result.refused[0]}")
    return result
