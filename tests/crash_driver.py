"""Kill the real service under traffic, restart it, and check that nothing acknowledged is lost
or doubled. Used by tests/test_server_crash.py (a few cycles) and ``make crash-test`` (many).

One cycle: ``acd serve`` runs as a subprocess (a config written here, a free loopback port, the
same data dir every cycle). Two adapters enqueue calls without pause (one by unary RPCs, one on
``AdapterStream``), some callers hang up, agents accept, talk, end and finish wrap-up, and a third
adapter stream watches the routing decisions. At a random moment (seeded) the server is killed
with SIGKILL by its pid. The journal is then replayed here, from the latest snapshot and from
the start, and both must agree; the server restarts on the same data dir and must show, through
SupervisionService (ListWaitingCalls, ListAgents) and the enqueue dedup:

- every acknowledged enqueue (the RPC or the stream ack returned OK) exactly once: waiting,
  offered, connected or in wrap-up, or finished as the answers and decisions seen said; a call
  finished for sure is not live again, a call not finished for sure is live, and enqueueing any
  acknowledged call again is a duplicate (the router still knows it);
- no agent with more than one call (voice: offers + connected <= 1), and during traffic no
  offer to an agent whose previous offer was still open.

    python tests/crash_driver.py --cycles 20 [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc

from acd.client import AcdClient, ServiceError, connect
from acd.server.auth import hash_token
from acd.server.journal import Journal
from acd.server.recovery import recover
from acd.v1 import common_pb2

TENANT = "store"
QUEUES = ("sales", "support")  # sales: wrap-up until done; support: a timed wrap-up
AGENTS = tuple(f"agent-{n}" for n in range(1, 7))
ADAPTERS = ("adapter-1", "adapter-2")
START_S = 60.0  # bound on the server becoming SERVING
SETTLE_S = 15.0  # bound on the client tasks ending after the kill
DEDUP_CHUNK = 500
GONE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})
R = TypeVar("R")

CONFIG = """
mode = "production"
[server]
listen = ["127.0.0.1:{port}"]
log_level = "warning"
[server.rate_limit]
requests_per_second = 0
[storage]
data_dir = "{data_dir}"
snapshot_every_entries = 25
snapshot_every_s = 0
[tenants.store]
skills = ["sales", "support"]
[[tenants.store.queues]]
id = "sales"
skills = {{ sales = 1 }}
wrapup = "until-done"
offer_timeout_s = 600
[[tenants.store.queues]]
id = "support"
skills = {{ support = 1 }}
wrapup = 0.02
offer_timeout_s = 600
"""


def token(name: str) -> str:
    return f"crash-{name}"


def write_config(path: Path, port: int, data_dir: Path) -> None:
    text = CONFIG.format(port=port, data_dir=data_dir.as_posix())
    for agent_id in AGENTS:
        text += f'[[tenants.store.agents]]\nid = "{agent_id}"\n'
        text += "skills = { sales = 5, support = 5 }\n"
    roles = {name: ("adapter", "") for name in ADAPTERS}
    roles["supervisor"] = ("supervisor", "")
    roles.update({agent_id: ("agent", agent_id) for agent_id in AGENTS})
    for name, (role, agent) in roles.items():
        text += f'[[tokens]]\nhash = "{hash_token(token(name))}"\ntenant = "{TENANT}"\n'
        text += f'name = "{name}"\nrole = "{role}"\n' + (f'agent = "{agent}"\n' if agent else "")
    path.write_text(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServerProcess:
    """``acd serve`` in a subprocess; ``close`` kills it if it is still running."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        config = workdir / "acd.toml"
        write_config(config, self.port, workdir / "data")
        self.log_path = workdir / "serve.log"
        with self.log_path.open("ab") as log:
            argv = [sys.executable, "-m", "acd.cli", "serve", "--config", str(config)]
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    async def wait_serving(self) -> None:
        deadline = time.monotonic() + START_S
        async with grpc.aio.insecure_channel(self.target) as channel:
            check: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
                "/grpc.health.v1.Health/Check"
            )
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"acd serve exited:\n{self.log_tail()}")
                try:
                    if await check(b"", timeout=1) == b"\x08\x01":  # status: SERVING
                        return
                except grpc.aio.AioRpcError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"acd serve not SERVING within {START_S} s:\n{self.log_tail()}")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(SETTLE_S)

    def stop(self) -> int:
        """Graceful stop (SIGTERM); gives the exit status."""
        self.process.terminate()
        return self.process.wait(SETTLE_S + 10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(SETTLE_S)


@dataclass
class Fate:
    """What the clients know of one call."""

    queue: str = ""  # empty: not sent by this driver (then a check says so)
    acked: bool = False  # the enqueue was acknowledged
    finished: bool = False  # an end or cancel was acknowledged, or its outcome was reported
    ending: bool = False  # an end or cancel went out without an answer: it may have happened
    history: list[str] = field(default_factory=list)  # what happened to it, for a report


@dataclass
class Report:
    cycles: int = 0
    acknowledged: int = 0
    lost: set[str] = field(default_factory=set)
    duplicated: set[str] = field(default_factory=set)
    double_offers: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # replay failures, odd answers

    def line(self, seed: int) -> str:
        return (
            f"crash-test: seed={seed} cycles={self.cycles} acknowledged={self.acknowledged}"
            f" lost={len(self.lost)} duplicated={len(self.duplicated)}"
            f" double_offers={len(self.double_offers)} problems={len(self.problems)}"
        )

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.double_offers or self.problems)


async def attempt(fn: Callable[[], Awaitable[R]]) -> R | None:
    """``fn()``; None when the server is gone (or going). Other refusals propagate."""
    try:
        return await fn()
    except ServiceError as e:
        if e.code in GONE:
            return None
        raise


class Cycle:
    """The traffic of one cycle against a running server, and what it learned."""

    def __init__(self, fates: dict[str, Fate], report: Report, rng: random.Random, n: int):
        self.fates = fates
        self.report = report
        self.rng = rng
        self.n = n
        self.stopping = False
        self.open_offers: dict[str, set[str]] = {a: set() for a in AGENTS}
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[None, None, None], name: str) -> None:
        self.tasks.add(asyncio.get_running_loop().create_task(coro, name=name))

    async def enqueue_unary(self, client: AcdClient, name: str) -> None:
        rng = random.Random(f"{self.rng.random()}:{name}")
        for i in range(1_000_000):
            if self.stopping:
                return
            call_id = f"{self.n}-{name}-{i}"
            fate = self.fates[call_id] = Fate(rng.choice(QUEUES))
            answer = await attempt(functools.partial(client.enqueue_call, call_id, fate.queue))
            if answer is None:
                return
            self.acked(call_id, fate, answer.duplicate)
            self.maybe_hang_up(client, call_id, fate, rng)
            await asyncio.sleep(rng.uniform(0, 0.003))

    async def enqueue_stream(self, client: AcdClient, name: str) -> None:
        rng = random.Random(f"{self.rng.random()}:{name}")
        async with client.adapter_stream(keep_decisions=False) as stream:
            for i in range(1_000_000):
                if self.stopping:
                    return
                call_id = f"{self.n}-{name}-{i}"
                fate = self.fates[call_id] = Fate(rng.choice(QUEUES))
                ack = await attempt(functools.partial(stream.enqueue_call, call_id, fate.queue))
                if ack is None:
                    return
                self.acked(call_id, fate, ack.duplicate)
                self.maybe_hang_up(client, call_id, fate, rng)
                await asyncio.sleep(rng.uniform(0, 0.003))

    def acked(self, call_id: str, fate: Fate, duplicate: bool) -> None:
        fate.acked = True
        fate.history.append(f"{self.n}: enqueue ok")
        self.report.acknowledged += 1
        if duplicate:
            self.report.problems.append(f"a new call {call_id} was taken for a duplicate")

    def maybe_hang_up(
        self, client: AcdClient, call_id: str, fate: Fate, rng: random.Random
    ) -> None:
        if rng.random() < 0.15:
            self.spawn(self.hang_up(client, call_id, fate, rng.uniform(0, 0.05)), call_id)

    async def hang_up(self, client: AcdClient, call_id: str, fate: Fate, after_s: float) -> None:
        await asyncio.sleep(after_s)
        if self.stopping:
            return
        await self.finish(fate, functools.partial(client.cancel_call, call_id))

    async def finish(self, fate: Fate, fn: Callable[[], Awaitable[object]]) -> None:
        """An end or cancel: finished when answered, unknown when the server went away, and
        nothing changed when refused (e.g. a hang-up that lost the race with an accept)."""
        fate.ending = True
        what = getattr(fn, "func", fn).__name__
        try:
            answer = await attempt(fn)
        except ServiceError as e:
            fate.ending = False
            fate.history.append(f"{self.n}: {what} refused {e.code.name}")
            return
        if answer is not None:
            fate.finished, fate.ending = True, False
        fate.history.append(f"{self.n}: {what} {'ok' if answer is not None else 'unanswered'}")

    async def agent(
        self, adapter: AcdClient, agent_id: str, status: common_pb2.AgentStatus
    ) -> None:
        me = adapter.with_token(token(agent_id))
        try:
            await self.leftovers(adapter, me, status)
            if status.state == common_pb2.AGENT_STATE_LOGGED_OUT:
                await me.login(agent_id)
            async with me.stream_offers(agent_id) as stream:
                async for message in stream:
                    kind = message.WhichOneof("event")
                    if kind == "snapshot":
                        for offer in message.snapshot.open_offers:
                            await self.answer(adapter, me, offer.offer)
                        await self.ready(me, agent_id)
                    elif kind == "offer":
                        await self.answer(adapter, me, message.offer.offer)
        except ServiceError as e:
            if e.code not in GONE:
                raise

    async def ready(self, me: AcdClient, agent_id: str) -> None:
        try:
            await me.set_ready(agent_id)
        except ServiceError as e:
            if e.code is not grpc.StatusCode.FAILED_PRECONDITION:  # Ready already
                raise

    async def leftovers(
        self, adapter: AcdClient, me: AcdClient, status: common_pb2.AgentStatus
    ) -> None:
        """A call still connected or in wrap-up from before the crash is ended now (a timed
        wrap-up ends by itself)."""
        for call_id in status.call_ids:
            fate = self.fates.setdefault(call_id, Fate())
            if status.state == common_pb2.AGENT_STATE_BUSY:
                await self.finish(fate, functools.partial(adapter.end_call, call_id))
            wrapping_up = (common_pb2.AGENT_STATE_BUSY, common_pb2.AGENT_STATE_WRAP_UP)
            if status.state in wrapping_up and fate.queue == "sales":
                await self.wrap_up(me, status.agent_id, call_id)

    async def wrap_up(self, me: AcdClient, agent_id: str, call_id: str) -> None:
        try:
            await me.finish_wrap_up(agent_id, call_id)
        except ServiceError as e:
            if e.code is not grpc.StatusCode.FAILED_PRECONDITION:  # a timed wrap-up ended
                raise

    async def answer(self, adapter: AcdClient, me: AcdClient, offer: common_pb2.Offer) -> None:
        try:
            await me.accept_offer(offer.agent_id, offer.call_id)
        except ServiceError as e:
            if e.code in GONE:
                raise
            return  # revoked meanwhile (the caller hung up)
        fate = self.fates.setdefault(offer.call_id, Fate())
        fate.history.append(f"{self.n}: accepted by {offer.agent_id}")
        await asyncio.sleep(self.rng.uniform(0, 0.02))
        await self.finish(fate, functools.partial(adapter.end_call, offer.call_id))
        if fate.finished and offer.queue_id == "sales":
            await self.wrap_up(me, offer.agent_id, offer.call_id)

    async def watch(self, adapter: AcdClient) -> None:
        """Routing decisions: outcomes reported, and offers to an agent with one open."""
        async with adapter.adapter_stream() as stream:
            try:
                async for decision in stream.decisions():
                    kind = decision.WhichOneof("message")
                    if kind == "offer":
                        offers = self.open_offers[decision.offer.agent_id]
                        if offers:
                            self.report.double_offers.append(
                                f"{decision.offer.agent_id}: {decision.offer.call_id}"
                                f" offered with {sorted(offers)} open"
                            )
                        offers.add(decision.offer.call_id)
                    elif kind == "revoked":
                        self.open_offers[decision.revoked.agent_id].discard(
                            decision.revoked.call_id
                        )
                    elif kind == "connected":
                        self.open_offers[decision.connected.agent_id].discard(
                            decision.connected.call_id
                        )
                    elif kind == "finished":
                        fate = self.fates.setdefault(decision.finished.call_id, Fate())
                        fate.finished, fate.ending = True, False
                        fate.history.append(f"{self.n}: finished {decision.finished.outcome}")
            except ServiceError as e:
                if e.code not in GONE:
                    raise


async def traffic(target: str, cycle: Cycle, kill: Callable[[], None], kill_after_s: float) -> None:
    """Runs the cycle's clients until the server is killed ``kill_after_s`` into it."""
    async with connect(target, token(ADAPTERS[0]), timeout_s=10) as adapter:
        supervisor = adapter.with_token(token("supervisor"))
        statuses = {a.agent_id: a for a in await supervisor.list_agents()}
        cycle.spawn(cycle.watch(adapter), "watch")
        for agent_id in AGENTS:
            cycle.spawn(cycle.agent(adapter, agent_id, statuses[agent_id]), agent_id)
        cycle.spawn(cycle.enqueue_unary(adapter, "unary-1"), "unary-1")
        second = adapter.with_token(token(ADAPTERS[1]))
        cycle.spawn(cycle.enqueue_unary(second, "unary-2"), "unary-2")
        cycle.spawn(cycle.enqueue_stream(adapter, "stream"), "stream")
        await asyncio.sleep(kill_after_s)
        kill()
        cycle.stopping = True
        done, pending = await asyncio.wait(cycle.tasks, timeout=SETTLE_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and (error := task.exception()) is not None:
                name = task.get_name()
                cycle.report.problems.append(f"client task {name} failed: {error!r}")


async def check_replay(data_dir: Path, report: Report) -> None:
    """The journal replays from its latest snapshot and from the start to the same router."""
    async with Journal(data_dir / "journal.sqlite3") as journal:
        try:
            from_snapshot = recover(journal, TENANT)
            in_full = recover(journal, TENANT, use_snapshot=False)
        except Exception as e:
            report.problems.append(f"journal replay failed: {e!r}")
            return
        last = journal.last_seq(TENANT)
    if not from_snapshot.seq == in_full.seq == last:
        report.problems.append(f"replay reached {from_snapshot.seq}/{in_full.seq} of {last}")
    if from_snapshot.router.snapshot() != in_full.router.snapshot():
        report.problems.append(f"replay from the snapshot and in full differ (seq {last})")


async def check_presence(target: str, fates: dict[str, Fate], report: Report) -> None:
    """After a restart: every call where the clients' knowledge says it must be."""
    async with connect(target, token("supervisor"), timeout_s=30) as supervisor:
        waiting = await supervisor.list_waiting_calls()
        agents = await supervisor.list_agents()
        where: Counter[str] = Counter(c.call_id for c in waiting)
        offers: Counter[str] = Counter()
        for call in waiting:
            offers.update(call.offered_agent_ids)
            if call.state == common_pb2.CALL_STATE_OFFERED and len(call.offered_agent_ids) != 1:
                report.double_offers.append(f"{call.call_id} offered to {call.offered_agent_ids}")
        offered = {(c.call_id, a) for c in waiting for a in c.offered_agent_ids}
        wrapping_up: set[str] = set()  # ended, the agent's after-call work still open
        for agent in agents:
            if len(agent.call_ids) > 1 or offers[agent.agent_id] > 1:
                report.double_offers.append(f"{agent.agent_id} holds {list(agent.call_ids)}")
            for call_id in agent.call_ids:
                if (call_id, agent.agent_id) in offered:
                    continue  # the same offer as in the waiting list
                where[call_id] += 1
                if agent.state == common_pb2.AGENT_STATE_WRAP_UP:
                    wrapping_up.add(call_id)
        for call_id, count in where.items():
            fate = fates.get(call_id)
            if fate is None or not fate.queue:
                report.problems.append(f"{call_id} live, but no client ever sent it")
                continue
            if count > 1 or (fate.finished and call_id not in wrapping_up):
                report.duplicated.add(call_id)
                why = "finished, yet live" if count == 1 else f"present {count} times"
                report.problems.append(f"{call_id}: {why} ({'; '.join(fate.history)})")
        for call_id, fate in fates.items():
            if fate.acked and not fate.finished and not fate.ending and call_id not in where:
                report.lost.add(call_id)
        # Every acknowledged call is known to the router (live, or finished within the dedup
        # window): enqueued again, it must be a duplicate.
        adapter = supervisor.with_token(token(ADAPTERS[0]))
        acked = [c for c, fate in fates.items() if fate.acked]
        for i in range(0, len(acked), DEDUP_CHUNK):
            chunk = acked[i : i + DEDUP_CHUNK]
            calls = [common_pb2.Call(call_id=c, queue_id=QUEUES[0]) for c in chunk]
            answer = await adapter.enqueue_calls(calls)
            for call_id, result in zip(chunk, answer.results, strict=True):
                if result.HasField("error"):
                    report.problems.append(f"re-enqueue of {call_id}: {result.error.message}")
                elif not result.duplicate:
                    report.lost.add(call_id)
                    fates[call_id].finished = False  # it is live again now


def run_cycles(workdir: Path, cycles: int, seed: int, log: Callable[[str], None] = print) -> Report:
    """``cycles`` kill-and-restart cycles in ``workdir``; the report says what went wrong."""
    rng = random.Random(seed)
    report = Report()
    fates: dict[str, Fate] = {}
    workdir.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(workdir)
    try:
        asyncio.run(server.wait_serving())
        for n in range(1, cycles + 1):
            cycle = Cycle(fates, report, random.Random(rng.random()), n)
            kill_after = rng.uniform(0.05, 1.5)
            asyncio.run(traffic(server.target, cycle, server.kill, kill_after))
            asyncio.run(check_replay(workdir / "data", report))
            server = ServerProcess(workdir)
            asyncio.run(server.wait_serving())
            asyncio.run(check_presence(server.target, fates, report))
            report.cycles = n
            log(f"cycle {n}: killed after {kill_after:.2f} s; {report.line(seed)}")
        status = server.stop()
        if status != 0:
            report.problems.append(f"acd serve exited {status} on SIGTERM:\n{server.log_tail()}")
        asyncio.run(check_replay(workdir / "data", report))
    finally:
        server.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary dir")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"crash-test: seed {seed} (--seed {seed} repeats the kill times)", flush=True)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="acd-crash-") as tmp:
        workdir = args.workdir or Path(tmp)
        report = run_cycles(workdir, args.cycles, seed, log=lambda _: None)
    for problem in [*report.problems, *report.double_offers][:20]:
        print(f"  {problem}")
    for kind, ids in (("lost", report.lost), ("duplicated", report.duplicated)):
        if ids:
            print(f"  {kind}: {sorted(ids)[:20]}")
    print(report.line(seed), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
